#!/bin/bash
# Kamailio tm shared memory per live INVITE server transaction, for the
# same counts as bench_txn: SIPp sends N INVITEs (each a new call, never
# finished); Kamailio answers 180 statefully and holds the transaction.
# Figure: (core.shmmem real_used after - before) / transactions tm holds
# (tm.stats current).
# Usage: kamailio_tm.sh [N ...]   (default 10000 100000 200000)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
KPID=
cleanup() { [ -n "$KPID" ] && kill "$KPID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
[ $# -gt 0 ] || set -- 10000 100000 200000
PORT=${KAM_PORT:-15060}
shm_used() {
	kamcmd -s "unix:$WORK/ctl" core.shmmem 2>/dev/null | sed -n 's/^[[:space:]]*real_used:[[:space:]]*//p'
}
tm_current() {
	kamcmd -s "unix:$WORK/ctl" tm.stats 2>/dev/null | sed -n 's/^[[:space:]]*current:[[:space:]]*//p'
}
echo "| N sent | live in tm | Kamailio tm shm bytes/txn | rate |"
echo "|---|---|---|---|"
for n in "$@"; do
	sed -e "s|KAM_PORT|$PORT|" -e "s|KAM_CTL|$WORK/ctl|" "$HERE/kamailio_tm.cfg" >"$WORK/k.cfg"
	kamailio -f "$WORK/k.cfg" -DD -E -x tlsf -X tlsf -m 6144 -M 64 \
		>"$WORK/k.log" 2>&1 &
	KPID=$!
	for _ in $(seq 1 50); do [ -S "$WORK/ctl" ] && break; sleep 0.1; done
	sleep 0.5
	before=$(shm_used)
	rate=${RATE:-2000}
	timeout 600 sipp -sf "$HERE/invite_only.xml" -m "$n" -r "$rate" -rp 1000 \
		-i 127.0.0.1 -p 0 -nostdin -nr -timeout 300s \
		127.0.0.1:"$PORT" >"$WORK/sipp.out" 2>&1
	sleep 2
	after=$(shm_used)
	live=$(tm_current)
	# divide by what tm really holds (UDP drops at the socket are possible)
	[ -n "$live" ] && [ "$live" -gt 0 ] || live=1
	echo "| $n | $live | $(( (after - before) / live )) | ${rate}/s |"
	kill "$KPID"; wait "$KPID" 2>/dev/null; KPID=
	rm -f "$WORK/ctl"
done
