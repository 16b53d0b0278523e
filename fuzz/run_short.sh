#!/bin/sh
# Short libFuzzer run for `make test`: new inputs go to a temporary folder,
# never into the seed corpus in the source tree.
# usage: run_short.sh FUZZER CORPUS SECONDS
set -eu
bin=$1; corpus=$2; secs=${3:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
exec_rc=0
"$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$tmp/" "$tmp" "$corpus" || exec_rc=$?
if [ "$exec_rc" -ne 0 ]; then
	for f in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* "$tmp"/oom-*; do
		[ -e "$f" ] || continue
		echo "finding: $f"; od -c "$f" | head -40
	done
fi
exit "$exec_rc"
