#!/usr/bin/env bash
# End-to-end SQL tests against the real binary with real clients: the MariaDB
# command-line client and Python's PyMySQL (Debian packages mariadb-client and
# python3-pymysql; `make deps` installs them). `make test` runs this script.
#
#   bash testdata/e2e/sql.sh bin/adapterdb
#
# It starts `adapterdb serve` on the bert-tiny test checkpoint and a fresh
# database file, and checks functions, statements, errors, NULLs, unicode,
# prepared statements, KILL QUERY, a client disconnecting mid-query, the
# loopback rule and a clean shutdown.
set -euo pipefail

source "$(dirname "$0")/lib.bash"

start_server

QUICK="OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8)"
sql "CREATE TABLE reviews (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10), score DOUBLE, tags JSON);
INSERT INTO reviews VALUES
 (1, 'a wonderful delightful film', 'pos', 4.5, '[\"fun\",\"warm\"]'), (2, 'terrible boring awful', 'neg', 1.0, '[\"dull\"]'),
 (3, 'delightful and wonderful', 'pos', 4.8, '[\"warm\"]'), (4, 'awful, terrible acting', 'neg', 1.5, '[\"dull\",\"bad\"]'),
 (5, 'wonderful cast', 'pos', 4.1, '[\"fun\"]'), (6, 'boring plot', 'neg', 2.0, '[\"dull\"]'),
 (7, 'great wonderful fun', 'pos', 4.9, '[\"fun\"]'), (8, 'dull awful mess', 'neg', 1.2, '[\"bad\"]'),
 (9, 'très bien, 素晴らしい 👍', NULL, NULL, NULL), (10, NULL, NULL, NULL, NULL);"
sql "CREATE ADAPTER sent $QUICK AS SELECT txt, label FROM reviews WHERE id <= 8;
CREATE ADAPTER stars $QUICK AS SELECT txt, score FROM reviews WHERE id <= 8;
CREATE ADAPTER tags $QUICK AS SELECT txt, tags FROM reviews WHERE id <= 8;" || fail "CREATE ADAPTER"
pass "CREATE ADAPTER (classification, regression, multilabel)"

got=$(sql "SHOW ADAPTERS" | cut -f1-4)
[ "$got" = $'sent\tclassification\tsingle\t["neg", "pos"]\nstars\tregression\tsingle\t[]\ntags\tmultilabel\tsingle\t["bad", "dull", "fun", "warm"]' ] || fail "SHOW ADAPTERS: $got"
pass "SHOW ADAPTERS"
expect "SELECT name, task FROM adapterdb.adapters ORDER BY name" $'sent\tclassification\nstars\tregression\ntags\tmultilabel'
# docs/sql.md's adapterdb.adapters example (inputs and task keep the join to what it can call).
expect "SELECT a.name, COUNT(*) > 5 FROM adapterdb.adapters a JOIN reviews r ON PREDICT(a.name, r.txt) = r.label
  WHERE a.inputs = 'single' AND a.task = 'classification' GROUP BY a.name" $'sent\t1'
expect "SELECT AVG(PREDICT('sent', txt) = label) >= 0.75 FROM reviews WHERE id <= 8" "1"
expect "SELECT COUNT(*) FROM reviews WHERE PREDICT('sent', txt) IN ('pos', 'neg')" "9"
expect "SELECT PREDICT('sent', NULL) IS NULL, PREDICT(NULL, 'x') IS NULL, EMBED(NULL) IS NULL" $'1\t1\t1'
expect "SELECT id FROM reviews WHERE PREDICT('sent', txt) IS NULL" "10"
expect "SELECT txt, PREDICT('sent', txt) IN ('pos', 'neg') FROM reviews WHERE id = 9" $'très bien, 素晴らしい 👍\t1'
expect "SELECT PREDICT('stars', txt) BETWEEN -10 AND 20 FROM reviews WHERE id = 1" "1"
expect "SELECT JSON_TYPE(PREDICT('tags', txt)), JSON_LENGTH(PREDICT_PROBA('sent', txt)) FROM reviews WHERE id = 1" $'ARRAY\t2'
expect "SELECT ROUND(JSON_EXTRACT(PREDICT_PROBA('sent', txt), '\$.neg') + JSON_EXTRACT(PREDICT_PROBA('sent', txt), '\$.pos'), 6) FROM reviews WHERE id = 2" "1"
expect "SELECT JSON_LENGTH(EMBED('hello world')), JSON_LENGTH(EMBED('hello world', 'mean'))" $'32\t32'
expect "SELECT VEC_DISTANCE(EMBED('same text'), EMBED('same text'))" "0"
expect "SELECT a.name, COUNT(*) FROM adapterdb.adapters a JOIN reviews r ON PREDICT(a.name, r.txt) = r.label GROUP BY a.name" \
	"$(sql "SELECT 'sent', COUNT(*) FROM reviews WHERE PREDICT('sent', txt) = label")"
