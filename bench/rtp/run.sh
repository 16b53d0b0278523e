#!/bin/sh
# Interleaved relay trials (BENCHMARKING.md): cvoip (epoll mode), cvoip in
# io_uring mode, rtpengine, floor, floor2 (relay-shaped floor), x3, for 1000
# and 5000 streams at 50 packets/s each, 15 s measured per trial (after 4 s
# of warm-up).
# usage: bench/rtp/run.sh BUILD_DIR [SECONDS] [STREAMS...]
# MODES="..." overrides the modes of each trial, e.g.
#   MODES="cvoip cvoip-noconn floor2 floor2c" bench/rtp/run.sh build 10 1000
# (cvoip-noconn / cvoip-uring-noconn: settled legs not connected; floor2c:
# floor2 with connected sockets; see bench_rtp_relay.c).
set -e
B=${1:-build-bench}
S=${2:-15}
shift 2 2>/dev/null || true
STREAMS=${*:-"1000 5000"}
MODES=${MODES:-"cvoip cvoip-uring rtpengine floor floor2"}
BIN=$B/bin/bench_rtp_relay
for n in $STREAMS; do
	for t in 1 2 3; do
		for m in $MODES; do
			if [ "$m" = rtpengine ]; then
				command -v rtpengine >/dev/null 2>&1 || continue
				# rtpengine logs every queue overrun on stderr
				$BIN rtpengine "$n" "$S" 2>/dev/null ||
					echo "rtpengine streams=$n failed"
			else
				$BIN "$m" "$n" "$S"
			fi
		done
	done
done
