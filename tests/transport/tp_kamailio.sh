#!/bin/bash
# Kamailio 5.6 as the remote end, both ways:
#  - SIPp -> Kamailio (UDP) -> cvoip over UDP, TCP and TLS (Kamailio is the
#    TCP/TLS client and verifies cvoip's certificate against the test CA),
#    responses routed back through Kamailio by Via;
#  - tp_client (cvoip) -> Kamailio over UDP, TCP and TLS (cvoip verifies
#    Kamailio's certificate).
. "$(dirname "$0")/lib.sh"
command -v kamailio >/dev/null || { echo "kamailio not installed: skipped"; exit 0; }
certs
C=$T/certs
K=$(free_port); KT=$(free_port); P=$(free_port); PT=$(free_port)
cat > $T/kam-tls.cfg <<TLS
[server:default]
method = TLSv1.2+
certificate = $C/server.pem
private_key = $C/server.key
[client:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
ca_list = $C/ca.pem
TLS
sed -e "s|@K@|$K|g; s|@KT@|$KT|g; s|@P@|$P|g; s|@PT@|$PT|g; s|@T@|$T|g" \
	"$S/kamailio-peer.cfg.in" > $T/kam.cfg
mkdir -p $T/kamrt
kamailio -f $T/kam.cfg -L /usr/lib/x86_64-linux-gnu/kamailio/modules -x tlsf -X tlsf \
	-DD -E -m 64 -M 8 -Y $T/kamrt > $T/kam.log 2>&1 &
KPID=$!
PIDS="$PIDS $KPID"
start_server srv -w 2 -l udp:127.0.0.1:$P -l tcp:127.0.0.1:$P -l tls:127.0.0.1:$PT \
	--cert $C/server.pem --key $C/server.key
for _ in $(seq 50); do grep -q "INFO.*tls" $T/kam.log 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -0 $KPID 2>/dev/null || { cat $T/kam.log; fail "kamailio did not start"; }
cat > $T/fwd.xml <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options via kamailio">
  <send><![CDATA[
      OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" timeout="5000">
    <action><ereg regexp="Server: cvoip" search_in="msg" check_it="true" assign_to="x"/></action>
  </recv>
  <Reference variables="x"/>
</scenario>
XML
for tr in udp tcp tls; do
	(cd $T && timeout 25 sipp -sf $T/fwd.xml -s fwd-$tr -t u1 -i 127.0.0.1 127.0.0.1:$K \
		-m 50 -r 50 -nostdin -timeout 20s > $T/sipp.$tr.log 2>&1) ||
		{ tail -20 $T/kam.log; fail "kamailio -> cvoip over $tr"; }
	ok "SIPp -> Kamailio -> cvoip over $tr: 50 OPTIONS answered by cvoip"
done
for u in "sip:kam@127.0.0.1:$K" "sip:kam@127.0.0.1:$K;transport=tcp" "sips:kam@127.0.0.1:$KT"; do
	out=$(timeout 15 "$B/tp_client" -l udp:127.0.0.1:0 --ca $C/ca.pem --count 5 "$u")
	[ "$(echo "$out" | grep -c '^answer 200')" = 5 ] || { echo "$out"; tail $T/kam.log; fail "cvoip -> kamailio $u"; }
	ok "cvoip -> Kamailio $u: 5 answered"
done
stop_server srv
[ "$(stat srv rx_tls)" -ge 50 ] && [ "$(stat srv rx_tcp)" -ge 50 ] || fail "counters"
ok "cvoip: rx_udp=$(stat srv rx_udp) rx_tcp=$(stat srv rx_tcp) rx_tls=$(stat srv rx_tls)"
