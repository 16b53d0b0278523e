#!/bin/bash
# cvoipd against Kamailio 5.6 (TLSF allocator, children=1) in one session,
# interleaved, driven by the same SIPp scenarios at fixed rates
# (../../shared/BENCHMARKING.md):
#   (a) REGISTER with digest (401 + 200)
#   (b) a complete call INVITE (407, INVITE with credentials) .. BYE,
#       cvoipd as a signalling-only B2BUA (media direct) versus Kamailio
#       as a record-routing stateful proxy (tm + rr) with proxy auth.
# Prints server CPU microseconds per operation (median, min-max of TRIALS).
#   bench/server/run.sh BUILD_DIR [REG_RATE] [CALL_RATE] [SECONDS] [TRIALS]
# PARTS="reg" or PARTS="call" in the environment runs only that part;
# PARTS="maxrate" (benchmark (d)) offers calls at each of RATES (default
# "1000 2000 3000 4000 5000 6000") for SECONDS to each server and prints
# successful and failed calls, up to the first rate with a failed call;

# BENCH_PORT=N uses ports N, N+20, N+30 instead of 26060, 26080, 26090
# (keep them below 32768, outside the kernel's ephemeral range, where
# other programs' randomly bound ports cannot take them).
set -u
BD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
REG_RATE=${2:-2000}
CALL_RATE=${3:-1000}
DUR=${4:-10}
TRIALS=${5:-3}
PARTS=${PARTS:-reg call}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d /tmp/cvbench-srv.XXXXXX)
HZ=$(getconf CLK_TCK)
# BENCH_PORT moves the three ports (helpers benchmarking side by side)
PORT=${BENCH_PORT:-26060}
UAS=$((PORT + 20))
UAC=$((PORT + 30))
SPID=""
UPID=""
cleanup() {
	[ -n "$SPID" ] && kill $SPID 2>/dev/null
	[ -n "$UPID" ] && kill $UPID 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
[ -x "$BD/bin/cvoipd" ] && [ -x "$BD/bin/cvoip" ] || { echo "build cvoipd and cvoip in $BD first"; exit 1; }

# cvoipd: the demo users, one worker, media not anchored
sed -e 's/^  workers: .*/  workers: 1/' -e 's/^  log_level: .*/  log_level: warn/' \
	-e 's/^  relay: true/  relay: false/' -e '/^  event_log:/d' "$SRC/etc/cvoipd.demo.yaml" > $T/cvoipd.yaml

cpu_ticks() { # utime+stime of a process and its children (Kamailio forks)
	local t=0 p
	for p in $1 $(pgrep -P $1); do
		[ -r /proc/$p/stat ] || continue
		t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat)))
	done
	echo $t
}

start() { # cvoipd|kamailio
	case $1 in
	cvoipd)
		rm -f $T/db*
		"$BD/bin/cvoipd" --config $T/cvoipd.yaml --listen udp:127.0.0.1:$PORT \
			--db sqlite:$T/db > $T/cvoipd.log 2>&1 &
		;;
	kamailio)
		mkdir -p $T/kam
		kamailio -f "$HERE/kamailio.cfg" -L /usr/lib/x86_64-linux-gnu/kamailio/modules \
			-x tlsf -X tlsf -DD -E -l udp:127.0.0.1:$PORT -m 256 -M 16 -Y $T/kam \
			> $T/kam.log 2>&1 &
		;;
	esac
	SPID=$!
	sleep 1.5
}

stop() {
	kill $SPID 2>/dev/null
	wait $SPID 2>/dev/null
	SPID=""
}

# successful calls, or "invalid" when more than 0.1 % failed
sipp_ok() {
	local ok bad
	ok=$(tail -1 $T/stat.csv | awk -F';' '{print $16}')
	bad=$(tail -1 $T/stat.csv | awk -F';' '{print $18}')
	rate=$(tail -1 $T/stat.csv | awk -F';' '{print $8}')
	echo "${ok:-0} ${bad:-0} ${rate:-0}" > $T/counts
	rm -f $T/stat.csv
	if [ -z "$ok" ] || [ "$ok" -eq 0 ] || [ $((bad * 1000)) -gt "$ok" ]; then
		echo invalid
	else
		echo $ok
	fi
}

