#!/usr/bin/env bash
# End-to-end checks of the adapter statements' safety over the wire (mariadb
# client, PyMySQL's sqlite3 sibling for the file edits):
#
#   bash testdata/e2e/adapters.sh bin/adapterdb
#
# - CREATE OR REPLACE ADAPTER needs DROP as well as CREATE, refused before training;
# - an adapter file or catalog row edited by hand (labels) is refused: checksums;
# - CREATE ADAPTER inside the session's own write transaction commits it first
#   (MySQL's implicit commit before DDL); another session's write lock fails it
#   with 1205 before training, not after.
set -euo pipefail

source "$(dirname "$0")/lib.bash"

start_server

QUICK="OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8)"
# Minutes of training (512 rows, 10,000 epochs): refusals must come first.
SLOW="OPTIONS (epochs = 10000, validation_fraction = 0) AS SELECT a.txt, a.label FROM reviews a, reviews b, reviews c"
sql "CREATE TABLE reviews (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10));
INSERT INTO reviews VALUES (1, 'a wonderful delightful film', 'pos'), (2, 'terrible boring awful', 'neg'),
 (3, 'delightful and wonderful', 'pos'), (4, 'awful, terrible acting', 'neg'), (5, 'wonderful cast', 'pos'),
 (6, 'boring plot', 'neg'), (7, 'great wonderful fun', 'pos'), (8, 'dull awful mess', 'neg');
CREATE ADAPTER sent $QUICK AS SELECT txt, label FROM reviews;" || fail "setup"

# as USER PASSWORD QUERY: run QUERY as another account.
as() { mariadb -h 127.0.0.1 -P "$PORT" -u "$1" -p"$2" --batch --skip-column-names -e "$3"; }
# within SECONDS CMD...: CMD fails (as wanted) within SECONDS; its output is in $out.
within() {
	local limit=$1 start=$SECONDS
	shift
	if out=$("$@" 2>&1); then fail "$*: no error"; fi
	[ $((SECONDS - start)) -le "$limit" ] || fail "$*: took $((SECONDS - start)) s (> $limit s)"
}

# ---- privileges
sql "CREATE USER 'maker'@'%' IDENTIFIED BY 'pw'; GRANT SELECT, CREATE ON *.* TO 'maker'@'%';
CREATE USER 'owner'@'%' IDENTIFIED BY 'pw'; GRANT SELECT, CREATE, DROP ON *.* TO 'owner'@'%';"
version=$(sql "SELECT version FROM adapterdb.adapters WHERE name = 'sent'")
within 5 as maker pw "CREATE OR REPLACE ADAPTER sent $SLOW"
grep -q "command denied" <<<"$out" || fail "CREATE OR REPLACE without DROP: $out"
[ "$(sql "SELECT version FROM adapterdb.adapters WHERE name = 'sent'")" = "$version" ] || fail "sent was replaced"
pass "CREATE OR REPLACE ADAPTER without DROP: refused before training"
within 5 as maker pw "DROP ADAPTER sent"
as maker pw "CREATE ADAPTER mine $QUICK AS SELECT txt, label FROM reviews" || fail "CREATE with CREATE"
as owner pw "CREATE OR REPLACE ADAPTER mine $QUICK AS SELECT txt, label FROM reviews" || fail "CREATE OR REPLACE with DROP"
pass "CREATE with CREATE, CREATE OR REPLACE with CREATE and DROP"

# ---- edited adapter files and catalog rows
sql "EXPORT ADAPTER sent TO 'sent.safetensors'" || fail "EXPORT"
"$PY" - "$WORK/files" <<'PYEOF'
import json, struct, sys
d = sys.argv[1]
data = open(d + "/sent.safetensors", "rb").read()
n = struct.unpack("<Q", data[:8])[0]
hdr, rest = data[8:8 + n], data[8 + n:]
def write(name, h):
    open(d + "/" + name, "wb").write(struct.pack("<Q", len(h)) + h + rest)
old = b'[\\"neg\\",\\"pos\\"]'
assert old in hdr, hdr
write("swapped.safetensors", hdr.replace(old, b'[\\"pos\\",\\"neg\\"]'))       # same length
write("renamed.safetensors", hdr.replace(old, b'[\\"negative\\",\\"pos\\"]'))  # another length
PYEOF
expect_error "CREATE ADAPTER swapped FROM 'swapped.safetensors'" 1105 "checksum"
expect_error "CREATE ADAPTER renamed FROM 'renamed.safetensors'" 1105 "checksum"
expect "CREATE ADAPTER copy FROM 'sent.safetensors'; SELECT PREDICT('copy', 'wonderful') IN ('pos', 'neg')" "1"
"$PY" - "$WORK/e2e.db" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute("""UPDATE adapterdb_adapters SET labels = '["pos","neg"]' WHERE name = 'copy'""")
db.commit()
PYEOF
expect_error "SELECT PREDICT('copy', 'wonderful')" 1105 "checksum"
expect_error "SHOW ADAPTERS" 1105 "adapter copy"
expect "DROP ADAPTER copy; SELECT COUNT(*) FROM adapterdb.adapters" "2"

# ---- transactions
within_ok() { local start=$SECONDS; "$@" || fail "$*"; [ $((SECONDS - start)) -le 5 ] || fail "$*: took $((SECONDS - start)) s"; }
within_ok sql "BEGIN; INSERT INTO reviews VALUES (9, 'wonderful again', 'pos');
CREATE ADAPTER intx $QUICK AS SELECT txt, label FROM reviews; ROLLBACK"
expect "SELECT COUNT(*) FROM reviews; SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'intx'" $'9\n1'
pass "CREATE ADAPTER inside a write transaction commits it first"
within_ok sql "BEGIN; INSERT INTO reviews VALUES (10, 'awful again', 'neg'); DROP ADAPTER intx; ROLLBACK"
expect "SELECT COUNT(*) FROM reviews; SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'intx'" $'10\n0'

# Another session holds the write lock for 25 s.
sql "BEGIN; INSERT INTO reviews VALUES (11, 'held', 'pos'); SELECT SLEEP(25); ROLLBACK" >/dev/null 2>&1 &
holder=$!
sleep 1
within 15 sql "CREATE OR REPLACE ADAPTER sent $SLOW"
grep -q "ERROR 1205 .*Lock wait timeout exceeded" <<<"$out" || fail "CREATE ADAPTER under another writer: $out"
pass "CREATE ADAPTER under another session's write lock: 1205 before training"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

stop_server
