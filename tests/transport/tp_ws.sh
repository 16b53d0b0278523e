#!/bin/bash
# SIP over WebSocket (RFC 7118), WS and WSS, with python3-websockets as the
# peer: OPTIONS/INVITE answered, ping/pong, close handshake, frame size
# limit (1009), Upgrade without "sip" refused.
. "$(dirname "$0")/lib.sh"
certs
C=$T/certs
P=$(free_port)
Q=$(free_port)
start_server srv -w 2 -l ws:127.0.0.1:$P -l wss:127.0.0.1:$Q -l ws:[::1]:$P --cert $C/server.pem --key $C/server.key
timeout 30 $PY "$S/ws_client.py" ws://127.0.0.1:$P || fail "ws"
ok "WS IPv4"
timeout 30 $PY "$S/ws_client.py" "ws://[::1]:$P" || fail "ws ipv6"
ok "WS IPv6"
timeout 30 $PY "$S/ws_client.py" wss://127.0.0.1:$Q --ca $C/ca.pem || fail "wss"
ok "WSS"
stop_server srv
[ "$(stat srv rej_ws_too_big)" -ge 3 ] || fail "oversized frames not counted"
[ "$(stat srv rej_http_bad)" -ge 3 ] || fail "bad upgrades not counted"
ok "rx_ws=$(stat srv rx_ws) rx_wss=$(stat srv rx_wss) rej_ws_too_big=$(stat srv rej_ws_too_big)"
