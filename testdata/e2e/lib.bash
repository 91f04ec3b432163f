# Shared helpers for the end-to-end scripts in this folder (sourced, not run:
# `make e2e` runs only *.sh). A script sets nothing before sourcing it except
# its binary argument; it gets:
#
#   BIN ROOT MODEL WORK PY PORT   paths, the Python with PyMySQL, the server's port
#   start_server                 start `adapterdb serve` on MODEL and WORK/e2e.db
#   stop_server                  SIGTERM, and check the clean stop
#   sql QUERY                    rows tab-separated, no headers
#   expect QUERY WANT            the rows must equal WANT
#   expect_error QUERY CODE [T]  the client reports ERROR CODE (and text T)
#   fail MSG / pass MSG
#
# Extra serve flags: set SERVE_FLAGS (an array) before start_server.
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SERVE_FLAGS=()
MODEL=$ROOT/testdata/models/bert-tiny
WORK=$(mktemp -d)
mkdir -p "$WORK/files"
SERVER=""
PY=python3
if /usr/bin/python3 -c 'import pymysql' 2>/dev/null; then PY=/usr/bin/python3; fi

cleanup() {
	if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then kill -KILL "$SERVER" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$WORK/server.log" ]; then echo "--- server log (tail)" >&2; tail -20 "$WORK/server.log" >&2; fi
	exit 1
}
pass() { echo "ok   $*"; }

for tool in mariadb "$PY"; do
	command -v "$tool" >/dev/null || fail "$tool is missing (run make deps)"
done
"$PY" -c 'import pymysql' 2>/dev/null || fail "PyMySQL is missing (run make deps)"

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PORT=""
start_server() {
	PORT=$(free_port)
	"$BIN" serve --db "$WORK/e2e.db" --model "$MODEL" --listen "127.0.0.1:$PORT" --files-dir "$WORK/files" \
		--max-text-bytes 4096 --batch 16 --shutdown-grace 2s "${SERVE_FLAGS[@]}" >>"$WORK/server.log" 2>&1 &
	SERVER=$!
	for _ in $(seq 100); do
		if mariadb -h 127.0.0.1 -P "$PORT" -u root -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
		kill -0 "$SERVER" 2>/dev/null || fail "server exited at start"
		sleep 0.1
	done
	fail "server did not start"
}

stop_server() {
	kill -TERM "$SERVER"
	local status=0
	wait "$SERVER" || status=$?
	SERVER=""
	[ "$status" = 0 ] || fail "server exited with status $status on SIGTERM"
	grep -q "server stopped" "$WORK/server.log" || fail "no clean stop in the log"
}

# sql QUERY: rows tab-separated, no headers.
sql() { mariadb -h 127.0.0.1 -P "$PORT" -u root --batch --skip-column-names --default-character-set=utf8mb4 -e "$1"; }

# expect QUERY WANT
expect() {
	local got
	got=$(sql "$1" 2>&1) || fail "$1: $got"
	[ "$got" = "$2" ] || fail "$1: got [$got], want [$2]"
	pass "$1"
}

# expect_error QUERY CODE [TEXT]: the client reports ERROR CODE (and TEXT).
expect_error() {
	local out
	if out=$(sql "$1" 2>&1); then fail "$1: no error, want $2"; fi
	grep -q "ERROR $2 " <<<"$out" || fail "$1: got [$out], want ERROR $2"
	if [ $# -ge 3 ]; then grep -qF -- "$3" <<<"$out" || fail "$1: [$out] lacks [$3]"; fi
	pass "$1 -> ERROR $2"
}

