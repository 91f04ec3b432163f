#!/usr/bin/env bash
# End-to-end checks of the server's connection handling with real clients:
# sockets that never log in are closed after --connect-timeout, clients past
# --max-connections get 1040, idle sessions end after --wait-timeout, every
# refused login is the same 1045, and SQL PREPARE works from the mariadb
# client.
#
#   bash testdata/e2e/server.sh bin/adapterdb
set -euo pipefail

source "$(dirname "$0")/lib.bash"

SERVE_FLAGS=(--max-connections 3 --connect-timeout 2s --wait-timeout 1s)
start_server

expect "SELECT @@max_connections, @@connect_timeout, @@wait_timeout" "3	2	1"

# Sockets that never speak take no logged-in client's slot (up to
# --max-connections of them), and the server closes them after
# --connect-timeout (cat ends at their EOF).
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT"
expect "SELECT 1" "1"
for fd in 3 4; do
	timeout 5 cat <&"$fd" >/dev/null || fail "socket $fd not closed after --connect-timeout"
done
exec 3<&- 4<&-
pass "silent sockets closed after --connect-timeout"

# Past the limit with logged-in clients: 1040 for PyMySQL and the mariadb
# client; and idle sessions ended by --wait-timeout.
"$PY" - "$PORT" <<'PYEOF'
import subprocess, sys, time, pymysql
port = int(sys.argv[1])
conn = lambda: pymysql.connect(host="127.0.0.1", port=port, user="root", database="main")
held = [conn() for _ in range(3)]
try:
    conn()
    raise SystemExit("a 4th client got in with --max-connections 3")
except pymysql.err.OperationalError as e:
    assert e.args[0] == 1040 and "Too many connections" in e.args[1], e.args
out = subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(port), "-u", "root", "-e", "SELECT 1"],
                     capture_output=True, text=True)
assert out.returncode != 0 and "ERROR 1040 (08004): Too many connections" in out.stderr, out
held.pop().close()
time.sleep(0.2)
c = conn()
c.cursor().execute("SELECT SLEEP(1.5)")  # a query longer than --wait-timeout is not cut
time.sleep(2)
try:
    c.cursor().execute("SELECT 1")
    raise SystemExit("a session idle for 2 s survived --wait-timeout 1s")
except pymysql.err.OperationalError as e:
    assert e.args[0] in (2006, 2013), e.args
print("ok   PyMySQL and mariadb: 1040 past --max-connections; --wait-timeout")
PYEOF

# A refused login says nothing about which users exist.
sql "CREATE USER 'alice'@'%' IDENTIFIED BY 'secret'"
login_error() { mariadb -h 127.0.0.1 -P "$PORT" -u "$1" "${@:2}" -e "SELECT 1" 2>&1 && fail "$1 logged in"; }
got=$(login_error alice -pwrong || true)
[ "$got" = "ERROR 1045 (28000): Access denied for user 'alice'@'127.0.0.1' (using password: YES)" ] || fail "known user: $got"
got=$(login_error ghost -pwrong || true)
[ "$got" = "ERROR 1045 (28000): Access denied for user 'ghost'@'127.0.0.1' (using password: YES)" ] || fail "unknown user: $got"
got=$(login_error ghost || true)
[ "$got" = "ERROR 1045 (28000): Access denied for user 'ghost'@'127.0.0.1' (using password: NO)" ] || fail "unknown user, no password: $got"
pass "unknown user and wrong password: the same 1045"

# SQL-level prepared statements from the mariadb client (the OK packet of
# PREPARE carries no info string: see withoutInfo in server/server.go).
expect "PREPARE s FROM 'SELECT 1 + ?'; SET @a = 2; EXECUTE s USING @a; DEALLOCATE PREPARE s" "3"
expect "CREATE TABLE t (a INT PRIMARY KEY); INSERT INTO t VALUES (1), (2); UPDATE t SET a = a + 10; SELECT SUM(a) FROM t" "23"

stop_server
