#!/usr/bin/env bash
# End-to-end checks of the file statements over the wire (mariadb client):
# confinement to --files-dir by the real path (a sibling directory such as
# files-old, links leading out), the FILE privilege, non-regular files, and
# LOAD DATA reading CSV (quoted fields, doubled quotes).
#
#   bash testdata/e2e/files.sh bin/adapterdb
set -euo pipefail

source "$(dirname "$0")/lib.bash"

OLD="$WORK/files-old"
mkdir -p "$OLD"
printf '9\tsecret\n' >"$OLD/y.tsv"
printf '1\tone\n2\ttwo\n' >"$WORK/files/rows.tsv"
ln -s "$OLD" "$WORK/files/out"
start_server

sql "CREATE TABLE t (id INT PRIMARY KEY, s TEXT)"
# A sibling of --files-dir whose name starts with it, and a link leading out.
expect_error "SELECT 'x' INTO DUMPFILE '$OLD/d.bin'" 1290 "outside that directory"
expect_error "SELECT 'x' INTO OUTFILE '$OLD/o.tsv'" 1290 "outside that directory"
expect_error "LOAD DATA INFILE '$OLD/y.tsv' INTO TABLE t" 1290 "outside that directory"
expect_error "SELECT LOAD_FILE('$OLD/y.tsv')" 1290 "outside that directory"
expect_error "SELECT LOAD_FILE('out/y.tsv')" 1290 "outside that directory"
expect_error "LOAD DATA INFILE 'out/y.tsv' INTO TABLE t" 1290 "outside that directory"
expect_error "SELECT 'x' INTO OUTFILE 'out/o.tsv'" 1290 "outside that directory"
[ ! -e "$OLD/d.bin" ] && [ ! -e "$OLD/o.tsv" ] || fail "a file was written outside --files-dir"
expect "SELECT COUNT(*) FROM t" "0"

# Inside: relative names are taken in --files-dir.
expect "LOAD DATA INFILE 'rows.tsv' INTO TABLE t" ""
expect "SELECT id, s FROM t ORDER BY id" $'1\tone\n2\ttwo'
expect "SELECT * FROM t ORDER BY id INTO OUTFILE 'out.tsv'" ""
[ "$(cat "$WORK/files/out.tsv")" = $'1\tone\n2\ttwo' ] || fail "OUTFILE wrote [$(cat "$WORK/files/out.tsv")]"
expect "SELECT LOAD_FILE('out.tsv') = '1\tone\n2\ttwo\n', LOAD_FILE('missing') IS NULL" $'1\t1'
expect_error "SELECT 1 INTO OUTFILE 'out.tsv'" 1086 "already exists"

# FILE privilege: a user with only SELECT gets none of the file statements.
sql "CREATE USER 'reader'@'localhost'; GRANT SELECT ON *.* TO 'reader'@'localhost'"
as_reader() { mariadb -h 127.0.0.1 -P "$PORT" -u reader --batch --skip-column-names -e "$1" 2>&1; }
for q in "SELECT LOAD_FILE('rows.tsv')" "SELECT * FROM main.t INTO OUTFILE 'r.tsv'" "SELECT 'x' INTO DUMPFILE 'r.bin'" \
	"LOAD DATA INFILE 'rows.tsv' INTO TABLE main.t"; do
	if out=$(as_reader "$q"); then fail "$q: no error for a user without FILE: $out"; fi
	grep -q "command denied" <<<"$out" || fail "$q: [$out], want command denied"
	pass "without FILE: $q -> $(grep -o 'ERROR [0-9]* .*' <<<"$out" | head -c 70)"
done
[ ! -e "$WORK/files/r.tsv" ] && [ ! -e "$WORK/files/r.bin" ] || fail "a user without FILE wrote a file"
[ "$(as_reader "SELECT COUNT(*) FROM main.t")" = "2" ] || fail "reader cannot SELECT"

# A FIFO in --files-dir: refused (1210) at once, not a hang.
mkfifo "$WORK/files/p.fifo"
for q in "CREATE ADAPTER x FROM 'p.fifo'" "LOAD DATA INFILE 'p.fifo' INTO TABLE t" "SELECT LOAD_FILE('p.fifo')"; do
	if out=$(timeout 20 mariadb -h 127.0.0.1 -P "$PORT" -u root -e "$q" 2>&1); then fail "$q: no error"; fi
	grep -q "ERROR 1210 .*not a regular file" <<<"$out" || fail "$q: [$out], want ERROR 1210 (not a hang)"
	pass "$q -> ERROR 1210"
done

# LOAD DATA LOCAL INFILE of the shipped CSV (RFC 4180: CRLF, quoted fields
# with commas and doubled quotes): every row, each equal to a CSV reader's.
CSV="$ROOT/testdata/datasets/fortunes_train.csv"
ROWS=$("$PY" -c 'import csv, sys; print(len(list(csv.reader(open(sys.argv[1], newline=""))))-1)' "$CSV")
sql "CREATE TABLE f (id INT PRIMARY KEY AUTO_INCREMENT, text TEXT, label VARCHAR(40));
CREATE TABLE g (id INT PRIMARY KEY AUTO_INCREMENT, text TEXT, label VARCHAR(40))"
mariadb -h 127.0.0.1 -P "$PORT" -u root --local-infile=1 -e "LOAD DATA LOCAL INFILE '$CSV' INTO TABLE main.f
	FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\r\n' IGNORE 1 LINES (text, label)" ||
	fail "LOAD DATA LOCAL INFILE of the CSV"
expect "SELECT COUNT(*) FROM f" "$ROWS"
PORT=$PORT CSV=$CSV "$PY" - <<'PYEOF' || fail "CSV rows differ"
import csv, os, pymysql
want = list(csv.reader(open(os.environ["CSV"], newline="")))[1:]
c = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="root", database="main", charset="utf8mb4")
cur = c.cursor()
cur.execute("SELECT text, label FROM f ORDER BY id")
got = [list(r) for r in cur.fetchall()]
assert got == want, next((i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w)
print("ok   LOAD DATA LOCAL INFILE: %d CSV rows equal to Python's csv reader" % len(got))
PYEOF
# The issue's statement (default escape character, default line ending).
mariadb -h 127.0.0.1 -P "$PORT" -u root --local-infile=1 -e "LOAD DATA LOCAL INFILE '$CSV' INTO TABLE main.g
	FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES (text, label)" || fail "LOAD DATA LOCAL INFILE ... OPTIONALLY ENCLOSED BY"
expect "SELECT COUNT(*) FROM g" "$ROWS"

stop_server
echo "e2e files: all passed"
