# Shared helpers for the transport integration scripts (sourced).
# Every server started here is stopped by its PID on exit.
set -u
B=${CV_BIN_DIR:?CV_BIN_DIR not set}
S=${CV_SOURCE_DIR:?CV_SOURCE_DIR not set}/tests/transport
PY=/usr/bin/python3
T=$(mktemp -d /tmp/cvtp.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok   $*"; }

# A free port for both UDP and TCP on 127.0.0.1 and ::1, claimed for this
# script (its pid is the owner) against every test running in parallel by
# tests/integration/cvtest.py's free_port: from above the kernel's ephemeral
# range, one claim per port (the servers bind with SO_REUSEPORT, so a
# probed-then-closed port could be handed to two tests).
free_port() {
	$PY -c 'import sys; sys.path.insert(0, sys.argv[1]); import cvtest
print(cvtest.free_port(hosts=("127.0.0.1", "::1"), owner=int(sys.argv[2])))' \
		"$S/../integration" "$$"
}

# start_server NAME ARGS...: runs tp_server, waits for "ready" (5 s max).
start_server() {
	name=$1; shift
	"$B/tp_server" "$@" > "$T/$name.out" 2> "$T/$name.err" &
	pid=$!
	PIDS="$PIDS $pid"
	eval "PID_$name=$pid"
	for _ in $(seq 50); do
		grep -q '^ready' "$T/$name.out" 2>/dev/null && return 0
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	cat "$T/$name.err"
	fail "server $name did not start"
}

# stop_server NAME: SIGTERM, wait, print its stats line into $T/NAME.stats.
stop_server() {
	eval "pid=\$PID_$1"
	kill "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	grep '^stats' "$T/$1.out" > "$T/$1.stats" || fail "no stats from $1"
	if grep -q "ERROR: AddressSanitizer\|runtime error:" "$T/$1.err"; then
		cat "$T/$1.err"; fail "sanitizer report in $1"
	fi
	[ $rc -eq 0 ] || { tail -20 "$T/$1.err"; fail "$1 exited with $rc"; }
}

# stat NAME KEY: a counter from the stats line.
stat() { grep -o " $2=[0-9]*" "$T/$1.stats" | cut -d= -f2; }

certs() {
	[ -f "$T/certs/server.pem" ] || "$CV_SOURCE_DIR/tests/tools/make-certs.sh" "$T/certs" >/dev/null
}
