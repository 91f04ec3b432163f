package catalog

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// The input kinds an adapter's inputs column holds: the adapter file's
// "inputs" metadata entry (engine/adapter's SingleText and TextPair).
const (
	InputsSingle = "single" // one text per example: PREDICT('a', text)
	InputsPair   = "pair"   // two texts per example: PREDICT('a', text, text2)
)

// putInputs is the inputs value Put stores: the record's, checked, or when
// it names none the weights' metadata; NULL when neither says (weights
// that are no adapter file, as some tests store).
func putInputs(in string, weights []byte) (sql.NullString, error) {
	switch in {
	case InputsSingle, InputsPair:
		return sql.NullString{String: in, Valid: true}, nil
	case "":
		got, err := inputsOf(weights)
		return sql.NullString{String: got, Valid: err == nil}, nil
	}
	return sql.NullString{}, fmt.Errorf("unknown input kind %q (want %q or %q)", in, InputsSingle, InputsPair)
}

// inputsOf reads the input kind from a safetensors file's header: 8 bytes
// of little-endian header length, then a JSON object whose "__metadata__"
// holds "inputs" (absent in files made before pair adapters: single texts).
func inputsOf(weights []byte) (string, error) {
	if len(weights) < 8 {
		return "", fmt.Errorf("weights: %d bytes, no safetensors header", len(weights))
	}
	n := binary.LittleEndian.Uint64(weights[:8])
	if n > uint64(len(weights)-8) {
		return "", fmt.Errorf("weights: safetensors header of %d bytes in a file of %d", n, len(weights))
	}
	var header struct {
		Metadata map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(weights[8:8+n], &header); err != nil {
		return "", fmt.Errorf("weights: safetensors header: %w", err)
	}
	switch in := header.Metadata["inputs"]; in {
	case "":
		return InputsSingle, nil
	case InputsSingle, InputsPair:
		return in, nil
	default:
		return "", fmt.Errorf("weights: unknown input kind %q", in)
	}
}

// fillInputs sets the inputs column of rows written before it (or by an
// older release since) from their weights' metadata, in one transaction.
// A row whose checksum held keeps one, now covering inputs too; a row
// without one stays without; a damaged row stays damaged. Weights that are
// no adapter file leave the row's inputs NULL. Nothing is written when
// nothing is to be filled (the file may be read-only).
func (c *Catalog) fillInputs(ctx context.Context) error {
	// h: no head, so Active and KeepVersions read false and 0 (rows without
	// a head are filled too).
	rows, err := c.db.QueryContext(ctx, "SELECT "+recordColumns+`, a.write_stamp, a.weights
		FROM adapterdb_adapters a JOIN (SELECT 0 AS active, 0 AS keep_versions) h WHERE a.inputs IS NULL`)
	if err != nil {
		return FileError(err)
	}
	type fill struct {
		name    string
		version int64
		inputs  string
		sum     sql.NullInt64 // the new checksum
		old     sql.NullInt64 // the row's checksum and stamp as read
		stamp   sql.NullInt64
	}
	var fills []fill
	for rows.Next() {
		var blob []byte
		var stamp sql.NullInt64
		w, err := scanRaw(rows, &stamp, &blob)
		if err != nil {
			rows.Close()
			return fmt.Errorf("fill the adapters' inputs column: %w", FileError(err))
		}
		in, err := inputsOf(blob)
		if err != nil {
			c.log.Warn().Err(err).Str("adapter", w.rec.Name).Int64("version", w.rec.Version).Msg("adapter input kind unknown: left NULL")
			continue
		}
		f := fill{name: w.rec.Name, version: w.rec.Version, inputs: in, sum: w.sum, old: w.sum, stamp: stamp}
		if w.sum.Valid && w.sumHolds() { // it now covers inputs too; a damaged row stays damaged
			f.sum.Int64 = int64(rowSum(append(w.sumCols, in)...))
		}
		fills = append(fills, f)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return FileError(err)
	}
	rows.Close()
	if len(fills) == 0 {
		return nil
	}
	// Read first and written in one transaction only when there is
	// something to write; a row rewritten since (its checksum or stamp
	// changed) is left to the next open.
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	for _, f := range fills {
		if _, err := tx.ExecContext(ctx, `UPDATE adapterdb_adapters SET inputs = ?, record_crc32c = ?
			WHERE name = ? AND version = ? AND inputs IS NULL AND record_crc32c IS ? AND write_stamp IS ?`,
			f.inputs, f.sum, f.name, f.version, f.old, f.stamp); err != nil {
			return fmt.Errorf("fill the adapters' inputs column: %w", FileError(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return FileError(err)
	}
	c.log.Info().Int("rows", len(fills)).Msg("adapter catalog: inputs column filled from the stored files")
	return nil
}
