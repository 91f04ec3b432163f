#!/usr/bin/env bash
# Batched PREDICT over the wire: the batching node never changes a query's
# columns (SELECT *, CREATE TABLE ... AS SELECT *), JSON results are valid
# JSON whatever the labels, and string functions read them as text.
#
#   bash testdata/e2e/batching.sh bin/adapterdb
set -euo pipefail

source "$(dirname "$0")/lib.bash"

start_server

QUICK="OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8)"
sql "CREATE TABLE reviews (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10));
INSERT INTO reviews VALUES (1, 'a wonderful delightful film', 'pos'), (2, 'terrible boring awful', 'neg'),
 (3, 'delightful and wonderful', 'pos'), (4, 'awful, terrible acting', 'neg'), (5, 'wonderful cast', 'pos'),
 (6, 'boring plot', 'neg'), (7, 'great wonderful fun', 'a\"x'), (8, 'dull awful mess', 'b\\\\y');
CREATE ADAPTER sent $QUICK AS SELECT txt, label FROM reviews WHERE id <= 6;
CREATE ADAPTER odd $QUICK AS SELECT txt, label FROM reviews;" || fail "CREATE ADAPTER"
expect "SELECT label FROM reviews WHERE id >= 7 ORDER BY id" $'a"x\nb\\\\y'

# Column names as the client sees them.
columns() { mariadb -h 127.0.0.1 -P "$PORT" -u root --batch --default-character-set=utf8mb4 -e "$1" | head -1; }
for q in "SELECT * FROM reviews WHERE PREDICT('sent', txt) = 'neg'" \
	"SELECT * FROM reviews ORDER BY PREDICT('sent', txt) LIMIT 3" \
	"SELECT * FROM (SELECT * FROM reviews WHERE PREDICT('sent', txt) = 'pos') t"; do
	got=$(columns "$q")
	[ "$got" = $'id\ttxt\tlabel' ] || fail "$q: columns [$got], want the table's"
	pass "$q: the table's columns"
done
n=$(sql "SELECT COUNT(*) FROM reviews WHERE PREDICT('sent', txt) = 'neg'")
sql "CREATE TABLE negs AS SELECT * FROM reviews WHERE PREDICT('sent', txt) = 'neg'"
expect "SELECT GROUP_CONCAT(column_name ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'negs'" "id,txt,label"
expect "SELECT COUNT(*) FROM negs" "$n"

# PREDICT_PROBA with labels a"x and b\y: valid JSON over the wire, in CAST
# and in string functions; LEFT works on JSON results.
"$PY" - "$PORT" <<'PYEOF' || fail "PREDICT_PROBA with quotes and backslashes in labels"
import json, sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", database="main").cursor()
c.execute("SELECT PREDICT_PROBA('odd', txt), CAST(PREDICT_PROBA('odd', txt) AS CHAR), "
          "LEFT(PREDICT_PROBA('odd', txt), 100000), JSON_VALID(PREDICT_PROBA('odd', txt)) FROM reviews")
for proba, cast, left, valid in c.fetchall():
    d = json.loads(proba)
    assert sorted(d) == ['a"x', 'b\\y', 'neg', 'pos'], d
    assert cast == proba == left and valid == 1, (proba, cast, left, valid)
c.execute("SELECT LEFT(EMBED('hi'), 6), EMBED('hi')")
left, emb = c.fetchone()
assert left == emb[:6] and len(json.loads(emb)) > 0, (left, emb[:20])
PYEOF
pass "PREDICT_PROBA keys escaped; CAST and LEFT give the JSON text"

# Stored JSON keeps its keys escaped: a table made from PREDICT_PROBA (labels
# a"x and b\y become keys) and a JSON literal with a quote and a control
# character in its keys read back as valid JSON.
"$PY" - "$PORT" <<'PYEOF' || fail "JSON columns with quotes in keys"
import json, sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", database="main", autocommit=True).cursor()
c.execute("CREATE TABLE probas AS SELECT id, PREDICT_PROBA('odd', txt) AS p FROM reviews")
c.execute("SELECT p FROM probas ORDER BY id")
rows = c.fetchall()
assert len(rows) == 8, rows
for (p,) in rows:
    assert sorted(json.loads(p)) == ['a"x', 'b\\y', 'neg', 'pos'], p
c.execute("CREATE TABLE docs (id INT PRIMARY KEY, j JSON)")
c.execute("INSERT INTO docs VALUES (1, %s)", ('{"a\\"x": 1, "k\\u0001": "v"}',))
c.execute("SELECT j FROM docs")
j = c.fetchone()[0]
assert json.loads(j) == {'a"x': 1, 'k\x01': 'v'}, j
PYEOF
pass "JSON columns: PREDICT_PROBA table and literal with quoted keys read back as valid JSON"
expect "SELECT LEFT(PREDICT_PROBA('sent', 'wonderful'), 8)" '{"neg": '

stop_server
pass "batching.sh"
