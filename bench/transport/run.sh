#!/bin/bash
# Stateless OPTIONS: cvoip (tp_server: runtime + transport + stateless
# responder; 1 worker; 2 workers answering where a datagram lands
# (cvoip2-local, deliver_local) or on its Call-ID owner (cvoip2, half
# handed over); UDP batch 16 and 1) vs Kamailio 5.6
# (sl_send_reply, -x tlsf -X tlsf, children=1) vs the UDP floor, driven by
# SIPp at fixed rates, interleaved, 3 trials each (BENCHMARKING.md).
# Prints server CPU microseconds per message (median, min-max) and the
# cost above the floor, and the load average before and after.
#   [SERVERS="floor cvoip1 ..."] bench/transport/run.sh BUILD_DIR [RATES] [SECONDS] [TRIALS]
set -u
BD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
RATES=${2:-"2000 4000"}
DUR=${3:-10}
TRIALS=${4:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d /tmp/cvbench.XXXXXX)
HZ=$(getconf CLK_TCK)
PORT=${PORT:-25060} # server; SIPp uses PORT+10 (both moved on if taken)
SPID=""
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
[ -x "$BD/bin/tp_server" ] && [ -x "$BD/bin/udp_floor" ] || { echo "build tp_server and udp_floor (-DCV_BENCH=ON) first"; exit 1; }

cpu_ns() { # CPU time (utime+stime) of a process, its threads and children
	# (Kamailio), in ns: each task's schedstat run time, the quantity
	# /proc/<pid>/stat reports in 10 ms ticks (0.5 us per message at
	# 2000/s for 10 s: too coarse for a 3 us difference). Falls back to
	# the ticks where schedstat is missing.
	local t=0 p f
	for p in $1 $(pgrep -P $1); do
		[ -r /proc/$p/stat ] || continue
		if [ -r /proc/$p/schedstat ]; then
			for f in /proc/$p/task/*/schedstat; do
				t=$((t + $(cut -d' ' -f1 $f 2>/dev/null || echo 0)))
			done
		else
			t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat) * 1000000000 / HZ))
		fi
	done
	echo $t
}

port_free() { # [port] no stray server may share it through SO_REUSEPORT
	/usr/bin/python3 -c "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', ${1:-$PORT}))" 2>/dev/null
}

# Another program (an rtpengine port range...) may hold or take ports at
# any time: each trial looks for a free server/SIPp pair from PORT on.
pick_ports() {
	PORT=$BASE_PORT
	for i in $(seq 0 200); do
		port_free $PORT && port_free $((PORT + 10)) && return 0
		PORT=$((PORT + 37))
	done
	echo "no free port pair" >&2
	return 1
}
BASE_PORT=$PORT

start() { # name
	port_free || { echo "port $PORT busy" >&2; exit 1; }
	case $1 in
	cvoip1) "$BD/bin/tp_server" -w 1 -l udp:127.0.0.1:$PORT > /dev/null 2>&1 & ;;
	cvoip2) "$BD/bin/tp_server" -w 2 -l udp:127.0.0.1:$PORT > /dev/null 2>&1 & ;;
	cvoip2-local) "$BD/bin/tp_server" -w 2 --local -l udp:127.0.0.1:$PORT > /dev/null 2>&1 & ;;
	cvoip1-nobatch) "$BD/bin/tp_server" -w 1 -b 1 -l udp:127.0.0.1:$PORT > /dev/null 2>&1 & ;;
	kamailio) mkdir -p $T/kam; kamailio -f "$HERE/kamailio-sl.cfg" \
		-L /usr/lib/x86_64-linux-gnu/kamailio/modules -x tlsf -X tlsf \
		-DD -E -l udp:127.0.0.1:$PORT -m 64 -M 8 -Y $T/kam > $T/kam.log 2>&1 & ;;
	floor) "$BD/bin/udp_floor" $PORT & ;;
	esac
	SPID=$!
	sleep 1.5
}

trial() { # name rate -> prints us/msg or "invalid"
	local name=$1 rate=$2 n=$(($2 * DUR))
	pick_ports || { echo invalid; return; }
	start $name
	local c0=$(cpu_ns $SPID)
	(cd $T && timeout $((DUR * 3 + 20)) sipp -sf "$SRC/tests/transport/options_uac.xml" \
		-t u1 -i 127.0.0.1 -p $((PORT + 10)) 127.0.0.1:$PORT -r $rate -rp 1000 -m $n \
		-buff_size 4194304 \
		-nostdin -timeout $((DUR * 3))s -trace_stat -stf $T/stat.csv > /dev/null 2>&1)
	local c1=$(cpu_ns $SPID)
	kill $SPID; wait $SPID 2>/dev/null; SPID=""
	local ok=$(tail -1 $T/stat.csv | awk -F';' '{print $16}') # SuccessfulCall(C)
	local bad=$(tail -1 $T/stat.csv | awk -F';' '{print $18}') # FailedCall(C)
	rm -f $T/stat.csv
	# invalid: more than 0.1 % of the n calls failed or never finished
	if [ -z "$ok" ] || [ "$ok" -eq 0 ] || [ $((bad * 1000)) -gt "$ok" ] ||
		[ $((ok * 1000)) -lt $((n * 999)) ]; then
		echo invalid; return
	fi
	# one request + one response per call
	awk -v t=$((c1 - c0)) -v n=$ok 'BEGIN{printf "%.2f", t / 1e3 / n}'
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-16s %6s %22s %16s\n" server rate "us/msg median (min-max)" "above floor"
for rate in $RATES; do
	declare -A res=() meds=()
	for i in $(seq $TRIALS); do
		for s in ${SERVERS:-floor cvoip1 kamailio cvoip2-local cvoip2 cvoip1-nobatch}; do
			res[$s]="${res[$s]:-} $(trial $s $rate)"
		done
	done
	fl=$(echo ${res[floor]:-0} | tr ' ' '\n' | grep -v invalid | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	for s in ${SERVERS:-floor cvoip1 cvoip2-local cvoip2 cvoip1-nobatch kamailio}; do
		v=$(echo ${res[$s]} | tr ' ' '\n' | grep -v invalid | sort -n)
		nv=$(echo "$v" | grep -c .)
		if [ "$nv" -eq 0 ]; then printf "%-16s %6s %22s\n" $s $rate "invalid"; continue; fi
		med=$(echo "$v" | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
		meds[$s]=$med
		printf "%-16s %6s %8s (%s-%s) n=%d %12s\n" $s $rate $med $(echo "$v" | head -1) \
			$(echo "$v" | tail -1) $nv $(awk -v m=$med -v f=$fl 'BEGIN{printf "%.2f", m - f}')
	done
	# ratios against Kamailio: in total, and of the cost above the floor
	k=${meds[kamailio]:-}
	for s in ${!meds[@]}; do
		case $s in cvoip*) ;; *) continue ;; esac
		[ -n "$k" ] && awk -v s=$s -v r=$rate -v c=${meds[$s]} -v k=$k -v f=$fl \
			'BEGIN{printf "%-16s %6s vs kamailio %.2fx, above the floor %.2fx\n", s, r, c / k, (k > f) ? (c - f) / (k - f) : 0}'
	done
	unset res meds
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
