#!/bin/bash
# CPU per stateful non-INVITE transaction (OPTIONS -> 200 from a server
# transaction) over UDP, driven by the same SIPp scenario at the same fixed
# rate, interleaved, TRIALS trials each (BENCHMARKING.md):
#   txn_peer  tests/txn/txn_peer: the txn layer on the real runtime and
#             transport (cv_rt worker, recvmmsg/sendmmsg UDP, §18.2.2
#             response routing), one worker, a TU that answers 200;
#   cvoipd    the server (apps/cvoipd, one worker, demo config): transport
#             -> UA core -> server transaction -> srv.c's OPTIONS answer
#             (skipped when BIN_DIR has no cvoipd);
#   kamailio  tm: t_newtran() + t_reply(), children=1, TLSF.
# Figure: utime+stime of the server process(es) from /proc/<pid>/stat
# divided by successful transactions; a trial with more than 0.1 % failed
# transactions is invalid. Prints one row per trial and the medians.
# Usage: cpu_vs_kamailio.sh BIN_DIR [RATE] [SECONDS] [TRIALS]
set -u
BIN=$(cd "${1:?bin dir with txn_peer}" && pwd)
RATE=${2:-2000}
SECS=${3:-10}
TRIALS=${4:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill $SPID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
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
run_sipp() { # port -> $WORK/ok: successful calls, $WORK/bad: failed
	rm -f "$WORK"/stat*.csv
	timeout $((SECS * 3 + 30)) sipp -sf "$HERE/options_uac.xml" -m "$N" -r "$RATE" \
		-rp 1000 -i 127.0.0.1 -p 0 -nostdin -timeout $((SECS * 3))s \
		-buff_size 4194304 \
		-trace_stat -stf "$WORK/stat.csv" 127.0.0.1:"$1" >"$WORK/sipp.out" 2>&1
	tail -1 "$WORK/stat.csv" | awk -F';' '{print $16}' >"$WORK/ok"
	tail -1 "$WORK/stat.csv" | awk -F';' '{print $18}' >"$WORK/bad"
}
result() { # c0 c1 -> $WORK/res "us ok" or "invalid ok"
	ok=$(cat "$WORK/ok"); bad=$(cat "$WORK/bad")
	# invalid: more than 0.1 % of the N transactions failed or unfinished
	if [ -z "$ok" ] || [ "$ok" -eq 0 ] || [ $((bad * 1000)) -gt "$ok" ] ||
		[ $((ok * 1000)) -lt $((N * 999)) ]; then
		echo "invalid ${ok:-0}" >"$WORK/res"
	else
		awk -v c="$(($2 - $1))" -v hz="$HZ" -v ok="$ok" \
			'BEGIN { printf "%.2f %d\n", c * 1000000 / hz / ok, ok }' >"$WORK/res"
	fi
}
trial_txn_peer() {
	"$BIN/txn_peer" 0 >"$WORK/peer.out" 2>&1 &
	SPID=$!
	sleep 0.5
	port=$(sed -n 's/^port=//p' "$WORK/peer.out")
	c0=$(cpu_ticks $SPID)
	run_sipp "$port"
	c1=$(cpu_ticks $SPID)
	kill $SPID; wait $SPID 2>/dev/null; SPID=
	result "$c0" "$c1"
}
trial_cvoipd() {
	port=15066
	rm -f "$WORK"/db*
	sed -e 's/^  workers: .*/  workers: 1/' -e 's/^  log_level: .*/  log_level: warn/' \
		-e 's/^  relay: true/  relay: false/' -e '/^  event_log:/d' \
		"$SRC/etc/cvoipd.demo.yaml" >"$WORK/cvoipd.yaml"
	"$BIN/cvoipd" --config "$WORK/cvoipd.yaml" --listen udp:127.0.0.1:$port \
		--db sqlite:"$WORK/db" >"$WORK/cvoipd.log" 2>&1 &
	SPID=$!
	sleep 1.5
	c0=$(cpu_ticks $SPID)
	run_sipp "$port"
	c1=$(cpu_ticks $SPID)
	kill $SPID; wait $SPID 2>/dev/null; SPID=
	result "$c0" "$c1"
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
	kill $SPID; wait $SPID 2>/dev/null; SPID=
	rm -f "$WORK/ctl"
	result "$c0" "$c1"
}
median() { # values on stdin ("invalid" skipped) -> "median (min-max) n=K"
	grep -v invalid | sort -n | awk '{v[NR] = $1} END {
		if (NR == 0) { print "invalid"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f (%.2f-%.2f) n=%d\n", m, v[1], v[NR], NR }'
}
servers="txn_peer kamailio"
[ -x "$BIN/cvoipd" ] && servers="txn_peer cvoipd kamailio"
echo "CPU us per stateful OPTIONS transaction @ $RATE/s for ${SECS}s, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| trial | $(echo $servers | sed 's/ / | /g') |"
for i in $(seq 1 "$TRIALS"); do
	row="| $i |"
	for s in $servers; do
		# no $(...) around the trials: a subshell would run the EXIT trap
		trial_$s; r=$(cat "$WORK/res")
		echo "${r% *}" >>"$WORK/all.$s"
		row="$row ${r% *} (${r#* } ok) |"
	done
	echo "$row"
done
for s in $servers; do
	echo "median $s: $(median <"$WORK/all.$s")"
done
