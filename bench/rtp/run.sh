#!/bin/sh
# Interleaved relay trials (BENCHMARKING.md): cvoip (epoll mode), cvoip in
# io_uring mode, rtpengine, floor, floor2 (relay-shaped floor), x3, for 1000
# and 5000 streams at 50 packets/s each, 15 s measured per trial.
# usage: bench/rtp/run.sh BUILD_DIR [SECONDS] [STREAMS...]
set -e
B=${1:-build-bench}
S=${2:-15}
shift 2 2>/dev/null || true
STREAMS=${*:-"1000 5000"}
BIN=$B/bin/bench_rtp_relay
for n in $STREAMS; do
	for t in 1 2 3; do
		$BIN cvoip "$n" "$S"
		$BIN cvoip-uring "$n" "$S"
		if command -v rtpengine >/dev/null 2>&1; then
			# rtpengine logs every queue overrun on stderr
			$BIN rtpengine "$n" "$S" 2>/dev/null || echo "rtpengine streams=$n failed"
		fi
		$BIN floor "$n" "$S"
		$BIN floor2 "$n" "$S"
	done
done
