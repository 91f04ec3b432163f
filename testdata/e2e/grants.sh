#!/usr/bin/env bash
# End-to-end checks of adapter privileges over the wire (mariadb client): the
# docs/sql.md "Adapter privileges" example as written, what an account without
# grants sees and may do (1142), the creator's rights, DROP taking the grants
# with it, SHOW GRANTS, grants kept across a restart, DROP USER taking the
# account's grants and creator rights, CURRENT_USER, REVOKE's 1147.
#
#   bash testdata/e2e/grants.sh bin/adapterdb
set -euo pipefail

source "$(dirname "$0")/lib.bash"

start_server

QUICK="OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8)"
sql "CREATE TABLE reviews (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10), topic VARCHAR(10));
INSERT INTO reviews VALUES (1, 'a wonderful film', 'pos', 'film'), (2, 'terrible boring plot', 'neg', 'film'),
 (3, 'delightful cast', 'pos', 'cast'), (4, 'awful acting', 'neg', 'cast');
CREATE ADAPTER sentiment $QUICK AS SELECT txt, label FROM reviews;
CREATE ADAPTER topic $QUICK AS SELECT txt, topic FROM reviews;" || fail "setup"

# as USER PASSWORD QUERY: rows tab-separated, no headers.
as() {
	local pw=()
	if [ -n "$2" ]; then pw=(-p"$2"); fi
	mariadb -h 127.0.0.1 -P "$PORT" -u "$1" "${pw[@]}" --batch --skip-column-names -e "$3" 2>&1
}
as_expect() {
	local got
	got=$(as "$1" "$2" "$3") || fail "$1: $3: $got"
	[ "$got" = "$4" ] || fail "$1: $3: got [$got], want [$4]"
	pass "$1: $3"
}
as_error() {
	local out
	if out=$(as "$1" "$2" "$3"); then fail "$1: $3: no error, want $4: $out"; fi
	grep -q "ERROR $4 " <<<"$out" || fail "$1: $3: got [$out], want ERROR $4"
	if [ $# -ge 5 ]; then grep -qF -- "$5" <<<"$out" || fail "$1: $3: [$out] lacks [$5]"; fi
	pass "$1: $3 -> ERROR $4"
}

# The docs' example, as written (root's part).
sql "CREATE USER 'analyst'@'%' IDENTIFIED BY 'secret';
GRANT SELECT ON main.* TO 'analyst'@'%';
GRANT SELECT ON adapterdb.* TO 'analyst'@'%';" || fail "CREATE USER"
# Before any adapter grant: nothing to see, nothing to use.
as_expect analyst secret "SHOW ADAPTERS" ""
as_expect analyst secret "SELECT name FROM adapterdb.adapters" ""
as_error analyst secret "SELECT PREDICT('sentiment', txt) FROM reviews" 1142 \
	"EXECUTE command denied to user 'analyst'@'%' for adapter 'sentiment'"
as_error analyst secret "SELECT PREDICT('nosuch', 'x')" 1305
sql "GRANT EXECUTE ON ADAPTER sentiment TO 'analyst'@'%';
GRANT ALTER, DROP ON ADAPTER sentiment TO 'analyst'@'%';
REVOKE DROP ON ADAPTER sentiment FROM 'analyst'@'%';" || fail "GRANT ... ON ADAPTER"
expect "SHOW GRANTS FOR 'analyst'@'%'" $'GRANT USAGE ON *.* TO `analyst`@`%`
GRANT SELECT ON `adapterdb`.* TO `analyst`@`%`
GRANT SELECT ON `main`.* TO `analyst`@`%`
GRANT EXECUTE, ALTER ON ADAPTER `sentiment` TO `analyst`@`%`'
# The analyst's part.
as_expect analyst secret "SHOW ADAPTERS" "$(sql "SHOW ADAPTERS" | grep '^sentiment')"
as_expect analyst secret "SELECT name FROM adapterdb.adapters" "sentiment"
as_expect analyst secret "SELECT COUNT(PREDICT('sentiment', txt)) FROM reviews" "4"
as_error analyst secret "SELECT PREDICT('topic', txt) FROM reviews" 1142 "for adapter 'topic'"
as_error analyst secret "DROP ADAPTER sentiment" 1142 "DROP command denied"
# A name from a column is checked too.
as_error analyst secret "SELECT PREDICT(CONCAT('to', 'pic'), txt) FROM reviews" 1142 "for adapter 'topic'"
as_error analyst secret "GRANT EXECUTE ON ADAPTER sentiment TO root@localhost" 1142 "GRANT command denied"
as_error analyst secret "GRANT EXECUTE ON ADAPTER topic TO 'analyst'@'%'" 1142

# ALTER: the analyst retrains sentiment; creator and grants stay.
as "analyst" secret "CREATE OR REPLACE ADAPTER sentiment $QUICK AS SELECT txt, label FROM reviews" >/dev/null || fail "analyst's retrain"
pass "analyst: CREATE OR REPLACE ADAPTER sentiment (ALTER)"
as_expect analyst secret "SELECT name FROM adapterdb.adapters" "sentiment"
# Versions are the adapter's: sentiment@1 is allowed, topic@1 is not; ALTER
# sets the active version; EVALUATE needs EXECUTE like PREDICT.
as_expect analyst secret "SELECT COUNT(PREDICT('sentiment@1', txt)) FROM reviews" "4"
as_error analyst secret "SELECT PREDICT('topic@1', txt) FROM reviews" 1142 "for adapter 'topic'"
as_expect analyst secret "ALTER ADAPTER sentiment SET ACTIVE VERSION 1" ""
as_error analyst secret "ALTER ADAPTER topic SET ACTIVE VERSION 1" 1142 "ALTER command denied"
as_expect analyst secret "EVALUATE ADAPTER sentiment AS SELECT txt, label FROM reviews" "$(sql "EVALUATE ADAPTER sentiment AS SELECT txt, label FROM reviews")"
as_error analyst secret "EVALUATE ADAPTER topic AS SELECT txt, topic FROM reviews" 1142 "EXECUTE command denied"

# A creator (global CREATE) owns what it makes and grants it.
sql "CREATE USER 'maker'@'%' IDENTIFIED BY 'pw'; GRANT SELECT, CREATE ON *.* TO 'maker'@'%';"
as "maker" pw "CREATE ADAPTER mine $QUICK AS SELECT txt, label FROM main.reviews" >/dev/null || fail "maker's CREATE"
as_error maker pw "DROP ADAPTER topic" 1142
as_expect maker pw "GRANT EXECUTE ON ADAPTER mine TO 'analyst'@'%'" ""
as_expect analyst secret "SELECT name FROM adapterdb.adapters ORDER BY name" $'mine\nsentiment'
as_error root "" "REVOKE DROP ON ADAPTER mine FROM 'analyst'@'%'" 1147 "no such grant"
as_error root "" "GRANT EXECUTE ON ADAPTER mine TO ghost" 1410
as_error root "" "GRANT SELECT ON ADAPTER mine TO 'analyst'@'%'" 1064 "expected EXECUTE, ALTER, DROP or ALL"

# Grants are in the database file: a restart keeps them.
stop_server
start_server
as_expect analyst secret "SELECT name FROM adapterdb.adapters ORDER BY name" $'mine\nsentiment'

# DROP takes the grants; a new adapter of that name has none.
as_expect maker pw "DROP ADAPTER mine" ""
sql "CREATE ADAPTER mine $QUICK AS SELECT txt, label FROM reviews" || fail "root's CREATE"
as_expect analyst secret "SELECT name FROM adapterdb.adapters ORDER BY name" "sentiment"
as_error analyst secret "SELECT PREDICT('mine', 'x')" 1142
# Root sees and uses everything.
expect "SELECT name FROM adapterdb.adapters ORDER BY name" $'mine\nsentiment\ntopic'
expect "SELECT COUNT(PREDICT('topic', txt)) FROM reviews" "4"

# DROP USER takes the account's adapter grants and creator rights: an account
# created again under the same name starts with nothing.
sql "CREATE USER 'bob'@'%' IDENTIFIED BY 'b'; GRANT CREATE, SELECT ON *.* TO 'bob'@'%';" || fail "CREATE USER bob"
as "bob" b "CREATE ADAPTER bobs $QUICK AS SELECT txt, label FROM main.reviews" >/dev/null || fail "bob's CREATE"
# CURRENT_USER is the session's account ('bob'@'%').
as_expect bob b "GRANT EXECUTE ON ADAPTER bobs TO CURRENT_USER" ""
expect "SHOW GRANTS FOR 'bob'@'%'" $'GRANT SELECT, CREATE ON *.* TO `bob`@`%`
GRANT EXECUTE ON ADAPTER `bobs` TO `bob`@`%`'
sql "DROP USER 'bob'@'%'; CREATE USER 'bob'@'%' IDENTIFIED BY 'b'; GRANT SELECT ON main.* TO 'bob'@'%';
DROP USER 'analyst'@'%'; CREATE USER 'analyst'@'%' IDENTIFIED BY 'secret';" || fail "DROP USER, CREATE USER"
expect "SHOW GRANTS FOR 'bob'@'%'" $'GRANT USAGE ON *.* TO `bob`@`%`
GRANT SELECT ON `main`.* TO `bob`@`%`'
expect "SHOW GRANTS FOR 'analyst'@'%'" 'GRANT USAGE ON *.* TO `analyst`@`%`'
as_expect bob b "SHOW ADAPTERS" ""
as_error bob b "SELECT PREDICT('bobs', 'x')" 1142 "for adapter 'bobs'"
as_error bob b "DROP ADAPTER bobs" 1142 "DROP command denied"
as_error root "" "REVOKE EXECUTE ON ADAPTER sentiment FROM 'nobody'@'%'" 1147 \
	"There is no such grant defined for user 'nobody' on host '%'"
as_error root "" "GRANT EXECUTE ON ADAPTER TO 'bob'@'%'" 1064 "expected an adapter name"
expect "DROP ADAPTER bobs" ""
stop_server
