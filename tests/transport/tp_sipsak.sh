#!/bin/bash
# sipsak OPTIONS over UDP and TCP (IPv4), to tp_server (2 workers).
. "$(dirname "$0")/lib.sh"
P=$(free_port)
start_server srv -w 2 -l udp:127.0.0.1:$P -l tcp:127.0.0.1:$P -l udp:[::1]:$P -l tcp:[::1]:$P
# sipsak has no IPv6 support; IPv6 is covered by tp_sipp.sh.
for host in 127.0.0.1; do
	for tr in udp tcp; do
		for i in 1 2 3; do
			out=$(timeout 10 sipsak -s "sip:ping@$host:$P" -E $tr -vv 2>&1)
			echo "$out" | grep -q "SIP/2.0 200 OK" || { echo "$out"; fail "sipsak $tr $host"; }
			echo "$out" | grep -q "^Allow: .*OPTIONS" || fail "no Allow ($tr $host)"
			echo "$out" | grep -q "received=" || fail "no received= ($tr $host)"
		done
		ok "sipsak OPTIONS $tr $host"
	done
done
stop_server srv
[ "$(stat srv tx_udp)" -ge 3 ] && [ "$(stat srv tx_tcp)" -ge 3 ] || fail "counters"
ok "counters: $(cat $T/srv.stats | cut -c1-80)"
# wildcard listeners: the response leaves from the address the request
# reached (IP_PKTINFO), and Via sent-by of our own requests is routable
W=$(free_port)
start_server wild -w 2 -l udp:0.0.0.0:$W -l udp:[::]:$W -l tcp:0.0.0.0:$W
for dst in 127.0.0.1 127.0.0.2 "[::1]"; do
	out=$(timeout 10 "$B/tp_client" -l udp:127.0.0.1:0 -l udp:[::1]:0 --count 2 "sip:x@$dst:$W")
	[ "$(echo "$out" | grep -cF "answer 200 UDP $dst:$W")" = 2 ] || { echo "$out"; fail "wildcard reply source $dst"; }
done
out=$(timeout 10 sipsak -s "sip:ping@127.0.0.3:$W" -vv 2>&1)
echo "$out" | grep -q "SIP/2.0 200 OK" || { echo "$out"; fail "sipsak to wildcard"; }
stop_server wild
ok "wildcard UDP: replies from 127.0.0.1, 127.0.0.2, ::1 as addressed"
