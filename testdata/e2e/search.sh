#!/usr/bin/env bash
# End-to-end checks of hyperparameter search over the wire (mariadb client):
# OPTIONS with lists train every combination (grid) or a seeded sample
# (search = 'random', trials = N), keep the best validation loss, and list
# every trial in adapterdb.trials and the adapter's metrics; SHOW PROCESSLIST
# shows the trial; KILL stores nothing; background = true searches too;
# wrong lists are refused (1064, 1231).
#
#   bash testdata/e2e/search.sh bin/adapterdb
set -euo pipefail

source "$(dirname "$0")/lib.bash"

start_server

sql "CREATE TABLE reviews (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10));
INSERT INTO reviews VALUES (1, 'a wonderful delightful film', 'pos'), (2, 'terrible boring awful', 'neg'),
 (3, 'delightful and wonderful', 'pos'), (4, 'awful, terrible acting', 'neg'), (5, 'wonderful cast', 'pos'),
 (6, 'boring plot', 'neg'), (7, 'great wonderful fun', 'pos'), (8, 'dull awful mess', 'neg');
CREATE TABLE docs (id INT PRIMARY KEY, txt TEXT);
INSERT INTO docs WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
 SELECT i, CONCAT(ELT(1 + i % 5, 'wonderful', 'awful', 'boring', 'great', 'dull'), ' film number ', i) FROM n;" || fail "setup"

