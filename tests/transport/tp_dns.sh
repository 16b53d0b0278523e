#!/bin/bash
# RFC 3263 against dnsmasq on loopback: NAPTR -> SRV -> A/AAAA ordering,
# failover across a dead target (connection refused) and a 503 to the next
# SRV target, explicit transport (SRV only), explicit port (A only),
# sips: with a TLS name check against the SRV target name.
. "$(dirname "$0")/lib.sh"
certs
C=$T/certs
D=$(free_port); PA=$(free_port); PB=$(free_port); PD=$(free_port); PT=$(free_port)
dnsmasq -k --port=$D --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
	--no-hosts --conf-file=/dev/null --pid-file= --user=root --log-facility=$T/dnsmasq.log \
	--naptr-record=sip.test,10,10,S,SIP+D2T,,_sip._tcp.sip.test \
	--naptr-record=sip.test,20,10,S,SIP+D2U,,_sip._udp.sip.test \
	--naptr-record=sip.test,30,10,S,SIPS+D2T,,_sips._tcp.sip.test \
	--srv-host=_sip._tcp.sip.test,dead.sip.test,$PD,5,10 \
	--srv-host=_sip._tcp.sip.test,a.sip.test,$PA,10,10 \
	--srv-host=_sip._tcp.sip.test,b.sip.test,$PB,20,10 \
	--srv-host=_sip._udp.sip.test,a.sip.test,$PA,10,10 \
	--srv-host=_sips._tcp.sip.test,sip.test,$PT,10,10 \
	--host-record=dead.sip.test,127.0.0.1 --host-record=a.sip.test,127.0.0.1 \
	--host-record=b.sip.test,127.0.0.1,::1 --host-record=sip.test,127.0.0.1 &
PIDS="$PIDS $!"
sleep 0.3
start_server a -w 1 -l tcp:127.0.0.1:$PA -l udp:127.0.0.1:$PA --status 503
start_server b -w 1 -l tcp:127.0.0.1:$PB -l tcp:[::1]:$PB --status 501
start_server t -w 1 -l tls:127.0.0.1:$PT --cert $C/server.pem --key $C/server.key
CL="$B/tp_client -l udp:127.0.0.1:0 --dns 127.0.0.1:$D --ca $C/ca.pem"
out=$(timeout 20 $CL --method MESSAGE sip:user@sip.test)
echo "$out" | grep -q "^target 0 TCP 127.0.0.1:$PD dead.sip.test" || { echo "$out"; fail "naptr/srv order"; }
echo "$out" | grep -q "^fail TCP 127.0.0.1:$PD" || { echo "$out"; fail "dead target not failed"; }
echo "$out" | grep -q "^fail TCP 127.0.0.1:$PA 503" || { echo "$out"; fail "503 not failed over"; }
echo "$out" | grep -q "^answer 501 TCP 127.0.0.1:$PB" || { echo "$out"; fail "no answer from b"; }
ok "NAPTR->SRV->A, failover: refused -> 503 -> answered"
out=$(timeout 20 $CL --count 2 "sip:user@sip.test;transport=udp")
[ "$(echo "$out" | grep -c "^answer 200 UDP 127.0.0.1:$PA")" = 2 ] || { echo "$out"; fail "transport=udp"; }
ok "transport=udp -> _sip._udp SRV"
out=$(timeout 20 $CL --method MESSAGE "sip:user@b.sip.test:$PB;transport=tcp")
echo "$out" | grep -q "^targets 2" || { echo "$out"; fail "A+AAAA"; }
echo "$out" | grep -q "^answer 501 TCP" || { echo "$out"; fail "explicit port"; }
ok "explicit port: A and AAAA, no SRV"
out=$(timeout 20 $CL sips:user@sip.test)
echo "$out" | grep -q "^answer 200 TLS 127.0.0.1:$PT" || { echo "$out"; fail "sips"; }
ok "sips: NAPTR SIPS+D2T -> TLS with name check (sip.test)"
out=$(timeout 20 $CL sip:user@nowhere.test)
echo "$out" | grep -q "resolve failed" || { echo "$out"; fail "nxdomain"; }
ok "unknown name fails cleanly"
stop_server a; stop_server b; stop_server t