per_op() { # ticks ok
	[ "$2" = invalid ] && { echo invalid; return; }
	awk -v t=$1 -v hz=$HZ -v n=$2 'BEGIN{printf "%.1f", t * 1e6 / hz / n}'
}

reg_trial() { # server
	start $1
	local n=$((REG_RATE * DUR)) c0 c1
	c0=$(cpu_ticks $SPID)
	(cd $T && timeout $((DUR * 3 + 30)) sipp -sf "$HERE/register_auth.xml" -t u1 \
		-i 127.0.0.1 -p $UAC 127.0.0.1:$PORT -r $REG_RATE -rp 1000 -m $n -nostdin \
		-timeout $((DUR * 3))s -trace_stat -stf $T/stat.csv > /dev/null 2>&1)
	c1=$(cpu_ticks $SPID)
	stop
	per_op $((c1 - c0)) $(sipp_ok)
}

call_trial() { # server
	start $1
	# bob's binding points at the SIPp UAS port
	"$BD/bin/cvoip" register sip:bob@127.0.0.1 --registrar sip:127.0.0.1:$PORT \
		--auth bob:bob-secret --once --listen udp:127.0.0.1:$UAS > /dev/null 2>&1 ||
		{ stop; echo invalid; return; }
	(cd $T && exec sipp -sf "$HERE/uas.xml" -t u1 -i 127.0.0.1 -p $UAS -nostdin \
		> /dev/null 2>&1) &
	UPID=$!
	sleep 0.5
	local n=$((CALL_RATE * DUR)) c0 c1
	c0=$(cpu_ticks $SPID)
	(cd $T && timeout $((DUR * 3 + 40)) sipp -sf "$HERE/uac_auth.xml" -t u1 \
		-i 127.0.0.1 -p $UAC 127.0.0.1:$PORT -r $CALL_RATE -rp 1000 -m $n -nostdin \
		-timeout $((DUR * 3 + 20))s -trace_stat -stf $T/stat.csv > /dev/null 2>&1)
	c1=$(cpu_ticks $SPID)
	kill $UPID 2>/dev/null
	wait $UPID 2>/dev/null
	UPID=""
	stop
	per_op $((c1 - c0)) $(sipp_ok)
}

summary() { # label values...
	local label=$1
	shift
	echo "$@" | tr ' ' '\n' | grep -v invalid | sort -n |
		awk -v l="$label" -v all="$*" '{a[NR]=$1} END {
			if (NR == 0) { printf "%-34s all trials invalid (%s)\n", l, all; exit }
			printf "%-34s %8.1f us/op (min %.1f max %.1f, %d valid)\n", l, a[int((NR+1)/2)], a[1], a[NR], NR }'
}

echo "server CPU per operation, $(nproc) cores, $(date -u +%FT%TZ)"
declare -A R=()
case " $PARTS " in *" reg "*)
for i in $(seq $TRIALS); do
	for s in cvoipd kamailio; do
		R[reg_$s]="${R[reg_$s]:-} $(reg_trial $s)"
	done
done
summary "REGISTER+digest cvoipd @$REG_RATE/s" ${R[reg_cvoipd]}
summary "REGISTER+digest kamailio @$REG_RATE/s" ${R[reg_kamailio]}
;; esac
case " $PARTS " in *" maxrate "*)
for s in cvoipd kamailio; do
	best=0
	for r in ${RATES:-1000 2000 3000 4000 5000 6000}; do
		CALL_RATE=$r
		rm -f $T/counts
		call_trial $s > /dev/null
		read -r ok bad got < $T/counts 2>/dev/null || { ok=0; bad=0; got=0; }
		echo "$s @$r calls/s offered for ${DUR}s: $ok completed, $bad failed (SIPp's average call rate $got/s)"
		[ "$bad" -eq 0 ] && [ "$ok" -ge $((r * DUR * 99 / 100)) ] || break
		best=$r
	done
	echo "highest rate with zero failed calls, $s: $best calls/s"
done
;; esac
case " $PARTS " in *" call "*) ;; *) exit 0 ;; esac
for i in $(seq $TRIALS); do
	for s in cvoipd kamailio; do
		R[call_$s]="${R[call_$s]:-} $(call_trial $s)"
	done
done
summary "call (B2BUA) cvoipd @$CALL_RATE/s" ${R[call_cvoipd]}
summary "call (tm+rr) kamailio @$CALL_RATE/s" ${R[call_kamailio]}
