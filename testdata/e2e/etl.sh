#!/usr/bin/env bash
# Batched ETL statements over the wire: UPDATE ... SET PREDICT, UPDATE ...
# JOIN, INSERT ... VALUES (PREDICT(...)), INSERT ... SELECT and JOIN ... ON
# PREDICT, run by the mariadb client; every result must equal a per-row
# SELECT PREDICT(...) of the same text, and a failing UPDATE changes nothing.
#
#   bash testdata/e2e/etl.sh bin/adapterdb
set -euo pipefail

source "$(dirname "$0")/lib.bash"

start_server

QUICK="OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8)"
sql "CREATE TABLE labelled (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10), score DOUBLE);
INSERT INTO labelled VALUES (1, 'a wonderful delightful film', 'pos', 4.5), (2, 'terrible boring awful', 'neg', 1.0),
 (3, 'delightful and wonderful', 'pos', 4.8), (4, 'awful, terrible acting', 'neg', 1.5), (5, 'wonderful cast', 'pos', 4.1),
 (6, 'boring plot', 'neg', 2.0), (7, 'great wonderful fun', 'pos', 4.9), (8, 'dull awful mess', 'neg', 1.2);
CREATE ADAPTER sent $QUICK AS SELECT txt, label FROM labelled;
CREATE ADAPTER stars $QUICK AS SELECT txt, score FROM labelled;" || fail "CREATE ADAPTER"

# 150 texts of mixed lengths (the server batches 16 rows a pass).
words=(wonderful awful boring great film plot cast fun mess dull)
vals=()
for i in $(seq 1 150); do
	t="${words[$((i % 10))]} ${words[$(((i / 10) % 10))]}"
	for _ in $(seq 1 $((i % 7))); do t="$t ${words[$(((i * 3) % 10))]}"; done
	vals+=("($i, '$t number $i')")
done
sql "CREATE TABLE docs (id INT PRIMARY KEY, txt TEXT, p TEXT, s DOUBLE);
INSERT INTO docs (id, txt) VALUES $(IFS=,; echo "${vals[*]}");
CREATE TABLE lab (name VARCHAR(10) PRIMARY KEY, n INT);
INSERT INTO lab VALUES ('pos', 1), ('neg', 2);
CREATE TABLE notes (id INT PRIMARY KEY, doc INT, np TEXT);
INSERT INTO notes SELECT id, 2 * id, NULL FROM docs WHERE id <= 75;" || fail "tables"

# The statements under test.
sql "UPDATE docs SET p = PREDICT('sent', txt), s = PREDICT('stars', txt)" || fail "UPDATE ... SET PREDICT"
pass "UPDATE docs SET p = PREDICT('sent', txt), s = PREDICT('stars', txt)"
sql "UPDATE notes n JOIN docs d ON n.doc = d.id SET n.np = PREDICT('sent', d.txt)" || fail "UPDATE ... JOIN"
pass "UPDATE notes n JOIN docs d ... SET n.np = PREDICT(...)"
tuples=()
for i in $(seq 1 40); do
	t=$(sql "SELECT txt FROM docs WHERE id = $i")
	tuples+=("($i, '$t', PREDICT('sent', '$t'), PREDICT('stars', '$t'))")
done
sql "CREATE TABLE ins (id INT PRIMARY KEY, txt TEXT, p TEXT, s DOUBLE);
INSERT INTO ins VALUES $(IFS=,; echo "${tuples[*]}")" || fail "INSERT ... VALUES (PREDICT(...))"
pass "INSERT INTO ins VALUES (..., PREDICT(...), PREDICT(...)) × 40"
sql "CREATE TABLE sel (id INT PRIMARY KEY, p TEXT);
INSERT INTO sel SELECT id, PREDICT('sent', txt) FROM docs" || fail "INSERT ... SELECT"
pass "INSERT INTO sel SELECT id, PREDICT(...) FROM docs"
sql "CREATE TABLE joined AS SELECT d.id, l.n FROM docs d JOIN lab l ON l.name = PREDICT('sent', d.txt)" || fail "JOIN ... ON PREDICT"
pass "JOIN lab l ON l.name = PREDICT('sent', d.txt)"

# Every result against a per-row SELECT PREDICT of its text.
"$PY" - "$PORT" <<'PYEOF' || fail "batched results differ from per-row SELECT PREDICT"
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", database="main").cursor()
def one(adapter, text):
    c.execute("SELECT PREDICT(%s, %s)", (adapter, text))
    return c.fetchone()[0]
def same(a, b):
    return abs(float(a) - float(b)) <= 1e-4 * max(1.0, abs(float(b)))
c.execute("SELECT id, txt, p, s FROM docs")
docs = {i: (t, p, s) for i, t, p, s in c.fetchall()}
assert len(docs) == 150, len(docs)
sent = {i: one("sent", t) for i, (t, _, _) in docs.items()}
for i, (t, p, s) in docs.items():
    assert p == sent[i], ("UPDATE", i, p, sent[i])
    assert same(s, one("stars", t)), ("UPDATE stars", i, s)
c.execute("SELECT doc, np FROM notes")
rows = c.fetchall()
assert len(rows) == 75 and all(np == sent[d] for d, np in rows), ("UPDATE ... JOIN", rows[:3])
c.execute("SELECT id, txt, p, s FROM ins")
rows = c.fetchall()
assert len(rows) == 40, len(rows)
for i, t, p, s in rows:
    assert p == sent[i] and same(s, one("stars", t)), ("INSERT ... VALUES", i, p, s)
c.execute("SELECT id, p FROM sel")
assert all(p == sent[i] for i, p in c.fetchall()), "INSERT ... SELECT"
c.execute("SELECT id, n FROM joined")
rows = c.fetchall()
assert len(rows) == 150 and all(n == {"pos": 1, "neg": 2}[sent[i]] for i, n in rows), ("JOIN ... ON", rows[:3])
PYEOF
pass "UPDATE, UPDATE ... JOIN, INSERT ... VALUES, INSERT ... SELECT, JOIN ... ON equal per-row SELECT PREDICT"

# One statement: a text over --max-text-bytes in the last window fails the
# UPDATE, and the rows written before it are undone.
sql "UPDATE docs SET p = NULL, s = NULL;
INSERT INTO docs (id, txt) VALUES (1000, REPEAT('long ', 1000))"
expect_error "UPDATE docs SET p = PREDICT('sent', txt), s = PREDICT('stars', txt)" 1406 "row 151"
expect "SELECT COUNT(*) FROM docs WHERE p IS NOT NULL OR s IS NOT NULL" "0"

stop_server
pass "etl.sh"
