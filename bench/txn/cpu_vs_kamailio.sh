#!/bin/bash
# CPU per stateful non-INVITE transaction (OPTIONS -> 200 from a server
# transaction) over UDP: tests/txn/txn_peer (cvoip txn layer, one thread)
# against Kamailio tm (t_newtran + t_reply, children=1, TLSF), driven by
# the same SIPp scenario at the same fixed rate, interleaved, 3 trials each
# (BENCHMARKING.md). Figure: utime+stime of the server process(es) from
# /proc/<pid>/stat, divided by successful transactions.
# Usage: cpu_vs_kamailio.sh BIN_DIR [RATE] [SECONDS]
set -u
BIN=${1:?bin dir with txn_peer}
RATE=${2:-2000}
SECS=${3:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
HZ=$(getconf CLK_TCK)
N=$((RATE * SECS))
cpu_ticks() { # sum over the given pids
	t=0
	for p in "$@"; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + v))
	done
	echo $t
}
run_sipp() { # port -> $WORK/ok: successful calls
	timeout $((SECS * 3 + 30)) sipp -sf "$HERE/options_uac.xml" -m "$N" -r "$RATE" \
		-rp 1000 -i 127.0.0.1 -p 0 -nostdin -timeout $((SECS * 3))s \
		-trace_stat -stf "$WORK/stat.csv" 127.0.0.1:"$1" >"$WORK/sipp.out" 2>&1
	tail -1 "$WORK/stat.csv" | awk -F';' '{print $16}' >"$WORK/ok"
}
trial_cvoip() {
	"$BIN/txn_peer" 0 >"$WORK/peer.out" 2>&1 &
	SPID=$!
	sleep 0.5
	port=$(sed -n 's/^port=//p' "$WORK/peer.out")
	c0=$(cpu_ticks $SPID)
	run_sipp "$port"
	c1=$(cpu_ticks $SPID)
	ok=$(cat "$WORK/ok")
	kill $SPID; wait $SPID 2>/dev/null; SPID=
	echo "$(( (c1 - c0) * 1000000 / HZ / (ok > 0 ? ok : 1) )) $ok" >"$WORK/res"
}
trial_kamailio() {
	port=15064
	sed -e "s|KAM_PORT|$port|" -e "s|KAM_CTL|$WORK/ctl|" "$HERE/kamailio_tm.cfg" >"$WORK/k.cfg"
	kamailio -f "$WORK/k.cfg" -DD -E -x tlsf -X tlsf -m 1024 -M 64 >"$WORK/k.log" 2>&1 &
	SPID=$!
	sleep 1.5
	pgrep -P $SPID >"$WORK/kids"
	pids="$SPID $(tr '\n' ' ' <"$WORK/kids")"
	c0=$(cpu_ticks $pids)
	run_sipp "$port"
	c1=$(cpu_ticks $pids)
	ok=$(cat "$WORK/ok")
	kill $SPID; wait $SPID 2>/dev/null; SPID=
	rm -f "$WORK/ctl"
	echo "$(( (c1 - c0) * 1000000 / HZ / (ok > 0 ? ok : 1) )) $ok" >"$WORK/res"
}
echo "| trial | cvoip txn_peer us/txn | Kamailio tm us/txn | (successful txns) |"
echo "|---|---|---|---|"
for i in 1 2 3; do
	# no $(...) around the trials: a subshell would run the EXIT trap
	trial_cvoip; a=$(cat "$WORK/res")
	trial_kamailio; b=$(cat "$WORK/res")
	echo "| $i | ${a% *} | ${b% *} | ${a#* } / ${b#* } |"
done
