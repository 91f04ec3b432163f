package sqlfuncs

import (
	"context"

	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/sql"

	"github.com/adapterdb/adapterdb/engine/registry"
)

// DefaultDatabase is the database sessions start in (like SQLite's main), so
// CREATE TABLE works without USE.
const DefaultDatabase = "main"

// MemoryProvider is the interim provider of user tables: go-mysql-server's
// in-memory databases (lost when the process ends; the adapter catalog lives
// in the database file), with DefaultDatabase and the adapterdb catalog
// database.
func MemoryProvider(reg *registry.Registry) *memory.DbProvider {
	db := memory.NewDatabase(DefaultDatabase)
	db.EnablePrimaryKeyIndexes()
	pro := memory.NewDBProvider(db, NewCatalogDatabase(reg))
	pro.WithOption(memory.NativeIndexProvider(true))
	return pro
}

// MemorySessions makes sessions for a MemoryProvider, starting in
// DefaultDatabase.
func MemorySessions(pro *memory.DbProvider) SessionBuilder {
	return func(_ context.Context, client sql.Client, id uint32, addr string) (sql.Session, error) {
		s := memory.NewSession(sql.NewBaseSessionWithClientServer(addr, client, id), pro)
		s.SetCurrentDatabase(DefaultDatabase)
		return s, nil
	}
}
