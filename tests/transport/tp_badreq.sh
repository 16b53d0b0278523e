#!/bin/bash
# Unparsable requests in the stateless path: the parser's verdict (400,
# 505 ...) is sent when Via/From/To/Call-ID/CSeq can be recovered
# (sl_bad_requests), everything else is dropped (rej_garbage); UDP and TCP.
# Also RFC 5626 keep-alives on UDP: CR/LF-only datagrams ignored, STUN
# Binding answered (keepalive_pong).
. "$(dirname "$0")/lib.sh"
PU=$(free_port); PT=$(free_port)
start_server srv -w 2 -l udp:127.0.0.1:$PU -l tcp:127.0.0.1:$PT
timeout 60 $PY "$S/badreq_client.py" $PU $PT > $T/client.out 2>&1
rc=$?
cat $T/client.out
[ $rc -eq 0 ] || fail "bad-request client"
stop_server srv
want_a=$(sed -n 's/^answered=\([0-9]*\) .*/\1/p' $T/client.out)
want_d=$(sed -n 's/.* dropped=\([0-9]*\)$/\1/p' $T/client.out)
[ "$(stat srv sl_bad_requests)" = "$want_a" ] || { cat $T/srv.stats; fail "sl_bad_requests != $want_a"; }
[ "$(stat srv rej_garbage)" = "$want_d" ] || { cat $T/srv.stats; fail "rej_garbage != $want_d"; }
[ "$(stat srv keepalive_pong)" = 1 ] || { cat $T/srv.stats; fail "STUN keep-alive not counted"; }
ok "sl_bad_requests=$want_a rej_garbage=$want_d keepalive_pong=1 (STUN)"