# The docs/sql.md example, as written (2 × 2 grid).
out=$(sql "CREATE ADAPTER sentiment
  OPTIONS (learning_rate = (1e-4, 1e-2), adapter_size = (4, 8), epochs = 3, validation_fraction = 0.25)
  AS SELECT txt, label FROM reviews; SHOW WARNINGS;") || fail "grid search: $out"
grep -qP '^Note\t1642\tadapter sentiment: classification, 2 labels, .*, best of 4 trials \(grid search\)$' <<<"$out" ||
	fail "grid search's note: $out"
pass "CREATE ADAPTER with a 2 x 2 grid: $(cut -f3 <<<"$out")"
expect "SELECT trial, options, chosen IN (0, 1), seconds > 0 FROM adapterdb.trials WHERE adapter = 'sentiment' ORDER BY trial" \
	$'1\t{"adapter_size": "4", "learning_rate": "0.0001"}\t1\t1
2\t{"adapter_size": "8", "learning_rate": "0.0001"}\t1\t1
3\t{"adapter_size": "4", "learning_rate": "0.01"}\t1\t1
4\t{"adapter_size": "8", "learning_rate": "0.01"}\t1\t1'
expect "SELECT COUNT(*), SUM(chosen) FROM adapterdb.trials WHERE adapter = 'sentiment'" $'4\t1'
# The chosen trial has the lowest validation loss, and it is the adapter.
expect "SELECT COUNT(*) FROM adapterdb.trials WHERE adapter = 'sentiment' AND JSON_EXTRACT(metrics, '\$.validation_loss') <
  (SELECT JSON_EXTRACT(metrics, '\$.validation_loss') FROM adapterdb.trials WHERE adapter = 'sentiment' AND chosen)" "0"
expect "SELECT a.adapter_size = JSON_UNQUOTE(JSON_EXTRACT(t.options, '\$.adapter_size')),
  JSON_EXTRACT(a.options, '\$.learning_rate') = JSON_EXTRACT(t.options, '\$.learning_rate'), t.version = a.version
  FROM adapterdb.trials t JOIN adapterdb.adapters a ON a.name = t.adapter WHERE t.chosen" $'1\t1\t1'
expect "SELECT JSON_UNQUOTE(JSON_EXTRACT(metrics, '\$.search')), JSON_LENGTH(JSON_EXTRACT(metrics, '\$.trials'))
  FROM adapterdb.adapters WHERE name = 'sentiment'" $'grid\t4'
expect "SELECT PREDICT('sentiment', 'wonderful') IN ('pos', 'neg')" "1"
[ "$(sql "SELECT trial, options, JSON_EXTRACT(metrics, '\$.validation_loss'), seconds, chosen
  FROM adapterdb.trials WHERE adapter = 'sentiment' ORDER BY trial;" | wc -l)" = 4 ] || fail "docs' trials query"
sql "CREATE ADAPTER quick
  OPTIONS (search = 'random', trials = 3, seed = 7, learning_rate = (1e-4, 1e-3, 1e-2), adapter_size = (4, 8),
           epochs = 1, validation_fraction = 0.25)
  AS SELECT txt, label FROM reviews;" || fail "docs' random search"
expect "SELECT COUNT(*) FROM adapterdb.trials WHERE adapter = 'quick'" "3"

# Random search: the same seed draws the same trials.
RANDOM_OPTS="OPTIONS (search = 'random', trials = 3, seed = 7, learning_rate = (1e-4, 1e-3, 1e-2), adapter_size = (4, 8), epochs = 1, validation_fraction = 0.25)"
sql "CREATE ADAPTER r1 $RANDOM_OPTS AS SELECT txt, label FROM reviews;
CREATE ADAPTER r2 $RANDOM_OPTS AS SELECT txt, label FROM reviews;" || fail "random search"
r1=$(sql "SELECT trial, options, JSON_EXTRACT(metrics, '\$.validation_loss') FROM adapterdb.trials WHERE adapter = 'r1' ORDER BY trial")
r2=$(sql "SELECT trial, options, JSON_EXTRACT(metrics, '\$.validation_loss') FROM adapterdb.trials WHERE adapter = 'r2' ORDER BY trial")
[ "$(wc -l <<<"$r1")" = 3 ] && [ "$r1" = "$r2" ] || fail "random search, same seed: [$r1] vs [$r2]"
pass "random search with trials = 3 repeats with the same seed"
sql "DROP ADAPTER r2"
expect "SELECT COUNT(*) FROM adapterdb.trials WHERE adapter = 'r2'" "0"

# Wrong lists and searches.
expect_error "CREATE ADAPTER x OPTIONS (seed = (1, 2)) AS SELECT txt, label FROM reviews" 1231 "Option 'seed' takes one value, not a list"
expect_error "CREATE ADAPTER x OPTIONS (epoch = (1, 2)) AS SELECT txt, label FROM reviews" 1193 "Unknown adapter option 'epoch'"
expect_error "CREATE ADAPTER x OPTIONS (learning_rate = (1e-3, 0)) AS SELECT txt, label FROM reviews" 1231 "Option 'learning_rate' can't be set"
expect_error "CREATE ADAPTER x OPTIONS (learning_rate = (1e-3, 1e-4), validation_fraction = 0) AS SELECT txt, label FROM reviews" 1231 "validation_fraction must be > 0"
expect_error "CREATE ADAPTER x OPTIONS (search = 'random', learning_rate = (1e-3, 1e-4)) AS SELECT txt, label FROM reviews" 1231 "needs trials = N"
expect_error "CREATE ADAPTER x OPTIONS (learning_rate = (1e-3 1e-4)) AS SELECT txt, label FROM reviews" 1064 "expected ',' or ')' in the list of option learning_rate"
expect_error "CREATE ADAPTER x OPTIONS (learning_rate = ()) AS SELECT txt, label FROM reviews" 1064 "expected a value in the list of option learning_rate"
expect "SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'x'" "0"

# SHOW PROCESSLIST shows the trial; KILL QUERY stops the search, nothing stored.
mariadb -h 127.0.0.1 -P "$PORT" -u root -e "CREATE ADAPTER long OPTIONS (learning_rate = (1e-3, 1e-4), epochs = 10000, early_stopping = 0, batch_size = 4, max_length = 16) AS SELECT txt, IF(id % 2 = 0, 'a', 'b') FROM docs" >"$WORK/long.out" 2>&1 &
client=$!
state=""
for _ in $(seq 100); do
	state=$(sql "SHOW PROCESSLIST" | awk -F'\t' '$8 ~ /^CREATE ADAPTER long/ {print $1 "\t" $7}')
	if grep -q "trial 1/2, epoch" <<<"$state"; then break; fi
	sleep 0.1
done
grep -q "CREATE ADAPTER long (0/2 partitions)" <<<"$state" && grep -q "trial 1/2, epoch .*/10000 step .* loss " <<<"$state" ||
	{ kill "$client"; fail "processlist state: [$state]"; }
pass "SHOW PROCESSLIST shows trial 1/2"
sql "KILL QUERY $(cut -f1 <<<"$state")"
wait "$client" && fail "killed search succeeded"
grep -q "ERROR 1317" "$WORK/long.out" || fail "killed search: $(cat "$WORK/long.out")"
expect "SELECT (SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'long'), (SELECT COUNT(*) FROM adapterdb.trials WHERE adapter = 'long')" $'0\t0'

# background = true: the job runs the same search.
id=$(sql "CREATE ADAPTER bg OPTIONS (background = true, learning_rate = (1e-4, 1e-2), epochs = 2, validation_fraction = 0.25) AS SELECT txt, label FROM reviews" | cut -f1) ||
	fail "background search"
# adapterdb.jobs shows the trial; progress is over all trials and never goes back.
s="" last=0
for _ in $(seq 300); do
	IFS=$'\t' read -r s trial trials progress < <(sql "SELECT state, trial, trials, progress FROM adapterdb.jobs WHERE id = $id")
	awk -v p="$progress" -v l="$last" 'BEGIN { exit !(p >= l) }' || fail "background search's progress went back: $last -> $progress"
	last=$progress
	if [ "$s" = running ] && [ "$progress" != 0 ]; then
		[ "$trials" = 2 ] && { [ "$trial" = 1 ] || [ "$trial" = 2 ]; } || fail "running background search: trial [$trial] of [$trials]"
	fi
	if [ "$s" = done ] || [ "$s" = failed ]; then break; fi
	sleep 0.1
done
[ "$s" = done ] || fail "background search job $id is [$s]: $(sql "SELECT error FROM adapterdb.jobs WHERE id = $id")"
expect "SELECT trial, trials, progress FROM adapterdb.jobs WHERE id = $id" $'2\t2\t1'
expect "SELECT COUNT(*), SUM(chosen) FROM adapterdb.trials WHERE adapter = 'bg'" $'2\t1'
pass "background = true searches"

stop_server
echo "search.sh: all passed"
