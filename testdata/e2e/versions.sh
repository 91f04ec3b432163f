#!/usr/bin/env bash
# End-to-end checks of adapter versions over the wire (mariadb client):
#
#   bash testdata/e2e/versions.sh bin/adapterdb
#
# - CREATE OR REPLACE twice keeps versions 1 and 2 beside the active 3;
#   PREDICT('name@N') pins a version: version 2, trained on swapped labels,
#   disagrees with versions 1 and 3, which agree with the plain name;
# - SHOW ADAPTER VERSIONS and adapterdb.adapter_versions list them;
# - ALTER ADAPTER ... SET ACTIVE VERSION rolls back (the plain name follows);
# - DROP ADAPTER ... VERSION refuses the active version, drops another;
# - EXPORT ADAPTER name@N writes that version;
# - OPTIONS (keep_versions = N) bounds the versions kept;
# - a server restarted on the file serves the same versions;
# - a file made before versions (catalog/testdata/pre_versions.sql, run by
#   the sqlite3 shell) opens with each adapter as its one, active version;
# - docs/sql.md's version examples run as written.
set -euo pipefail

source "$(dirname "$0")/lib.bash"

start_server

sql "CREATE TABLE r (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10));
INSERT INTO r VALUES (1, 'a wonderful delightful film', 'pos'), (2, 'terrible boring awful', 'neg'),
 (3, 'delightful and wonderful', 'pos'), (4, 'awful, terrible acting', 'neg'),
 (5, 'wonderful cast', 'pos'), (6, 'boring plot', 'neg');" || fail "setup"
Q="epochs = 30, max_length = 16, batch_size = 2, validation_fraction = 0, adapter_size = 8"
sql "CREATE ADAPTER s OPTIONS ($Q) AS SELECT txt, label FROM r" || fail "CREATE ADAPTER s"
sql "CREATE OR REPLACE ADAPTER s OPTIONS ($Q) AS SELECT txt, IF(label = 'pos', 'neg', 'pos') FROM r" || fail "replace 1"
sql "CREATE OR REPLACE ADAPTER s OPTIONS ($Q, seed = 7) AS SELECT txt, label FROM r" || fail "replace 2"

T="'a wonderful delightful film'"
expect "SELECT PREDICT('s@1', $T), PREDICT('s@2', $T), PREDICT('s@3', $T), PREDICT('s', $T)" "pos	neg	pos	pos"
expect "SELECT PREDICT('s@2', txt) = label, COUNT(*) FROM r GROUP BY 1" "0	6"
expect "SELECT version, active, keep_versions FROM adapterdb.adapter_versions WHERE name = 's' ORDER BY version" "1	0	5
2	0	5
3	1	5"
got=$(sql "SHOW ADAPTER VERSIONS s" | cut -f1-3)
[ "$got" = "s	1	0
s	2	0
s	3	1" ] || fail "SHOW ADAPTER VERSIONS s: [$got]"
pass "SHOW ADAPTER VERSIONS s"
expect "SELECT JSON_EXTRACT(options, '$.seed') FROM adapterdb.adapter_versions WHERE name = 's' AND version = 3" '"7"'

# Roll back to version 2: the plain name follows it.
expect "ALTER ADAPTER s SET ACTIVE VERSION 2; SELECT PREDICT('s', $T), version FROM adapterdb.adapters WHERE name = 's'" "neg	2"
expect_error "ALTER ADAPTER s SET ACTIVE VERSION 9" 1305 "ADAPTER s@9 does not exist"
expect_error "ALTER ADAPTER s SET ACTIVE VERSION" 1064 "expected a version number"
expect_error "ALTER ADAPTER s SET VERSION 2" 1064 "expected ACTIVE"

# DROP ... VERSION: not the active one.
expect_error "DROP ADAPTER s VERSION 2" 1290 "Version 2 is the active version of ADAPTER s"
expect "DROP ADAPTER s VERSION 1; SELECT GROUP_CONCAT(version ORDER BY version) FROM adapterdb.adapter_versions WHERE name = 's'" "2,3"
expect_error "SELECT PREDICT('s@1', $T)" 1305 "ADAPTER s@1 does not exist"
expect_error "DROP ADAPTER s VERSION 1" 1305
expect_error "SHOW ADAPTER VERSION s" 1064 "expected VERSIONS"

# EXPORT a pinned version, import it as another adapter.
sql "EXPORT ADAPTER s@3 TO 's3.safetensors'; CREATE ADAPTER t FROM 's3.safetensors'" || fail "export s@3"
expect "SELECT PREDICT('t', $T)" "pos"

# Retention: keep_versions = 2 leaves the two newest (the new one active).
sql "CREATE OR REPLACE ADAPTER s OPTIONS ($Q, keep_versions = 2) AS SELECT txt, label FROM r" || fail "keep 2"
sql "CREATE OR REPLACE ADAPTER s OPTIONS ($Q) AS SELECT txt, label FROM r" || fail "replace after keep 2"
expect "SELECT GROUP_CONCAT(CONCAT(version, ':', active) ORDER BY version) FROM adapterdb.adapter_versions WHERE name = 's'" "4:0,5:1"
expect_error "CREATE OR REPLACE ADAPTER s OPTIONS (keep_versions = 0) AS SELECT txt, label FROM r" 1231 "keep_versions"

# The examples of docs/sql.md's "Adapter versions" section run as written.
examples=$("$PY" - "$ROOT/docs/sql.md" <<'PYEOF'
import re, sys
s = open(sys.argv[1]).read()
sec = s[s.index("### Adapter versions\n"):]
sec = sec[:sec.index("\n### ", 1)]
print(re.findall(r"```sql\n(.*?)```", sec, re.S)[1])
PYEOF
) || fail "no examples in docs/sql.md"
grep -q "ALTER ADAPTER sentiment SET ACTIVE VERSION 1" <<<"$examples" || fail "docs/sql.md examples: $examples"
out=$(sql "$examples" 2>&1) || fail "docs/sql.md version examples: $out"
[ "$(tail -1 <<<"$out" | cut -f1,2)" = "1	1" ] || fail "docs/sql.md version examples end with: $(tail -1 <<<"$out")"
pass "docs/sql.md's version examples"

# The versions are in the file: a restarted server serves them.
stop_server
start_server
expect "SELECT PREDICT('s@4', $T), PREDICT('s', $T), GROUP_CONCAT(version ORDER BY version) FROM adapterdb.adapter_versions WHERE name = 's'" "pos	pos	4,5"
expect "DROP ADAPTER s; SELECT COUNT(*) FROM adapterdb.adapter_versions WHERE name = 's'" "0"
stop_server

if command -v sqlite3 >/dev/null; then
	rm -f "$WORK"/e2e.db*
	sqlite3 "$WORK/e2e.db" <"$ROOT/catalog/testdata/pre_versions.sql" || fail "pre-versions fixture"
	start_server
	expect "SELECT name, version, active FROM adapterdb.adapter_versions ORDER BY name" "ancient	1	1
sentiment	3	1"
	grep -qF "adapter catalog migrated to versions" "$WORK/server.log" || fail "no migration in the log"
	pass "a pre-versions file migrates"
	stop_server
else
	echo "skip: sqlite3 is missing (make deps): the migration over the wire"
fi
echo "versions.sh: all passed"
