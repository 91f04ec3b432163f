package sqlstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/planbuilder"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/vt/proto/query"
	"github.com/shopspring/decimal"

	"github.com/adapterdb/adapterdb/internal/sqljson"
)

// This file maps MySQL column types onto SQLite storage and back. SQLite's
// types are too loose to describe a MySQL column, so the exact MySQL type is
// kept in adapterdb_columns (as GMS prints it) and each column gets a codec
// that writes values in a form SQLite orders the way MySQL does. The full
// table is in docs/storage.md.

// storage is how a column's values sit in the (STRICT) SQLite table.
type storage uint8

const (
	stInt      storage = iota // INTEGER: integers up to 63 bits, YEAR, ENUM index, TIME in microseconds
	stUint64                  // ANY: BIGINT UNSIGNED, BIT, SET: INTEGER when <= 2^63-1, else 20-digit TEXT
	stReal                    // REAL: FLOAT, DOUBLE
	stDecimal                 // TEXT COLLATE adb_decimal: canonical fixed-scale decimal text
	stDate                    // TEXT 'YYYY-MM-DD'
	stDatetime                // TEXT 'YYYY-MM-DD hh:mm:ss[.f…]' with the column's fraction digits
	stText                    // TEXT with the column's collation
	stBlob                    // BLOB: BINARY, VARBINARY, BLOB
	stJSON                    // TEXT: MySQL's JSON text form
	stGeometry                // BLOB: GMS's geometry serialization (SRID + WKB)
)

// codec converts one column's values between GMS and SQLite.
type codec struct {
	typ     sql.Type
	qt      query.Type
	st      storage
	coll    string // SQLite collation for stText ("" = BINARY)
	scale   int32  // stDecimal
	layout  string // stDatetime, stDate
	virtual bool   // generated VIRTUAL column: not stored
}

// uint64Text is the width of the zero-padded text form of unsigned values
// above 2^63-1; all such values have 19 or 20 digits, so padding to 20 keeps
// text order equal to numeric order, and SQLite sorts every INTEGER before
// every TEXT, so the mixed column stays ordered.
const uint64Text = 20

func newCodec(t sql.Type) (*codec, error) {
	c := &codec{typ: t, qt: t.Type()}
	switch c.qt {
	case query.Type_INT8, query.Type_INT16, query.Type_INT24, query.Type_INT32, query.Type_INT64,
		query.Type_UINT8, query.Type_UINT16, query.Type_UINT24, query.Type_UINT32,
		query.Type_YEAR, query.Type_ENUM, query.Type_TIME:
		c.st = stInt
	case query.Type_UINT64, query.Type_BIT, query.Type_SET:
		c.st = stUint64
	case query.Type_FLOAT32, query.Type_FLOAT64:
		c.st = stReal
	case query.Type_DECIMAL:
		dt, ok := t.(sql.DecimalType)
		if !ok {
			return nil, fmt.Errorf("unsupported decimal type %s", t)
		}
		c.st, c.scale = stDecimal, int32(dt.Scale())
	case query.Type_DATE:
		c.st, c.layout = stDate, "2006-01-02"
	case query.Type_DATETIME, query.Type_TIMESTAMP:
		c.st, c.layout = stDatetime, "2006-01-02 15:04:05"
		if dt, ok := t.(sql.DatetimeType); ok && dt.Precision() > 0 {
			c.layout += "." + strings.Repeat("0", dt.Precision())
		}
	case query.Type_CHAR, query.Type_VARCHAR, query.Type_TEXT:
		c.st = stText
		if tc, ok := t.(sql.TypeWithCollation); ok {
			c.coll = sqliteCollationName(tc.Collation())
		}
	case query.Type_BINARY, query.Type_VARBINARY, query.Type_BLOB:
		c.st = stBlob
	case query.Type_JSON:
		c.st = stJSON
	case query.Type_GEOMETRY:
		c.st = stGeometry
	default:
		return nil, fmt.Errorf("column type %s is not supported by adapterdb tables", t)
	}
	return c, nil
}

// decl is the column's declared type in the STRICT SQLite table.
func (c *codec) decl() string {
	switch c.st {
	case stInt:
		return "INTEGER"
	case stUint64:
		return "ANY"
	case stReal:
		return "REAL"
	case stDecimal:
		return "TEXT COLLATE " + decimalCollation
	case stDate, stDatetime, stJSON:
		return "TEXT"
	case stText:
		if c.coll != "" {
			return "TEXT COLLATE " + qi(c.coll)
		}
		return "TEXT"
	}
	return "BLOB"
}

// ordered reports whether SQLite orders and compares the stored values
// exactly as MySQL orders the column's values, so ranges, filters and ORDER BY
// can be answered by SQLite.
func (c *codec) ordered() bool {
	return c.st != stJSON && c.st != stGeometry
}

