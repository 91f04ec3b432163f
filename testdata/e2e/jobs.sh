#!/usr/bin/env bash
# End-to-end checks of background training over the wire (mariadb client):
# CREATE ADAPTER ... OPTIONS (background = true) returns the job's id at once
# and the job trains on; SHOW JOBS and adapterdb.jobs follow it; CANCEL JOB
# and KILL stop it and store nothing; --max-jobs queues the rest; who sees and
# cancels which job; syntax errors (1064); a server stopped by SIGTERM or
# killed with -9 leaves the file intact, the old adapter in place, and the job
# failed with the reason when it comes back.
#
#   bash testdata/e2e/jobs.sh bin/adapterdb
set -euo pipefail

source "$(dirname "$0")/lib.bash"

SERVE_FLAGS=(--max-jobs 1)
start_server

QUICK="epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8"
# LONG trains for minutes unless stopped.
LONG="OPTIONS (background = true, epochs = 10000, batch_size = 4, early_stopping = 0, max_length = 16) AS SELECT txt, IF(id % 2 = 0, 'a', 'b') FROM docs"
sql "CREATE TABLE reviews (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10));
INSERT INTO reviews VALUES (1, 'a wonderful delightful film', 'pos'), (2, 'terrible boring awful', 'neg'),
 (3, 'delightful and wonderful', 'pos'), (4, 'awful, terrible acting', 'neg'), (5, 'wonderful cast', 'pos'),
 (6, 'boring plot', 'neg'), (7, 'great wonderful fun', 'pos'), (8, 'dull awful mess', 'neg');
CREATE ADAPTER sent OPTIONS ($QUICK) AS SELECT txt, label FROM reviews;
CREATE TABLE docs (id INT PRIMARY KEY, txt TEXT);
INSERT INTO docs WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
 SELECT i, CONCAT(ELT(1 + i % 5, 'wonderful', 'awful', 'boring', 'great', 'dull'), ' film number ', i) FROM n;" || fail "setup"

# job_state ID: the job's state.
job_state() { sql "SELECT state FROM adapterdb.jobs WHERE id = $1"; }
# wait_job ID STATE: poll until the job is in STATE (30 s at most).
wait_job() {
	local s=""
	for _ in $(seq 300); do
		s=$(job_state "$1")
		if [ "$s" = "$2" ]; then return 0; fi
		sleep 0.1
	done
	fail "job $1 is [$s], want $2"
}
# submit QUERY: the job id of a background CREATE ADAPTER, which must return
# within seconds.
submit() {
	local out start=$SECONDS
	out=$(sql "$1") || fail "$1: $out"
	[ $((SECONDS - start)) -le 5 ] || fail "$1 took $((SECONDS - start)) s: background jobs return at once"
	cut -f1 <<<"$out"
}

out=$(mariadb -h 127.0.0.1 -P "$PORT" -u root --batch -e "CREATE ADAPTER bg OPTIONS (background = true, $QUICK) AS SELECT txt, label FROM reviews; SHOW WARNINGS;") ||
	fail "background CREATE: $out"
grep -qP '^job_id\tadapter\tstate$' <<<"$out" || fail "background CREATE's columns: $out"
id=$(sed -n 2p <<<"$out" | cut -f1)
grep -qP "^$id\tbg\t(queued|running)$" <<<"$out" || fail "background CREATE's row: $out"
grep -qF "Note	1642	adapter bg: background job $id" <<<"$out" || fail "background CREATE's note: $out"
pass "CREATE ADAPTER ... background = true returns job $id"
wait_job "$id" done
expect "SELECT adapter, state, progress, epoch, epochs, rows_read, user, error IS NULL, finished IS NOT NULL FROM adapterdb.jobs WHERE id = $id" \
	$'bg\tdone\t1\t30\t30\t8\troot\t1\t1'
expect "SELECT PREDICT('bg', 'wonderful delightful') = PREDICT('sent', 'wonderful delightful')" "1"
got=$(sql "SHOW JOBS" | cut -f1-3)
[ "$got" = "$id	bg	done" ] || fail "SHOW JOBS: $got"
pass "SHOW JOBS"

# Checks made in the statement: no job for bad rows or options.
expect_error "CREATE ADAPTER x OPTIONS (background = true) AS SELECT txt, 'same' FROM reviews" 1105 "at least two classes"
expect_error "CREATE ADAPTER x OPTIONS (background = perhaps) AS SELECT txt, label FROM reviews" 1231 "background"
expect_error "CREATE ADAPTER sent OPTIONS (background = true) AS SELECT txt, label FROM reviews" 1304 "already exists"
expect_error "CANCEL JOB" 1064 "expected a job id"
expect_error "CANCEL JOB x" 1064 "expected a job id"
expect_error "CANCEL JOB 0" 1064 "positive integer"
expect_error "SHOW JOBS now" 1064 "unexpected identifier"
expect_error "CANCEL JOB 999" 1094 "Unknown job id: 999"
expect "SELECT COUNT(*) FROM adapterdb.jobs" "1"