sql "EXPLAIN SELECT id, PREDICT('sent', txt) FROM reviews" | grep -q "BatchInfer(batch=16)" || fail "EXPLAIN shows no BatchInfer"
pass "EXPLAIN shows BatchInfer(batch=16)"

# Bad input: clear MySQL errors, and the server keeps serving.
expect_error "SELEC 1" 1064 "syntax error at position 6 near 'SELEC'"
# vitess's parser panics on SELECT'': a syntax error, not a dropped connection.
expect_error "SELECT''" 1064 "the MySQL parser failed"
expect_error "CREATE ADAPTER x OPTONS (epochs = 1) AS SELECT txt, label FROM reviews" 1064 "at position 18 near 'OPTONS"
expect_error "CREATE ADAPTER x AS SELECT txt, label FRM reviews" 1064 "in the SELECT after AS"
expect_error "DROP ADAPTER" 1064 "expected an adapter name"
expect_error "SELECT PREDICT('sent') FROM reviews" 1582 "PREDICT"
expect_error "SELECT EMBED('a', 'b', 'c')" 1582 "EMBED"
expect_error "SELECT PREDICT('nope', txt) FROM reviews" 1305 "ADAPTER nope does not exist"
expect_error "SELECT PREDICT(42, txt) FROM reviews" 1210 "must be a string"
expect_error "SELECT PREDICT_PROBA('stars', txt) FROM reviews" 1210 "regression adapter"
expect_error "SELECT EMBED('x', 'median')" 1210 "unknown pooling"
expect_error "SELECT PREDICT('sent', REPEAT('x', 5000))" 1406 "Data too long for PREDICT text at row 1"
expect_error "CREATE ADAPTER sent AS SELECT txt, label FROM reviews" 1304 "ADAPTER sent already exists"
expect_error "CREATE ADAPTER x AS SELECT txt FROM reviews" 1241
expect_error "CREATE ADAPTER x OPTIONS (epochs = 0) AS SELECT txt, label FROM reviews" 1231 "epochs"
expect_error "CREATE ADAPTER x OPTIONS (colour = 1) AS SELECT txt, label FROM reviews" 1193 "colour"
expect_error "CREATE ADAPTER x AS SELECT txt, label FROM reviews" 1105 "row 9: target is NULL"
expect_error "DROP ADAPTER nope" 1305
expect_error "INSERT INTO adapterdb.adapters (name) VALUES ('x')" 1105
expect "SELECT COUNT(*) FROM adapterdb.adapters" "3"
expect "SELECT COUNT(*), SUM(id), COUNT(label) FROM reviews" $'10\t55\t8'

