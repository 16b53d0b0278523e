#!/bin/bash
# SIPp OPTIONS over UDP and TCP (IPv4 and IPv6) against tp_server with two
# workers: every call must get 200 with Allow; the Call-IDs spread over
# both workers, so handover runs and every message lands on its owner.
. "$(dirname "$0")/lib.sh"
P=$(free_port)
start_server srv -w 2 -l udp:127.0.0.1:$P -l tcp:127.0.0.1:$P -l udp:[::1]:$P -l tcp:[::1]:$P
run_sipp() { # transport host extra...
	tr=$1; host=$2; shift 2
	(cd "$T" && timeout 25 sipp -sf "$S/options_uac.xml" -t $tr "$host:$P" \
		-m 300 -r 300 -rp 1000 -nostdin -timeout 20s "$@" > "$T/sipp.$tr.log" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || { tail -20 "$T/sipp.$tr.log"; fail "sipp -t $tr $host rc=$rc"; }
	ok "sipp -t $tr $host: 300 OPTIONS answered"
}
run_sipp u1 127.0.0.1 -i 127.0.0.1
run_sipp t1 127.0.0.1 -i 127.0.0.1
run_sipp un 127.0.0.1 -i 127.0.0.1 -max_socket 1000
run_sipp u1 "[::1]" -i ::1
run_sipp t1 "[::1]" -i ::1
stop_server srv
[ "$(stat srv wrong_owner)" = 0 ] || fail "messages delivered off their owner"
[ "$(stat srv handover)" -gt 0 ] || fail "no handover with 2 workers"
[ "$(stat srv recv)" -ge 1500 ] || fail "recv $(stat srv recv) < 1500"
ok "handover=$(stat srv handover) wrong_owner=0 recv=$(stat srv recv)"
