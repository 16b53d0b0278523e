#!/bin/sh
# Runs the store test suite (or any command taking a URL) against a real
# PostgreSQL started here: a throw-away cluster in a temp folder, listening
# on 127.0.0.1 at a free port with its unix socket in the same folder,
# always stopped and removed on exit. As root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root).
#
#   run_pg.sh TEST_BINARY [extra args...]   -> TEST_BINARY URL [extra args]
#
# Exit 77 (ctest SKIP) only when the PostgreSQL server binaries are missing.
set -eu

PGBIN=${CV_PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ] || [ ! -x "$PGBIN/postgres" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			PGBIN=$d
		fi
	done
fi
if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ] || [ ! -x "$PGBIN/postgres" ]; then
	echo "SKIP: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in /usr/lib/postgresql/*/bin; install postgresql-15"
	exit 77
fi
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [args]" >&2; exit 2; }

TMP=$(mktemp -d /tmp/cvoip-pg-XXXXXX)
chmod 755 "$TMP"
mkdir "$TMP/sock"

# as_pg CMD: runs a shell command as the cluster owner.
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || { echo "FAIL: running as root and no 'postgres' user" >&2; exit 1; }
	chown -R postgres "$TMP"
	if command -v runuser >/dev/null 2>&1; then
		as_pg() { runuser -u postgres -- /bin/sh -c "$1"; }
		AS_PG_PREFIX="runuser -u postgres -- /bin/sh -c"
	else
		as_pg() { su postgres -s /bin/sh -c "$1"; }
		AS_PG_PREFIX="su postgres -s /bin/sh -c"
	fi
else
	as_pg() { /bin/sh -c "$1"; }
	AS_PG_PREFIX="/bin/sh -c"
fi

cleanup() {
	as_pg "'$PGBIN/pg_ctl' -D '$TMP/data' -m immediate stop" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
	else
		echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
	fi
}

as_pg "'$PGBIN/initdb' -D '$TMP/data' -U cvoip --auth=trust -E UTF8 --no-sync --no-instructions" >"$TMP/initdb.log" 2>&1 || {
	cat "$TMP/initdb.log" >&2; echo "FAIL: initdb" >&2; exit 1; }

# Test-only settings: no fsync (the durability tests kill the client, not
# the server), small footprint. CV_PG_OPTS adds or overrides server options
# (the benchmark turns fsync back on).
PORT=
for attempt in 1 2 3 4 5; do
	PORT=$(free_port)
	OPTS="-c listen_addresses=127.0.0.1 -p $PORT -k $TMP/sock -c fsync=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=40 ${CV_PG_OPTS:-}"
	PG_START="'$PGBIN/pg_ctl' -D '$TMP/data' -l '$TMP/server.log' -w -t 30 -o '$OPTS' start"
	if as_pg "$PG_START" >/dev/null 2>&1; then
		break
	fi
	PORT=
done
[ -n "$PORT" ] || { cat "$TMP/server.log" >&2 || true; echo "FAIL: postgres did not start" >&2; exit 1; }

"$PGBIN/../bin/createdb" -h 127.0.0.1 -p "$PORT" -U cvoip cvoip 2>/dev/null ||
	as_pg "'$PGBIN/createdb' -h 127.0.0.1 -p $PORT -U cvoip cvoip"

URL="postgresql://cvoip@127.0.0.1:$PORT/cvoip"
# For the test that takes the server away and brings it back.
CV_PG_STOP="$AS_PG_PREFIX \"'$PGBIN/pg_ctl' -D '$TMP/data' -m fast -w stop\" >/dev/null"
CV_PG_START="$AS_PG_PREFIX \"$PG_START\" >/dev/null"
export CV_PG_STOP CV_PG_START
echo "# PostgreSQL $("$PGBIN/postgres" --version | awk "{print \$3}") at $URL"
cmd=$1
shift
rc=0
"$cmd" "$URL" "$@" || rc=$?
exit $rc
