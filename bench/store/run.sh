#!/bin/sh
# Store insert throughput on SQLite (file in a temp folder, WAL) and on a
# PostgreSQL started on loopback by tests/store/run_pg.sh with fsync on.
#   bench/store/run.sh BUILD_DIR [N]
set -eu
BIN=${1:-build-bench}/bin/bench_store
N=${2:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/cvoip-bench-store-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$BIN" "sqlite:$TMP/bench.db" "$N"
CV_PG_OPTS="-c fsync=on -c full_page_writes=on -c synchronous_commit=on" \
	"$HERE/../../tests/store/run_pg.sh" "$BIN" "$N"
