#!/usr/bin/env bash
# End-to-end checks of EVALUATE ADAPTER over the wire (mariadb client):
#
#   bash testdata/e2e/evaluate.sh bin/adapterdb
#
# - the metric rows of a classification, regression and multilabel adapter;
# - accuracy equals AVG(PREDICT(...) = label) computed in SQL; an unseen label
#   counts as wrong and is reported; NULL rows are skipped and counted;
# - the confusion matrix's cells sum to the rows and match PREDICT's GROUP BY;
# - name@N pins a version (version 1 after a retrain); a missing version, wrong
#   kinds of target and syntax errors are refused with their codes;
# - EVALUATE needs SELECT on the source tables and EXECUTE on the adapter;
# - docs/sql.md's EVALUATE examples run as written.
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
 (9, 'so so, really', 'meh', 3.0, '[\"fun\"]'), (10, NULL, 'pos', NULL, NULL), (11, 'a fine film', NULL, NULL, NULL);
CREATE ADAPTER sent $QUICK AS SELECT txt, label FROM reviews WHERE id <= 8;
CREATE ADAPTER stars $QUICK AS SELECT txt, score FROM reviews WHERE id <= 8;
CREATE ADAPTER tags $QUICK AS SELECT txt, tags FROM reviews WHERE id <= 8;" || fail "setup"

# Metric names, in order, and the counts.
got=$(sql "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews" | cut -f1 | tr '\n' ' ')
[ "$got" = "rows skipped accuracy macro_f1 weighted_f1 log_loss unseen_labels precision:neg recall:neg f1:neg support:neg precision:pos recall:pos f1:pos support:pos precision:meh recall:meh f1:meh support:meh " ] ||
	fail "classification metric names: $got"
pass "classification metric names"
counts=$(sql "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews" | grep -E '^(rows|skipped|unseen_labels|support:meh|support:pos|recall:meh)	' | tr '\t\n' '= ')
[ "$counts" = "rows=9 skipped=2 unseen_labels=1 support:pos=4 recall:meh=0 support:meh=1 " ] || fail "counts: $counts"
pass "rows 9, skipped 2 (NULL text, NULL label), unseen_labels 1 (meh)"

# accuracy is PREDICT's, computed in SQL over the same rows (meh is wrong).
acc=$(sql "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews" | awk -F'\t' '$1 == "accuracy" { print $2 }')
expect "SELECT ABS(AVG(PREDICT('sent', txt) = label) - $acc) < 1e-9 FROM reviews WHERE txt IS NOT NULL AND label IS NOT NULL" "1"

# The confusion matrix: PREDICT's GROUP BY, and its cells sum to the rows.
cm=$(sql "EVALUATE ADAPTER sent CONFUSION MATRIX AS SELECT txt, label FROM reviews")
[ "$cm" = "$(sql "SELECT label, PREDICT('sent', txt), COUNT(*) FROM reviews WHERE txt IS NOT NULL AND label IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2")" ] ||
	fail "confusion matrix: $cm"
[ "$(awk -F'\t' '{ n += $3 } END { print n }' <<<"$cm")" = 9 ] || fail "confusion cells do not sum to 9: $cm"
pass "CONFUSION MATRIX = PREDICT's GROUP BY; cells sum to 9"
cols=$("$PY" - "$PORT" <<'PYEOF'
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", database="main").cursor()
for q in ("EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews", "EVALUATE ADAPTER sent CONFUSION MATRIX AS SELECT txt, label FROM reviews"):
    c.execute(q)
    print(" ".join("%s:%d" % (d[0], d[1]) for d in c.description))
PYEOF
) || fail "PyMySQL: $cols"
# MySQL type codes: 253 VAR_STRING, 5 DOUBLE, 8 LONGLONG.
[ "$cols" = $'metric:253 value:5\nactual:253 predicted:253 n:8' ] || fail "columns: $cols"
pass "columns: metric, value DOUBLE; actual, predicted, n"

# Regression and multilabel.
got=$(sql "EVALUATE ADAPTER stars AS SELECT txt, score FROM reviews" | cut -f1 | tr '\n' ' ')
[ "$got" = "rows skipped rmse mae r2 " ] || fail "regression metric names: $got"
rmse=$(sql "EVALUATE ADAPTER stars AS SELECT txt, score FROM reviews" | awk -F'\t' '$1 == "rmse" { print $2 }')
expect "SELECT ABS(SQRT(AVG(POW(PREDICT('stars', txt) - score, 2))) - $rmse) < 1e-6 FROM reviews WHERE txt IS NOT NULL AND score IS NOT NULL" "1"
got=$(sql "EVALUATE ADAPTER tags AS SELECT txt, tags FROM reviews" | cut -f1 | head -6 | tr '\n' ' ')
[ "$got" = "rows skipped micro_f1 macro_f1 subset_accuracy unseen_labels " ] || fail "multilabel metric names: $got"
pass "regression: rows skipped rmse mae r2; multilabel: micro_f1 macro_f1 subset_accuracy"

