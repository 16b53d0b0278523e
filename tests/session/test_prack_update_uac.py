#!/usr/bin/env python3
"""cvoip as UAC (`cvoip call`) against a scripted callee on raw UDP: the
INVITE advertises 100rel and timer with Session-Expires; a 422 is retried
with the callee's Min-SE (RFC 4028 §7.4); a reliable 183 with SDP is
PRACKed once with the right RAck (RFC 3262 §4) and its retransmission is
not; hold by UPDATE (RFC 3311) meets a 491 and is retried after the
RFC 3261 §14.1 delay for the Call-ID owner (2.1-4 s); the session is
refreshed by UPDATE at half the interval; BYE after --duration."""
import subprocess
import time

from sipwire import Peer, log, run, sdp
from test_cli_call import CVOIP, events


def test(tmp):
    p = Peer("callee")
    out = open(tmp + "/call.out", "w")
    proc = subprocess.Popen([CVOIP, "call", "--json", p.uri(), "--tone", "440",
                             "--session-expires", "3", "--min-se", "2", "--duration", "12",
                             "--hold-at", "1", "--update"], stdout=out, stderr=subprocess.STDOUT)
    try:
        inv = p.expect(5, lambda m: m.method == "INVITE", "INVITE")
        sup = inv.h("supported") or ""
        assert "100rel" in sup and "timer" in sup, inv
        assert inv.h("session-expires") == "3" and inv.h("min-se") == "2", inv
        p.respond(inv, 422, "Session Interval Too Small", to_tag="t422", extra="Min-SE: 8\r\n")
        p.expect(3, lambda m: m.method == "ACK", "ACK of 422")
        inv = p.expect(3, lambda m: m.method == "INVITE", "INVITE after 422")
        assert inv.h("session-expires") == "8" and inv.h("min-se") == "8", inv
        assert inv.cseq == 2, inv
        log("422 retried with Session-Expires 8: ok")

        tag = "calleetag"
        rel = "Require: 100rel\r\nRSeq: 7\r\nAllow: INVITE, ACK, BYE, CANCEL, UPDATE, PRACK\r\n"
        p.respond(inv, 183, "Session Progress", to_tag=tag, body=sdp(p.rtp_port), extra=rel)
        pr = p.expect(3, lambda m: m.method == "PRACK", "PRACK")
        assert pr.h("rack") == "7 2 INVITE", pr
        p.respond(pr, 200, "OK")
        p.respond(inv, 183, "Session Progress", to_tag=tag, body=sdp(p.rtp_port), extra=rel)
        p.nothing(0.7, lambda m: m.method == "PRACK", "PRACK of a retransmission")
        log("reliable 183 PRACKed once: ok")

        p.respond(inv, 200, "OK", to_tag=tag, body=sdp(p.rtp_port),
                  extra="Session-Expires: 8;refresher=uac\r\nRequire: timer\r\n"
                        "Allow: INVITE, ACK, BYE, CANCEL, UPDATE, PRACK\r\n")
        p.expect(3, lambda m: m.method == "ACK", "ACK")
        t_ans = time.time()

        # hold by UPDATE; 491 first
        up = p.expect(3, lambda m: m.method == "UPDATE", "UPDATE (hold)")
        assert "a=sendonly" in up.body, up
        p.respond(up, 491, "Request Pending")
        t491 = time.time()
        up2 = p.expect(6, lambda m: m.method == "UPDATE" and m.body, "UPDATE retry")
        wait = time.time() - t491
        assert 2.0 < wait < 4.3, wait
        assert "a=sendonly" in up2.body, up2
        p.respond(up2, 200, "OK", body=sdp(p.rtp_port, "recvonly", 2),
                  extra="Session-Expires: 8;refresher=uac\r\nRequire: timer\r\n")
        t_ok = time.time()
        log("491 retried after %.2f s: ok" % wait)

        # session refresh by UPDATE without a body at half the interval
        ref = p.expect(6, lambda m: m.method == "UPDATE", "refresh UPDATE")
        at = time.time() - t_ok
        assert not ref.body and 3.6 < at < 4.7, (at, ref)
        assert (ref.h("session-expires") or "").startswith("8;refresher=uac"), ref
        p.respond(ref, 200, "OK", extra="Session-Expires: 8;refresher=uac\r\nRequire: timer\r\n")
        log("refresh UPDATE after %.2f s: ok" % at)

        # further refreshes until the BYE after --duration
        while True:
            m = p.expect(6, lambda m: m.method in ("UPDATE", "BYE"), "BYE")
            p.respond(m, 200, "OK", extra="Session-Expires: 8;refresher=uac\r\n"
                      if m.method == "UPDATE" else "")
            if m.method == "BYE":
                break
        assert 11 < time.time() - t_ans < 13.5
        rc = proc.wait(timeout=10)
        ev = events(open(tmp + "/call.out").read())
        assert rc == 0, open(tmp + "/call.out").read()
        dirs = [e["dir"] for e in ev if e["event"] == "media"]
        assert dirs[:1] == ["sendrecv"] and "sendonly" in dirs, dirs
        holds = [e for e in ev if e["event"] == "hold"]
        assert holds and holds[0].get("method") == "UPDATE", ev
        log("call ended with BYE, exit 0: ok")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    run(test)
