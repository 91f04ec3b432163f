-- A database file as adapterdb made it before adapter versions (commit
-- 581bff7 and earlier): one row per adapter, the name its primary key, and
-- version the adapter's count of writes. catalog's TestMigrateVersions runs
-- this script on an empty file (with the sqlite3 driver), adds a row the way
-- that release's Put wrote it (with both checksums), and opens the file.
--
-- The tables, as that release's catalog.go and grants.go created them:
CREATE TABLE IF NOT EXISTS adapterdb_adapters (
	name             TEXT PRIMARY KEY COLLATE NOCASE,
	task             TEXT NOT NULL,
	labels           TEXT NOT NULL,      -- JSON array
	base_model       TEXT NOT NULL,      -- checkpoint path or "demo"
	base_fingerprint TEXT NOT NULL,
	model_type       TEXT NOT NULL,
	hidden_size      INTEGER NOT NULL,
	num_layers       INTEGER NOT NULL,
	adapter_size     INTEGER NOT NULL,
	activation       TEXT NOT NULL,
	pool             TEXT NOT NULL,
	options          TEXT NOT NULL,      -- JSON object
	metrics          TEXT NOT NULL,      -- JSON object
	params           INTEGER NOT NULL,
	size_bytes       INTEGER NOT NULL,
	sha256           TEXT NOT NULL,
	created_at       TEXT NOT NULL,      -- RFC 3339, UTC
	version          INTEGER NOT NULL,   -- 1, 2, ... per name: the writes since it was created
	write_stamp      INTEGER,            -- write time in ns, unique per write: what caches key on
	record_crc32c    INTEGER,            -- CRC-32C of the columns above (NULL in files written before it)
	weights          BLOB NOT NULL,      -- safetensors file
	weights_crc32c   INTEGER             -- CRC-32C of weights (NULL in files written before it)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_adapter_owners (
	adapter    TEXT PRIMARY KEY COLLATE NOCASE,
	user       TEXT NOT NULL,
	host       TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_adapter_grants (
	adapter    TEXT NOT NULL COLLATE NOCASE,
	user       TEXT NOT NULL,
	host       TEXT NOT NULL,
	privilege  TEXT NOT NULL CHECK (privilege IN ('EXECUTE', 'ALTER', 'DROP')),
	granted_at TEXT NOT NULL,    -- RFC 3339, UTC
	PRIMARY KEY (adapter, user, host, privilege)
) STRICT;

-- 'sentiment', replaced twice (version 3), written before the checksum
-- columns were filled (NULL: read unchecked), with a grant and an owner.
INSERT INTO adapterdb_adapters (name, task, labels, base_model, base_fingerprint, model_type, hidden_size,
	num_layers, adapter_size, activation, pool, options, metrics, params, size_bytes, sha256, created_at,
	version, write_stamp, record_crc32c, weights, weights_crc32c)
VALUES ('sentiment', 'classification', '["neg","pos"]', 'demo', 'fp', 'bert', 8, 2, 4, 'gelu', 'cls',
	'{"epochs":"3"}', '{"epochs":3}', 100, 16, 'c0ffee', '2026-01-02T03:04:05Z', 3, 1767322245000000000,
	NULL, CAST('sentiment v3 w..' AS BLOB), NULL);
INSERT INTO adapterdb_adapter_owners (adapter, user, host) VALUES ('sentiment', 'bob', '%');
INSERT INTO adapterdb_adapter_grants (adapter, user, host, privilege, granted_at)
VALUES ('sentiment', 'amy', '%', 'EXECUTE', '2026-01-02T03:04:05Z');

-- 'ancient', from before write_stamp: version held the write time in ns.
INSERT INTO adapterdb_adapters (name, task, labels, base_model, base_fingerprint, model_type, hidden_size,
	num_layers, adapter_size, activation, pool, options, metrics, params, size_bytes, sha256, created_at,
	version, write_stamp, record_crc32c, weights, weights_crc32c)
VALUES ('ancient', 'regression', '[]', 'demo', 'fp', 'bert', 8, 2, 4, 'gelu', 'mean',
	'{}', '{}', 100, 15, 'beef', '2025-06-01T00:00:00Z', 1796394196163182345, NULL,
	NULL, CAST('ancient weights' AS BLOB), NULL);
