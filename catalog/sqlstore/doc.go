// Package sqlstore is go-mysql-server's storage engine for adapterdb: a
// database provider (NewProvider) whose databases, tables, indexes, views,
// triggers and procedures live in the adapter catalog's SQLite file, next to
// the adapters, so one file holds everything. go-mysql-server parses, plans
// and executes SQL; this package stores rows, answers index lookups from
// SQLite's indexes, runs transactions as SQLite transactions, pushes simple
// filters and aggregates into SQLite (InstallRules), and bulk-loads CSV
// (Provider.Import).
//
// It depends on package catalog (for the open file), never the reverse: the
// adapter store and the inference engine know no SQL engine.
package sqlstore
