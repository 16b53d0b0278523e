#!/bin/bash
# TLS both ways between our own client and server (OpenSSL 3): peer chain
# verified against the test CA, IP identity check, IPv4 and IPv6; a client
# with a different CA must fail the handshake; TLS 1.1 is refused; and
# openssl s_client as an independent peer (TLS 1.2 and 1.3).
. "$(dirname "$0")/lib.sh"
certs
C=$T/certs
P=$(free_port)
start_server srv -w 2 -l tls:127.0.0.1:$P -l tls:[::1]:$P --cert $C/server.pem --key $C/server.key
for u in "sips:127.0.0.1:$P" "sips:[::1]:$P" "sip:127.0.0.1:$P;transport=tls"; do
	out=$(timeout 15 "$B/tp_client" -l udp:127.0.0.1:0 --ca $C/ca.pem --count 5 "$u")
	[ $? -eq 0 ] || { echo "$out"; fail "tls client $u"; }
	[ "$(echo "$out" | grep -c '^answer 200 TLS')" = 5 ] || fail "answers $u"
	ok "TLS OPTIONS x5 with verification to $u"
done
# wrong trust anchor: verification fails, no answer
mkdir -p "$T/other"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/other/ca.key" -out "$T/other/ca.pem" -days 1 -subj "/CN=other CA" 2>/dev/null
out=$(timeout 15 "$B/tp_client" -l udp:127.0.0.1:0 --ca $T/other/ca.pem --timeout-ms 2000 "sips:127.0.0.1:$P")
[ $? -ne 0 ] && echo "$out" | grep -q "^fail TLS" || { echo "$out"; fail "untrusted server accepted"; }
ok "server with an untrusted certificate rejected by the client"
# independent peer: openssl s_client, TLS 1.2 and 1.3, and TLS 1.1 refused
req() {
	printf 'OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKossl%s;rport\r\nFrom: <sip:o@t.invalid>;tag=o1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: ossl-%s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n' "$1" "$1"
}
for v in tls1_2 tls1_3; do
	out=$( (req $v; sleep 1) | timeout 10 openssl s_client -quiet -no_ign_eof -$v -CAfile $C/ca.pem \
		-verify_return_error -verify_ip 127.0.0.1 -connect 127.0.0.1:$P 2>&1)
	echo "$out" | grep -q "SIP/2.0 200 OK" || { echo "$out"; fail "s_client $v"; }
	ok "openssl s_client -$v: 200"
done
out=$( (sleep 1) | timeout 10 openssl s_client -tls1_1 -connect 127.0.0.1:$P 2>&1)
echo "$out" | grep -q "SIP/2.0" && fail "TLS 1.1 accepted"
ok "TLS 1.1 refused"
stop_server srv
[ "$(stat srv rej_handshake)" -ge 2 ] || fail "handshake rejections not counted"
ok "rej_handshake=$(stat srv rej_handshake) rx_tls=$(stat srv rx_tls)"
