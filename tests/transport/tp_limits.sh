#!/bin/bash
# Bad input and floods, bounded: keep-alive ping/pong, byte-by-byte
# framing, stalled partial message, oversized and unframable streams, idle
# timeout, truncated TLS handshake, unfinished WebSocket frame, oversized
# Upgrade, a 200-connection flood from one address (per-address limit) and
# from 5 more (total limit), a slow reader (send-queue bound), oversized
# and garbage datagrams; other clients keep being served. Each limit's
# counter must have moved.
. "$(dirname "$0")/lib.sh"
certs
C=$T/certs
P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
start_server srv -w 2 -l tcp:127.0.0.1:$P1 -l tls:127.0.0.1:$P2 -l ws:127.0.0.1:$P3 \
	-l udp:127.0.0.1:$P4 --cert $C/server.pem --key $C/server.key \
	--max-conns 50 --per-ip 20 --idle-ms 2500 --partial-ms 1000 --hs-ms 500 \
	--max-msg 4096 --send-queue 65536
ulimit -n 4096 2>/dev/null
timeout 60 $PY "$S/limits_client.py" $P1 $P2 $P3 $P4 || fail "limits client"
stop_server srv
for k in rej_max_conns rej_per_ip rej_idle rej_partial rej_handshake \
	rej_stream_too_big rej_udp_too_big rej_http_bad rej_garbage \
	rej_send_queue keepalive_pong; do
	[ "$(stat srv $k)" -ge 1 ] || { cat $T/srv.stats; fail "$k not counted"; }
done
ok "$(grep -o 'rej_[a-z_]*=[0-9]*' $T/srv.stats | tr '\n' ' ')"