// encode converts a GMS value of the column's type to its stored form.
func (c *codec) encode(ctx context.Context, v any) (driver.Value, error) {
	if v == nil {
		return nil, nil
	}
	if w, ok := v.(sql.AnyWrapper); ok {
		u, err := w.UnwrapAny(ctx)
		if err != nil {
			return nil, err
		}
		v = u
	}
	out, ok := c.encodeExact(v)
	if ok {
		return out, nil
	}
	// Not already in the column's Go type: let the type convert it.
	cv, _, err := c.typ.Convert(ctx, v)
	if err != nil {
		return nil, err
	}
	if out, ok = c.encodeExact(cv); !ok {
		return nil, fmt.Errorf("cannot store %T value in %s column", v, c.typ)
	}
	return out, nil
}

// encodeExact handles values already of the column's Go representation.
func (c *codec) encodeExact(v any) (driver.Value, bool) {
	switch c.st {
	case stInt:
		switch x := v.(type) {
		case int8:
			return int64(x), true
		case int16:
			return int64(x), true
		case int32:
			return int64(x), true
		case int64:
			return x, true
		case int:
			return int64(x), true
		case uint8:
			return int64(x), true
		case uint16:
			return int64(x), true
		case uint32:
			return int64(x), true
		case types.Timespan:
			return int64(x), true
		}
	case stUint64:
		switch x := v.(type) {
		case uint64:
			return encodeUint64(x), true
		case uint32:
			return int64(x), true
		}
	case stReal:
		switch x := v.(type) {
		case float64:
			return x, true
		case float32:
			return float64(x), true
		}
	case stDecimal:
		if d, ok := v.(decimal.Decimal); ok {
			return d.StringFixed(c.scale), true
		}
	case stDate, stDatetime:
		if t, ok := v.(time.Time); ok {
			return t.UTC().Format(c.layout), true
		}
	case stText:
		switch x := v.(type) {
		case string:
			return x, true
		}
	case stBlob:
		switch x := v.(type) {
		case []byte:
			return x, true
		case string:
			return []byte(x), true
		}
	case stJSON:
		// sqljson's writer, not go-mysql-server's: that one leaves object
		// keys unescaped, and the row could not be read back.
		if j, ok := v.(sql.JSONWrapper); ok {
			s, err := sqljson.Marshal(j)
			if err != nil {
				return nil, false
			}
			return s, true
		}
	case stGeometry:
		if g, ok := v.(types.GeometryValue); ok {
			return g.Serialize(), true
		}
	}
	return nil, false
}

func encodeUint64(x uint64) driver.Value {
	if x <= math.MaxInt64 {
		return int64(x)
	}
	s := strconv.FormatUint(x, 10)
	return strings.Repeat("0", uint64Text-len(s)) + s
}

// decode converts a stored value back to the column's GMS representation.
func (c *codec) decode(ctx context.Context, v driver.Value) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.st {
	case stInt:
		i, ok := v.(int64)
		if !ok {
			return nil, c.corrupt(v)
		}
		switch c.qt {
		case query.Type_INT8:
			return int8(i), nil
		case query.Type_INT16:
			return int16(i), nil
		case query.Type_INT24, query.Type_INT32:
			return int32(i), nil
		case query.Type_INT64:
			return i, nil
		case query.Type_UINT8:
			return uint8(i), nil
		case query.Type_UINT16:
			return uint16(i), nil
		case query.Type_UINT24, query.Type_UINT32:
			return uint32(i), nil
		case query.Type_YEAR:
			return int16(i), nil
		case query.Type_ENUM:
			return uint16(i), nil
		case query.Type_TIME:
			return types.Timespan(i), nil
		}
	case stUint64:
		switch x := v.(type) {
		case int64:
			return uint64(x), nil
		case string:
			u, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return nil, c.corrupt(v)
			}
			return u, nil
		}
	case stReal:
		f, ok := v.(float64)
		if !ok {
			if i, isInt := v.(int64); isInt {
				f, ok = float64(i), true
			}
		}
		if !ok {
			return nil, c.corrupt(v)
		}
		if c.qt == query.Type_FLOAT32 {
			return float32(f), nil
		}
		return f, nil
	case stDecimal:
		s, ok := v.(string)
		if !ok {
			return nil, c.corrupt(v)
		}
		d, err := decimal.NewFromString(s)
		if err != nil {
			return nil, c.corrupt(v)
		}
		return d, nil
	case stDate, stDatetime:
		s, ok := v.(string)
		if !ok {
			return nil, c.corrupt(v)
		}
		t, err := parseStoredTime(s)
		if err != nil {
			return nil, c.corrupt(v)
		}
		return t, nil
	case stText:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case stBlob:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case stJSON:
		s, ok := v.(string)
		if !ok {
			return nil, c.corrupt(v)
		}
		// The stored text is what the wire and the driver send.
		return sqljson.FromText(s), nil
	case stGeometry:
		b, ok := v.([]byte)
		if !ok {
			return nil, c.corrupt(v)
		}
		g, _, err := c.typ.Convert(ctx, b)
		if err != nil {
			return nil, c.corrupt(v)
		}
		return g, nil
	}
	return nil, c.corrupt(v)
}