# CANCEL JOB: the old version stays; a queued job waits behind --max-jobs 1.
before=$(sql "SELECT sha256, version FROM adapterdb.adapters WHERE name = 'sent'")
long=$(submit "CREATE OR REPLACE ADAPTER sent $LONG")
wait_job "$long" running
queued=$(submit "CREATE ADAPTER other $LONG")
sleep 0.5
expect "SELECT state, started IS NULL FROM adapterdb.jobs WHERE id = $queued" $'queued\t1'
expect_error "CREATE OR REPLACE ADAPTER sent $LONG" "1304 (42000)" "already running (job $long)"
sql "SHOW PROCESSLIST" | grep -qF "CREATE ADAPTER sent /* background job $long */" || fail "job not in SHOW PROCESSLIST"
pass "the running job is in SHOW PROCESSLIST"
expect "CANCEL JOB $queued" ""
wait_job "$queued" cancelled
expect "CANCEL JOB $long" ""
wait_job "$long" cancelled
expect "SELECT error IS NULL, finished IS NOT NULL FROM adapterdb.jobs WHERE id = $long" $'1\t1'
expect "SELECT sha256, version FROM adapterdb.adapters WHERE name = 'sent'" "$before"
expect "SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'other'" "0"
out=$(mariadb -h 127.0.0.1 -P "$PORT" -u root --batch -e "CANCEL JOB $long; SHOW WARNINGS" 2>&1)
grep -qP "^Note\t1094\tJob $long has already ended \(cancelled\)$" <<<"$out" || fail "CANCEL JOB of an ended job: $out"
pass "CANCEL JOB of an ended job is a note"

# KILL of the job's process-list entry cancels it too.
killed=$(submit "CREATE ADAPTER killed $LONG")
wait_job "$killed" running
pid=""
for _ in $(seq 100); do
	pid=$(sql "SELECT process_id FROM adapterdb.jobs WHERE id = $killed")
	[ "$pid" != "NULL" ] && break
	sleep 0.1
done
expect "KILL $pid" ""
wait_job "$killed" cancelled
expect "SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'killed'" "0"

# Privileges: an account sees and cancels its own jobs; PROCESS (root) all.
sql "CREATE USER bob@'%' IDENTIFIED BY 'b0b'; GRANT CREATE, SELECT ON *.* TO bob@'%';
CREATE USER carol@'%' IDENTIFIED BY 'c4rol'; GRANT SELECT ON *.* TO carol@'%';" || fail "accounts"
as() { mariadb -h 127.0.0.1 -P "$PORT" -u "$1" -p"$2" --batch --skip-column-names -e "$3" 2>&1; }
out=$(as bob b0b "CREATE ADAPTER bobs $LONG") || fail "bob's job: $out"
bobs=$(cut -f1 <<<"$out")
wait_job "$bobs" running
[ "$(as bob b0b "SELECT id, user, host FROM adapterdb.jobs")" = "$bobs	bob	%" ] || fail "bob's SHOW JOBS: $(as bob b0b 'SHOW JOBS')"
[ -z "$(as carol c4rol "SHOW JOBS")" ] || fail "carol sees jobs: $(as carol c4rol 'SHOW JOBS')"
out=$(as carol c4rol "CANCEL JOB $bobs") && fail "carol cancelled bob's job"
grep -q "ERROR 1095 " <<<"$out" || fail "carol's CANCEL JOB: $out"
pass "another account without PROCESS neither sees nor cancels a job (1095)"
expect "SELECT state FROM adapterdb.jobs WHERE id = $bobs" "running"
out=$(as bob b0b "CANCEL JOB $bobs") || fail "bob's CANCEL JOB: $out"
wait_job "$bobs" cancelled
pass "the job's account cancels it"

# A graceful stop fails the running job with the reason; nothing is stored.
stopped=$(submit "CREATE OR REPLACE ADAPTER sent $LONG")
wait_job "$stopped" running
stop_server
start_server
expect "SELECT state, error FROM adapterdb.jobs WHERE id = $stopped" $'failed\tserver stopped before the job finished'
expect "SELECT sha256, version FROM adapterdb.adapters WHERE name = 'sent'" "$before"

# kill -9 mid-training: the file is intact, the old version serves, and the
# restarted server marks the job failed with the reason.
# The docs/sql.md example, as written (its CANCEL JOB 1 is of an ended job).
example=$(awk '/^### Background training/ {on = 1} on && /^```sql/ {getline; while ($0 != "```") {print; getline}; exit}' "$ROOT/docs/sql.md")
[ -n "$example" ] || fail "no example in docs/sql.md"
out=$(sql "$example") || fail "docs/sql.md example: $out"
grep -qP '^[0-9]+\tsentiment\t(queued|running)$' <<<"$(head -1 <<<"$out")" || fail "docs/sql.md example: $out"
# Once the job is done the adapter exists (while it runs, the error names the job).
wait_job "$(head -1 <<<"$out" | cut -f1)" done
expect_error "$example" 1304 "ADAPTER sentiment already exists"
pass "the docs/sql.md example runs as written"

crashed=$(submit "CREATE OR REPLACE ADAPTER sent $LONG")
wait_job "$crashed" running
sleep 1.5 # a progress write or two
kill -KILL "$SERVER"
wait "$SERVER" 2>/dev/null || true
SERVER=""
if command -v sqlite3 >/dev/null; then
	check=$(sqlite3 "$WORK/e2e.db" 'PRAGMA integrity_check')
else
	check=$("$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$WORK/e2e.db")
fi
[ "$check" = "ok" ] || fail "integrity_check after kill -9: $check"
pass "PRAGMA integrity_check after kill -9: ok"
start_server
expect "SELECT state, error FROM adapterdb.jobs WHERE id = $crashed" $'failed\tserver stopped before the job finished'
expect "SELECT sha256, version FROM adapterdb.adapters WHERE name = 'sent'" "$before"
expect "SELECT PREDICT('sent', 'wonderful delightful') IN ('pos', 'neg')" "1"
stop_server
pass "jobs.sh"
