#!/bin/bash
# Issue 7 benchmark: (a) CPU per complete call (INVITE..BYE, no media) of a
# cvoip UAS (bench_uas: the session layer on one worker) against SIPp's
# own UAS, both driven by the same SIPp UAC at a fixed rate, interleaved;
# (b) memory per confirmed dialog: N calls held open, bytes cvoip holds
# (cv_mem_live_bytes) and RSS growth, divided by N.
#   bench/session/run.sh BUILD_DIR [RATE] [SECONDS] [TRIALS] [DIALOGS...|none]
# (SETTLE=40: seconds between the two memory readings; MEMRATE: setup rate)
set -u
BD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
RATE=${2:-1000}
DUR=${3:-10}
TRIALS=${4:-3}
shift $(($# < 4 ? $# : 4))
DIALOGS=${*:-10000 100000}
[ "$DIALOGS" = none ] && DIALOGS= # CPU only
T=$(mktemp -d /tmp/cvbench-uas.XXXXXX)
HZ=$(getconf CLK_TCK)
# free ports (fixed ones collide with other benchmarks' relays)
free_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
CPORT=$(free_port)
UPID=""
trap '[ -n "$UPID" ] && kill $UPID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }

start() { # cvoip|sipp
	if [ $1 = cvoip ]; then
		"$BD/bin/bench_uas" udp:127.0.0.1:$PORT > $T/uas.out 2>&1 &
	else
		(cd $T && exec sipp -sn uas -t u1 -i 127.0.0.1 -p $PORT -nostdin > /dev/null 2>&1) &
	fi
	UPID=$!
	sleep 1
}

stop() { kill $UPID 2>/dev/null; wait $UPID 2>/dev/null; UPID=""; }

trial() { # cvoip|sipp -> us per call, or invalid
	start $1
	local n=$((RATE * DUR)) c0 c1 ok bad
	c0=$(ticks $UPID)
	(cd $T && timeout $((DUR * 3 + 30)) sipp -sn uac -t u1 -i 127.0.0.1 -p $CPORT \
		127.0.0.1:$PORT -r $RATE -rp 1000 -m $n -d 0 -nostdin \
		-timeout $((DUR * 3 + 20))s -trace_stat -stf $T/stat.csv > /dev/null 2>&1)
	c1=$(ticks $UPID)
	stop
	ok=$(tail -1 $T/stat.csv | awk -F';' '{print $16}')
	bad=$(tail -1 $T/stat.csv | awk -F';' '{print $18}')
	rm -f $T/stat.csv
	if [ -z "$ok" ] || [ "$ok" -eq 0 ] || [ $((bad * 1000)) -gt "$ok" ]; then
		echo invalid
	else
		awk -v t=$((c1 - c0)) -v hz=$HZ -v n=$ok 'BEGIN{printf "%.1f", t * 1e6 / hz / n}'
	fi
}

summary() {
	local label=$1
	shift
	echo "$@" | tr ' ' '\n' | grep -v invalid | sort -n |
		awk -v l="$label" -v all="$*" '{a[NR]=$1} END {
			if (NR == 0) { printf "%-32s all trials invalid (%s)\n", l, all; exit }
			printf "%-32s %8.1f us/call (min %.1f max %.1f, %d valid)\n", l, a[int((NR+1)/2)], a[1], a[NR], NR }'
}

echo "UAS CPU per call @${RATE}/s, $(nproc) cores, $(date -u +%FT%TZ)"
declare -A R=()
for i in $(seq $TRIALS); do
	for s in cvoip sipp; do
		R[$s]="${R[$s]:-} $(trial $s)"
	done
done
[ "$TRIALS" -gt 0 ] && summary "cvoip UAS (session layer)" ${R[cvoip]}
[ "$TRIALS" -gt 0 ] && summary "SIPp UAS (sipp -sn uas)" ${R[sipp]}

# Memory: N calls set up and held; measured once all are answered (the
# INVITE server transactions still in RFC 6026 Accepted state, Timer L =
# 64*T1 = 32 s) and again after SETTLE seconds, when only the confirmed
# dialogs and their calls are left.
SETTLE=${SETTLE:-40}
measure() { # label n base_bytes base_rss
	kill -USR1 $UPID
	sleep 0.5
	tail -1 $T/uas.out | awk -v l="$1" -v n=$2 -v b=$3 -v r0=$4 -v r1=$(rss_kb $UPID) '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		d = v["dialogs"]
		if (d < n * 0.99) { printf "%d dialogs %s: only %d held (invalid)\n", n, l, d; exit }
		printf "%d confirmed dialogs, %s: %.0f B each counted by cvoip (%d objects), %.0f B each of heap in use (malloc), %.0f B each by RSS\n",
			d, l, (v["live_bytes"] - b) / d, (v["live_objects"] - o) / d, (v["heap_bytes"] - h) / d, (r1 - r0) * 1024 / d }' o=$5 h=$6
}
for n in $DIALOGS; do
	start cvoip
	kill -USR1 $UPID
	sleep 0.3
	base_b=$(tail -1 $T/uas.out | sed 's/.*live_bytes=\([0-9]*\).*/\1/')
	base_o=$(tail -1 $T/uas.out | sed 's/.*live_objects=\([0-9]*\).*/\1/')
	base_h=$(tail -1 $T/uas.out | sed 's/.*heap_bytes=\([0-9]*\).*/\1/')
	base_rss=$(rss_kb $UPID)
	# SIPp sets up about 2500 calls/s here without losing any
	rate=${MEMRATE:-$((n / 10 > 2500 ? 2500 : (n / 10 > 1000 ? n / 10 : 1000)))}
	hold=$(( (n / rate + SETTLE + 30) * 1000 ))
	(cd $T && exec timeout $((n / rate + SETTLE + 60)) sipp -sn uac -t u1 -i 127.0.0.1 -p $CPORT \
		127.0.0.1:$PORT -r $rate -rp 1000 -m $n -d $hold -l $((n + 100)) -nostdin \
		-max_socket 65000 > /dev/null 2>&1) &
	SP=$!
	sleep $((n / rate + 5))
	measure "transactions in Timer L" $n $base_b $base_rss $base_o $base_h
	sleep $SETTLE
	measure "held ${SETTLE}s later" $n $base_b $base_rss $base_o $base_h
	kill $SP 2>/dev/null
	wait $SP 2>/dev/null
	stop
done