# Files: confined to --files-dir.
expect "EXPORT ADAPTER sent TO 'sent.safetensors'" ""
[ -s "$WORK/files/sent.safetensors" ] || fail "no exported file"
expect_error "EXPORT ADAPTER sent TO 'sent.safetensors'" 1086 "already exists"
expect_error "EXPORT ADAPTER sent TO '../escape.safetensors'" 1290 "outside that directory"
expect_error "CREATE ADAPTER x FROM '/etc/passwd'" 1290 "outside that directory"
ln -s /etc "$WORK/files/etc"
expect_error "CREATE ADAPTER x FROM 'etc/passwd'" 1290 "outside that directory"
expect "CREATE ADAPTER copy FROM 'sent.safetensors'; SELECT COUNT(*) FROM reviews WHERE PREDICT('copy', txt) <=> PREDICT('sent', txt); DROP ADAPTER copy" "10"
[ ! -e "$WORK/escape.safetensors" ] || fail "a file was written outside --files-dir"

# KILL QUERY during training: 1317, catalog unchanged.
VERSION=$(sql "SELECT version FROM adapterdb.adapters WHERE name = 'sent'")
LONG="CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 10000, early_stopping = 0, batch_size = 2) AS SELECT txt, label FROM reviews WHERE id <= 8"
sql "$LONG" >"$WORK/kill.out" 2>&1 &
CLIENT=$!
ID=""
for _ in $(seq 200); do
	ID=$(sql "SHOW PROCESSLIST" | awk -F'\t' '$5 == "Query" && $7 ~ /loss/ && $8 ~ /^CREATE OR REPLACE ADAPTER/ {print $1}')
	[ -n "$ID" ] && break
	sleep 0.1
done
[ -n "$ID" ] || fail "training never showed progress in SHOW PROCESSLIST"
sql "SHOW PROCESSLIST" | awk -F'\t' -v id="$ID" '$1 == id {print $7}' | grep -q "epoch .* step .* loss" || fail "no epoch/step/loss state"
pass "SHOW PROCESSLIST shows epoch/step/loss: $(sql "SHOW PROCESSLIST" | awk -F'\t' -v id="$ID" '$1 == id {print $7}' | tr '\n' ' ' | cut -c1-120)"
sql "KILL QUERY $ID"
wait "$CLIENT" && fail "killed CREATE ADAPTER succeeded"
grep -q "ERROR 1317" "$WORK/kill.out" || fail "KILL QUERY: $(cat "$WORK/kill.out")"
pass "KILL QUERY during training -> ERROR 1317"
expect "SELECT version FROM adapterdb.adapters WHERE name = 'sent'" "$VERSION"

# A client disconnecting mid-query: the training stops, nothing is stored.
# (mariadb itself in the background, not the sql function's subshell.)
mariadb -h 127.0.0.1 -P "$PORT" -u root -e "$LONG" >/dev/null 2>&1 &
CLIENT=$!
ID=""
for _ in $(seq 200); do
	ID=$(sql "SHOW PROCESSLIST" | awk -F'\t' '$5 == "Query" && $7 ~ /loss/ {print $1}')
	[ -n "$ID" ] && break
	sleep 0.1
done
[ -n "$ID" ] || fail "no training to disconnect from"
kill -KILL "$CLIENT"
wait "$CLIENT" 2>/dev/null || true
for _ in $(seq 100); do
	[ -z "$(sql "SHOW PROCESSLIST" | awk -F'\t' -v id="$ID" '$1 == id && $5 == "Query"')" ] && break
	sleep 0.1
done
[ -z "$(sql "SHOW PROCESSLIST" | awk -F'\t' -v id="$ID" '$1 == id && $5 == "Query"')" ] || fail "the query of a killed client still runs"
pass "client disconnect mid-query cancels it"
expect "SELECT version FROM adapterdb.adapters WHERE name = 'sent'" "$VERSION"