# name@N pins a version: after a retrain, sent@1 is the first adapter.
v1=$(sql "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews")
[ "$(sql "EVALUATE ADAPTER sent@1 AS SELECT txt, label FROM reviews")" = "$v1" ] || fail "sent@1 differs from sent"
sql "CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 1, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 4, seed = 3) AS SELECT txt, label FROM reviews WHERE id <= 8" || fail "retrain"
[ "$(sql "EVALUATE ADAPTER sent@1 AS SELECT txt, label FROM reviews")" = "$v1" ] || fail "sent@1 changed by the retrain"
[ "$(sql "EVALUATE ADAPTER sent@2 AS SELECT txt, label FROM reviews")" = "$(sql "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews")" ] ||
	fail "sent@2 differs from the active sent"
pass "EVALUATE ADAPTER sent@1 after CREATE OR REPLACE: version 1's metrics; sent@2 = sent"
expect_error "EVALUATE ADAPTER sent@7 AS SELECT txt, label FROM reviews" 1305 "ADAPTER sent has no version 7 (its active version is 2)"
# INTO in the SELECT is refused (the statement consumes the rows), for CREATE ADAPTER too.
expect_error "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews INTO OUTFILE 'ev.txt'" "1221 (HY000)" "Incorrect usage of EVALUATE ADAPTER and INTO"
expect_error "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews INTO @a, @b" 1221 "Incorrect usage of EVALUATE ADAPTER and INTO"
expect_error "CREATE ADAPTER x AS SELECT txt, label FROM reviews INTO OUTFILE 'cr.txt'" 1221 "Incorrect usage of CREATE ADAPTER and INTO"

# Refusals.
expect_error "EVALUATE ADAPTER stars AS SELECT txt, label FROM reviews" 1210 "row 1: wrong kind of target: a regression adapter takes numbers; \"pos\" is not one"
expect_error "EVALUATE ADAPTER sent AS SELECT txt, tags FROM reviews" 1210 "a classification adapter takes one label per row, not a JSON value"
expect_error "EVALUATE ADAPTER tags AS SELECT txt, score FROM reviews" 1210 "a multilabel adapter takes a JSON array of labels"
expect_error "EVALUATE ADAPTER stars CONFUSION MATRIX AS SELECT txt, score FROM reviews" 1210 "CONFUSION MATRIX is for classification adapters"
expect_error "EVALUATE ADAPTER sent AS SELECT txt FROM reviews" 1241
expect_error "EVALUATE ADAPTER nope AS SELECT txt, label FROM reviews" 1305 "ADAPTER nope does not exist"
expect_error "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews WHERE id > 99" 1210 "no rows to evaluate"
expect_error "EVALUATE ADAPTER sent CONFUSION AS SELECT txt, label FROM reviews" 1064 "expected MATRIX"
expect_error "EVALUATE ADAPTER sent@0 AS SELECT txt, label FROM reviews" 1064 "expected a version number"
expect_error "EVALUATE ADAPTER sent AS SELECT txt, label FROM" 1064 "in the SELECT after AS"

# The examples of docs/sql.md's EVALUATE ADAPTER section run as written.
examples=$("$PY" - "$ROOT/docs/sql.md" <<'PYEOF'
import re, sys
s = open(sys.argv[1]).read()
sec = s[s.index("### EVALUATE ADAPTER\n"):]
sec = sec[:sec.index("\n### ", 1)]
print(re.findall(r"```sql\n(.*?)```", sec, re.S)[1])
PYEOF
) || fail "no examples in docs/sql.md"
grep -q "EVALUATE ADAPTER sent@1 CONFUSION MATRIX" <<<"$examples" || fail "docs/sql.md examples: $examples"
out=$(sql "$examples" 2>&1) || fail "docs/sql.md EVALUATE examples: $out"
pass "docs/sql.md EVALUATE ADAPTER examples run"

# Privileges: SELECT on the source tables, checked as for the SELECT alone
# (go-mysql-server reports a denied table as 1105).
sql "CREATE USER 'ann'@'%' IDENTIFIED BY 'pw'; CREATE TABLE other (t TEXT, l TEXT); GRANT SELECT ON main.reviews TO 'ann'@'%'" || fail "users"
ann() { mariadb -h 127.0.0.1 -P "$PORT" -u ann -ppw --batch --skip-column-names main -e "$1" 2>&1; }
out=$(ann "EVALUATE ADAPTER sent AS SELECT t, l FROM other") && fail "ann read other: $out"
plain=$(ann "SELECT t, l FROM other") && fail "ann read other: $plain"
[ "${out##*: }" = "${plain##*: }" ] && grep -q "Access denied for user 'ann'@'%' to table 'other'" <<<"$out" ||
	fail "EVALUATE without SELECT on the source: [$out], plain SELECT: [$plain]"
pass "EVALUATE without SELECT on the source: refused as the SELECT is"
# It predicts, so it also needs EXECUTE on the adapter, as PREDICT does.
out=$(ann "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews") && fail "ann without EXECUTE: $out"
grep -q "ERROR 1142 .*EXECUTE command denied to user 'ann'@'%' for adapter 'sent'" <<<"$out" || fail "ann without EXECUTE: $out"
pass "EVALUATE without EXECUTE on the adapter -> ERROR 1142"
sql "GRANT EXECUTE ON ADAPTER sent TO 'ann'@'%'" || fail "grant"
got=$(ann "EVALUATE ADAPTER sent AS SELECT txt, label FROM reviews" | head -1) || fail "ann: $got"
[ "$got" = $'rows\t9' ] || fail "ann with SELECT on reviews and EXECUTE on sent: $got"
pass "EVALUATE with SELECT on the source and EXECUTE on the adapter"

stop_server
