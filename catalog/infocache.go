package catalog

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"sync"
)

// infoCache keeps the records Info read while the file is unchanged. Every
// PREDICT resolves its adapter (while the query is planned, and again when
// its rows run), and reading and checking the record was a third of the SQL
// layer's time on a one-row query. SQLite's data_version, read on a
// connection of the cache's own, changes whenever another connection commits
// — this process's writes (they go through the pool's other connections)
// and other processes' alike — so a cached record is used only while no
// commit has happened since it was read: no stale reads, and a row damaged
// by an outside edit is read (and refused) again.
type infoCache struct {
	mu      sync.Mutex
	conn    *sql.Conn // nil until first used; data_version is per connection
	version int64     // data_version the records were read under
	recs    map[string]Record
}

// maxInfoCache bounds the cache (distinct references); past it, it starts over.
const maxInfoCache = 1024

// dataVersion reads data_version on the cache's connection. Called with mu held.
func (ic *infoCache) dataVersion(ctx context.Context, db *sql.DB) (int64, error) {
	if ic.conn == nil {
		conn, err := db.Conn(ctx)
		if err != nil {
			return 0, err
		}
		ic.conn = conn
	}
	var v int64
	if err := ic.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		ic.conn.Close() // a fresh connection next time
		ic.conn = nil
		return 0, err
	}
	return v, nil
}

// get returns the cached record of ref and the data_version a record read
// now must be stored under (ok false: read it). A failed data_version read
// disables the cache for this call (version -1).
func (ic *infoCache) get(ctx context.Context, db *sql.DB, ref string) (rec Record, version int64, ok bool) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	v, err := ic.dataVersion(ctx, db)
	if err != nil {
		return Record{}, -1, false
	}
	if v != ic.version || ic.recs == nil {
		ic.version, ic.recs = v, map[string]Record{}
	}
	r, ok := ic.recs[ref]
	return r.clone(), v, ok
}

// put stores a record read after get returned version, unless a commit has
// been seen since.
func (ic *infoCache) put(ref string, version int64, r Record) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if version < 0 || version != ic.version || ic.recs == nil {
		return
	}
	if len(ic.recs) >= maxInfoCache {
		clear(ic.recs)
	}
	ic.recs[ref] = r.clone()
}

func (ic *infoCache) close() {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.conn != nil {
		ic.conn.Close()
		ic.conn, ic.recs = nil, nil
	}
}

// clone copies the record's slices and maps, so that callers of Info never
// share them with the cache.
func (r Record) clone() Record {
	r.Labels = slices.Clone(r.Labels)
	r.Options = maps.Clone(r.Options)
	r.Metrics = slices.Clone(r.Metrics)
	return r
}