func (c *codec) corrupt(v driver.Value) error {
	return fmt.Errorf("stored value %.40q (%T) is not a valid %s: the table was changed outside adapterdb", fmt.Sprint(v), v, c.typ)
}

// parseStoredTime parses 'YYYY-MM-DD[ hh:mm:ss[.ffffff]]' in UTC without the
// generality (and cost) of time.Parse.
func parseStoredTime(s string) (time.Time, error) {
	bad := fmt.Errorf("bad stored time %q", s)
	num := func(from, to int) (int, bool) {
		if to > len(s) {
			return 0, false
		}
		n := 0
		for i := from; i < to; i++ {
			d := s[i]
			if d < '0' || d > '9' {
				return 0, false
			}
			n = n*10 + int(d-'0')
		}
		return n, true
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, bad
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, bad
	}
	var h, mi, sec, nsec int
	if len(s) > 10 {
		if len(s) < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
			return time.Time{}, bad
		}
		var ok4, ok5, ok6 bool
		h, ok4 = num(11, 13)
		mi, ok5 = num(14, 16)
		sec, ok6 = num(17, 19)
		if !ok4 || !ok5 || !ok6 {
			return time.Time{}, bad
		}
		if len(s) > 19 {
			if s[19] != '.' || len(s) > 29 {
				return time.Time{}, bad
			}
			frac, ok := num(20, len(s))
			if !ok {
				return time.Time{}, bad
			}
			for i := len(s) - 20; i < 9; i++ {
				frac *= 10
			}
			nsec = frac
		}
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.UTC), nil
}

// encodeKey converts a lookup key (already converted to the column type by
// GMS's range builder, or a literal of a matching kind) to its stored form.
// ok is false when the key cannot be compared exactly in SQLite.
func (c *codec) encodeKey(ctx context.Context, v any) (driver.Value, bool) {
	if v == nil || !c.ordered() {
		return nil, false
	}
	if w, isW := v.(sql.AnyWrapper); isW {
		u, err := w.UnwrapAny(ctx)
		if err != nil {
			return nil, false
		}
		v = u
	}
	if out, ok := c.encodeExact(v); ok {
		return out, true
	}
	// Keys come converted to the column type except for strings, which the
	// range builder promotes (to LONGTEXT, keeping the collation): any string
	// works for a text column.
	if c.st == stText {
		switch x := v.(type) {
		case []byte:
			return string(x), true
		}
	}
	return nil, false
}

// typeString is the MySQL type text stored in adapterdb_columns. Character
// set and collation are always spelled out, so the text means the same type
// whatever the table's default collation.
func typeString(t sql.Type) string {
	if sc, ok := t.(sql.SpatialColumnType); ok {
		if srid, defined := sc.GetSpatialTypeSRID(); defined {
			return t.String() + " SRID " + strconv.FormatUint(uint64(srid), 10)
		}
	}
	if tc, ok := t.(sql.TypeWithCollation); ok {
		return tc.StringWithTableCollation(sql.Collation_Unspecified)
	}
	return t.String()
}

// resolveCollation gives a string type without a collation the table's.
func resolveCollation(t sql.Type, table sql.CollationID) (sql.Type, error) {
	tc, ok := t.(sql.TypeWithCollation)
	if !ok || tc.Collation() != sql.Collation_Unspecified {
		return t, nil
	}
	if table == sql.Collation_Unspecified {
		table = sql.Collation_Default
	}
	return tc.WithNewCollation(table)
}

// parseTypeString is the inverse of typeString.
func parseTypeString(s string) (sql.Type, error) {
	t, err := planbuilder.ParseColumnTypeString(s)
	if err != nil {
		return nil, fmt.Errorf("stored column type %q: %w", s, err)
	}
	return t, nil
}

// maxRowLength mirrors InnoDB's row size limit (65,535 bytes, counted the way
// MySQL counts declared widths), so CREATE/ALTER TABLE fail as in MySQL.
func rowLength(sch sql.Schema) int64 {
	var n int64
	for _, col := range sch {
		switch t := col.Type.(type) {
		case sql.NumberType:
			n += 8
		case sql.StringType:
			if types.IsTextBlob(t) {
				n += 16
			} else {
				n += t.MaxByteLength()
			}
		case types.BitType:
			n += 8
		case sql.DatetimeType:
			n += 8
		case sql.DecimalType:
			n += int64(t.MaximumScale())
		case sql.EnumType:
			n += 2
		case types.JsonType:
			n += 20
		case types.TimeType:
			n += 16
		case sql.YearType:
			n += 8
		default:
			n += 8
		}
	}
	return n
}