# PyMySQL: parameters, unicode, NULLs, errors.
PORT=$PORT "$PY" - <<'PYEOF' || fail "PyMySQL checks"
import os, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="root", database="main", charset="utf8mb4", autocommit=True)
cur = c.cursor()
cur.execute("CREATE TABLE py (id INT PRIMARY KEY, txt TEXT)")
rows = [(1, "wonderful delightful"), (2, "awful boring"), (3, "ünïcødé ✓ 日本"), (4, None)]
cur.executemany("INSERT INTO py VALUES (%s, %s)", rows)
cur.execute("SELECT id, PREDICT(%s, txt), PREDICT_PROBA(%s, txt) FROM py ORDER BY id", ("sent", "sent"))
got = cur.fetchall()
assert [r[0] for r in got] == [1, 2, 3, 4], got
assert all(r[1] in ("pos", "neg") for r in got[:3]) and got[3][1] is None and got[3][2] is None, got
cur.execute("SELECT txt FROM py WHERE id = %s", (3,))
assert cur.fetchone()[0] == "ünïcødé ✓ 日本"
cur.execute("SELECT PREDICT('stars', %s)", ("great fun",))
assert isinstance(cur.fetchone()[0], float)
for q, code in [("SELECT PREDICT('nope', 'x')", 1305), ("SELEC 1", 1064), ("SELECT PREDICT('sent')", 1582),
                ("CREATE ADAPTER q FROM 'missing.safetensors'", 29)]:
    try:
        cur.execute(q)
        raise SystemExit("no error for " + q)
    except pymysql.err.MySQLError as e:
        assert e.args[0] == code, (q, e.args)
cur.execute("SHOW ADAPTERS")
assert [r[0] for r in cur.fetchall()] == ["sent", "stars", "tags"]
# SQL prepared statements with ? parameters. (The mariadb command-line client
# runs them too: testdata/e2e/server.sh; binary-protocol prepared statements
# are tested from Go.)
cur.execute("PREPARE s FROM 'SELECT PREDICT(?, txt), PREDICT(?, ?) IS NULL FROM py WHERE id = ?'")
cur.execute("SET @a = 'sent', @t = NULL, @i = 1")
cur.execute("EXECUTE s USING @a, @a, @t, @i")
label, isnull = cur.fetchone()
assert label in ("pos", "neg") and isnull == 1, (label, isnull)
cur.execute("SET @a = 'nope'")
try:
    cur.execute("EXECUTE s USING @a, @a, @t, @i")
    raise SystemExit("no error for an unknown adapter through EXECUTE")
except pymysql.err.MySQLError as e:
    assert e.args[0] == 1305, e.args
print("ok   PyMySQL: parameters, PREPARE/EXECUTE, unicode, NULLs, types, errors")
PYEOF

# The loopback rule.
P2=$(free_port)
if "$BIN" serve --db "$WORK/other.db" --model "$MODEL" --listen "0.0.0.0:$P2" >"$WORK/refuse.log" 2>&1; then fail "listened beyond loopback without a password"; fi
grep -q "refusing to listen beyond loopback without a password" "$WORK/refuse.log" || fail "$(cat "$WORK/refuse.log")"
pass "listening beyond loopback without a password is refused"

# Shutdown with a query running: it is cancelled after the grace period, the
# file stays consistent and a new server finds everything.
CORRECT=$(sql "SELECT COUNT(*) FROM reviews WHERE PREDICT('sent', txt) = label")
sql "$LONG" >"$WORK/shutdown.out" 2>&1 &
CLIENT=$!
sleep 1
stop_server
wait "$CLIENT" && fail "training survived shutdown"
grep -q "ERROR 1317" "$WORK/shutdown.out" || fail "query at shutdown: $(cat "$WORK/shutdown.out")"
pass "SIGTERM: running query cancelled (1317), clean exit"
if command -v sqlite3 >/dev/null; then
	[ "$(sqlite3 "$WORK/e2e.db" 'PRAGMA integrity_check')" = "ok" ] || fail "database file damaged"
	pass "database file integrity ok"
fi
start_server
expect "SELECT name, version FROM adapterdb.adapters WHERE name = 'sent'" "$(printf 'sent\t%s' "$VERSION")"
expect "SELECT COUNT(*) FROM adapterdb.adapters" "3"
# User tables are in the file too: they survive the restart.
expect "SELECT COUNT(*), SUM(id), COUNT(label) FROM reviews" $'10\t55\t8'
expect "SELECT COUNT(*) FROM reviews WHERE PREDICT('sent', txt) = label" "$CORRECT"
stop_server
echo "e2e sql: all passed"
