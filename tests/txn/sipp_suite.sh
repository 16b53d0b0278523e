#!/bin/bash
# SIPp scenarios against txn_peer (the transaction layer over the real
# runtime + transport on 127.0.0.1), over UDP and over TCP, cvoip as server
# and as client: zero failed calls and the exact per-call counters each
# scenario documents (over TCP: no Timer A/E/G retransmissions, Timers
# D/I/J/K zero). Usage: sipp_suite.sh [udp|tcp]... (default both;
# CV_BIN_DIR, CV_SOURCE_DIR set).
set -u
BIN=${CV_BIN_DIR:?}
SRC=${CV_SOURCE_DIR:?}
SCN=$SRC/tests/txn/scenarios
SIPP=$(command -v sipp || true)
if [ -z "$SIPP" ]; then
	echo "sipp not installed (Debian sip-tester)" >&2
	exit 1
fi
WORK=$(mktemp -d)
PEER_PID=
cleanup() {
	[ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
FAIL=0

# run NAME CALLS CONCURRENCY SIPP_EXTRA "key=value ..." (expected totals);
# the transport is $TP
run() {
	name=$1 calls=$2 conc=$3 extra=$4 expect=$5
	"$BIN/txn_peer" -t "$TP" 0 >"$WORK/$name.peer" 2>&1 &
	PEER_PID=$!
	port=
	for _ in $(seq 1 50); do
		port=$(sed -n 's/^port=//p' "$WORK/$name.peer")
		[ -n "$port" ] && break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		echo "FAIL $name: txn_peer did not start"; FAIL=1; return
	fi
	# -timeout bounds the run; exit status 0 = every call succeeded
	timeout 120 "$SIPP" -sf "$SCN/$name.xml" -m "$calls" -l "$conc" \
		-r 10 -t "$SIPP_TP" -i 127.0.0.1 -p 0 -nostdin -timeout 90s \
		-timeout_error -trace_err -error_file "$WORK/$name.err" $extra \
		127.0.0.1:"$port" >"$WORK/$name.sipp" 2>&1
	rc=$?
	sleep 0.3
	kill -TERM "$PEER_PID"
	wait "$PEER_PID" 2>/dev/null
	prc=$?
	PEER_PID=
	ok=1
	if [ $prc -ne 0 ]; then
		# a leak (ASan) or a crash on the way out
		echo "FAIL $name: txn_peer exit $prc"; ok=0
	fi
	if [ $rc -ne 0 ]; then
		echo "FAIL $name: sipp exit $rc"
		tail -20 "$WORK/$name.sipp"; cat "$WORK/$name.err" 2>/dev/null | head -40
		ok=0
	fi
	for kv in $expect; do
		key=${kv%%=*} want=${kv#*=}
		got=$(sed -n "s/^$key=//p" "$WORK/$name.peer")
		if [ "$got" != "$want" ]; then
			echo "FAIL $name: $key=$got, expected $want"; ok=0
		fi
	done
	if [ $ok -eq 1 ]; then
		echo "ok   $name $TP ($calls calls): $expect"
	else
		cat "$WORK/$name.peer"; FAIL=1
	fi
}

# cvoip as the client: SIPp is the UAS on a port picked here.
# uac NAME CALLS METHOD USER "key=value ..."
uac() {
	name=$1 calls=$2 method=$3 user=$4 expect=$5
	# claimed against every test running in parallel (cvtest.free_port:
	# above the ephemeral range, one owner per port)
	sport=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import cvtest
print(cvtest.free_port(owner=int(sys.argv[2])))' "$SRC/tests/integration" "$$")
	timeout 120 "$SIPP" -sf "$SCN/$name.xml" -m "$calls" -t "$SIPP_TP" \
		-i 127.0.0.1 -p "$sport" -nostdin -timeout 90s -timeout_error -trace_err \
		-error_file "$WORK/$name.err" >"$WORK/$name.sipp" 2>&1 &
	spid=$!
	# wait until SIPp listens (over TCP a refused connect would fail
	# the first transaction at once): at most 10 s
	for _ in $(seq 1 100); do
		if [ "$TP" = tcp ]; then
			ss -Hltn "sport = :$sport" | grep -q . && break
		else
			ss -Hlun "sport = :$sport" | grep -q . && break
		fi
		kill -0 $spid 2>/dev/null || break
		sleep 0.1
	done
	timeout 100 "$BIN/txn_peer" -t "$TP" uac "$sport" "$calls" "$method" "$user" \
		>"$WORK/$name.peer" 2>&1
	prc=$?
	wait $spid
	rc=$?
	ok=1
	if [ $rc -ne 0 ] || [ $prc -ne 0 ]; then
		echo "FAIL $name: sipp exit $rc, txn_peer exit $prc"
		tail -20 "$WORK/$name.sipp"; head -40 "$WORK/$name.err" 2>/dev/null
		ok=0
	fi
	for kv in $expect; do
		key=${kv%%=*} want=${kv#*=}
		got=$(sed -n "s/^$key=//p" "$WORK/$name.peer")
		if [ "$got" != "$want" ]; then
			echo "FAIL $name: $key=$got, expected $want"; ok=0
		fi
	done
	if [ $ok -eq 1 ]; then
		echo "ok   $name $TP ($calls calls, cvoip client): $expect"
	else
		cat "$WORK/$name.peer"; FAIL=1
	fi
}

N=4
udp_suite() {
	TP=udp SIPP_TP=u1
	uac uas_ict_486 $N INVITE bob \
		"finals=$N completed.INVITE=$N retransmitted.INVITE=$((3 * N)) rx_resp_absorbed=$N timeouts=0"
	uac uas_nict_options $N OPTIONS bob \
		"finals=$N completed.OPTIONS=$N retransmitted.OPTIONS=$((2 * N)) rx_resp_absorbed=$N timeouts=0"
	uac uas_ict_200 $N INVITE bob \
		"finals=$N completed.INVITE=$N acks_sent=$((2 * N)) retransmitted.INVITE=0 timeouts=0"
	run nist_options_dup $N 1 -nr \
		"created.OPTIONS=$N retransmitted.OPTIONS=$N rx_retransmissions=$N live=$N"
	run ist_486_timer_g $N $N "" \
		"created.INVITE=$N retransmitted.INVITE=$((3 * N)) acks_absorbed=$N rx_retransmissions=$N timed_out.INVITE=0"
	run ist_200_accepted $N $N "" \
		"created.INVITE=$N created.BYE=$N ok_retransmitted=$N stray_acks=$N rx_retransmissions=$N retransmitted.INVITE=$N"
	run ist_slow_100 $N $N -nr "created.INVITE=$N auto_100=$N"
	run ist_cancel $N $N -nr \
		"cancels_matched=$N cancels_481=$N created.CANCEL=$((2 * N)) acks_absorbed=$N cancels=$N"
	run ist_lossy_call 40 10 "" "created.INVITE=40 timed_out.INVITE=0 transport_errors=0"
}

# Reliable transport (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2): no
# A/E/G retransmissions (retransmitted.* counts only what a duplicate
# request re-answered), and D/I/J/K = 0: copies 500 ms after the
# transaction completed find nothing (stray_responses, stray_acks, a new
# transaction) and nothing is left live. SIPp's lost= and random loss
# make no sense on TCP (SIPp does not retransmit there): the duplicate and
# reordering cases are the explicit copies in the scenarios.
tcp_suite() {
	TP=tcp SIPP_TP=t1
	uac uas_ict_486 $N INVITE bob \
		"finals=$N completed.INVITE=$N retransmitted.INVITE=0 stray_responses=$N rx_resp_absorbed=0 live=0 timeouts=0"
	uac uas_nict_options $N OPTIONS bob \
		"finals=$N completed.OPTIONS=$N retransmitted.OPTIONS=0 stray_responses=$N rx_resp_absorbed=0 live=0 timeouts=0"
	uac uas_ict_200 $N INVITE bob \
		"finals=$N completed.INVITE=$N acks_sent=$((2 * N)) retransmitted.INVITE=0 timeouts=0"
	run nist_options_dup $N 1 "" \
		"created.OPTIONS=$((2 * N)) retransmitted.OPTIONS=0 rx_retransmissions=0 live=0"
	run ist_486_reliable $N $N "" \
		"created.INVITE=$N retransmitted.INVITE=$N rx_retransmissions=$N acks_absorbed=$N stray_acks=$N timed_out.INVITE=0 live=0"
	run ist_200_accepted $N $N "" \
		"created.INVITE=$N created.BYE=$N ok_retransmitted=0 stray_acks=$N rx_retransmissions=$N retransmitted.INVITE=0 retransmitted.BYE=0"
	run ist_slow_100 $N $N "" "created.INVITE=$N auto_100=$N retransmitted.INVITE=0"
	run ist_cancel $N $N "" \
		"cancels_matched=$N cancels_481=$N created.CANCEL=$((2 * N)) acks_absorbed=$N cancels=$N retransmitted.INVITE=0 live=0"
}

[ $# -eq 0 ] && set -- udp tcp
for t in "$@"; do
	case $t in
	udp) udp_suite ;;
	tcp) tcp_suite ;;
	*) echo "unknown transport $t"; exit 2 ;;
	esac
done
exit $FAIL
