package sqlstore

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
)

// Events (CREATE EVENT) are stored with the schema; whether they run is up to
// the engine's event scheduler, which the SQL layer may start.

var _ sql.EventDatabase = (*Database)(nil)

// GetEvent implements sql.EventDatabase.
func (d *Database) GetEvent(ctx *sql.Context, name string) (sql.EventDefinition, bool, error) {
	dd, err := d.def(ctx)
	if err != nil {
		return sql.EventDefinition{}, false, err
	}
	ev, ok := dd.events[lower(name)]
	return ev, ok, nil
}

// GetEvents implements sql.EventDatabase; the token is the schema version.
func (d *Database) GetEvents(ctx *sql.Context) ([]sql.EventDefinition, interface{}, error) {
	snap := d.p.schemaFor(ctx)
	dd, ok := snap.db(d.name)
	if !ok {
		return nil, nil, sql.ErrDatabaseNotFound.New(d.name)
	}
	out := make([]sql.EventDefinition, 0, len(dd.events))
	for _, ev := range dd.events {
		out = append(out, ev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, snap.version, nil
}

func putEvent(c *sqliteConn, db string, ev sql.EventDefinition) error {
	js, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = c.exec("INSERT INTO adapterdb_events (db_key, name_key, definition) VALUES (?,?,?)",
		lower(db), lower(ev.Name), string(js))
	return mapError(err, ev.Name)
}

// SaveEvent implements sql.EventDatabase.
func (d *Database) SaveEvent(ctx *sql.Context, ev sql.EventDefinition) (bool, error) {
	err := d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		if _, ok := dd.events[lower(ev.Name)]; ok {
			return sql.ErrEventAlreadyExists.New(ev.Name)
		}
		return putEvent(c, d.name, ev)
	})
	return err == nil && ev.Status == sql.EventStatus_Enable.String(), err
}

// DropEvent implements sql.EventDatabase.
func (d *Database) DropEvent(ctx *sql.Context, name string) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		if _, ok := dd.events[lower(name)]; !ok {
			return sql.ErrEventDoesNotExist.New(name)
		}
		_, err := c.exec("DELETE FROM adapterdb_events WHERE db_key = ? AND name_key = ?", lower(d.name), lower(name))
		return mapError(err, name)
	})
}

// UpdateEvent implements sql.EventDatabase.
func (d *Database) UpdateEvent(ctx *sql.Context, original string, ev sql.EventDefinition) (bool, error) {
	err := d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		if _, ok := dd.events[lower(original)]; !ok {
			return sql.ErrEventDoesNotExist.New(original)
		}
		if !strings.EqualFold(original, ev.Name) {
			if _, ok := dd.events[lower(ev.Name)]; ok {
				return sql.ErrEventAlreadyExists.New(ev.Name)
			}
		}
		if _, err := c.exec("DELETE FROM adapterdb_events WHERE db_key = ? AND name_key = ?", lower(d.name), lower(original)); err != nil {
			return mapError(err, original)
		}
		return putEvent(c, d.name, ev)
	})
	return err == nil && ev.Status == sql.EventStatus_Enable.String(), err
}

// UpdateLastExecuted implements sql.EventDatabase.
func (d *Database) UpdateLastExecuted(ctx *sql.Context, name string, at time.Time) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		ev, ok := dd.events[lower(name)]
		if !ok {
			return sql.ErrEventDoesNotExist.New(name)
		}
		ev.LastExecuted = at
		if _, err := c.exec("DELETE FROM adapterdb_events WHERE db_key = ? AND name_key = ?", lower(d.name), lower(name)); err != nil {
			return mapError(err, name)
		}
		return putEvent(c, d.name, ev)
	})
}

// NeedsToReloadEvents implements sql.EventDatabase: events changed when the
// schema version did (another process may have changed them).
func (d *Database) NeedsToReloadEvents(ctx *sql.Context, token interface{}) (bool, error) {
	v, ok := token.(int64)
	return !ok || v != d.p.schemaFor(ctx).version, nil
}
