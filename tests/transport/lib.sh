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

# A free port for both UDP and TCP on 127.0.0.1 and ::1 (bounded tries),
# claimed for this script against every test running in parallel the way
# tests/integration/cvtest.py claims them: from above the kernel's
# ephemeral range, one directory per port holding the owner's pid (the
# servers bind with SO_REUSEPORT, so a probed-then-closed port could be
# handed to two tests).
free_port() {
	$PY - "$$" <<'PY'
import os, random, socket, sys, time
owner = int(sys.argv[1])
top = "/tmp/cvoip-test-ports"
os.makedirs(top, exist_ok=True)

def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True

def claim(port):
    d = os.path.join(top, str(port))
    for _ in range(2):
        try:
            os.mkdir(d)
        except FileExistsError:
            try:
                pid = int(open(os.path.join(d, "pid")).read().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if (pid and alive(pid)) or (not pid and time.time() - os.stat(d).st_mtime < 30):
                return False
            try:
                gone = "%s.stale.%d.%d" % (d, os.getpid(), time.monotonic_ns())
                os.rename(d, gone)
                for n in os.listdir(gone):
                    os.unlink(os.path.join(gone, n))
                os.rmdir(gone)
            except OSError:
                return False
            continue
        open(os.path.join(d, "pid"), "w").write(str(owner))
        return True
    return False

for _ in range(500):
    p = random.randint(61000, 65499)
    if not claim(p):
        continue
    try:
        for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(fam, t); s.bind((host, p)); s.close()
        print(p); break
    except OSError:
        pass
PY
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
