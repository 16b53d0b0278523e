#!/usr/bin/env python3
"""cvoip as UAS (`cvoip answer`) against a scripted caller on raw UDP:
RFC 4028 422 with Min-SE for a too small Session-Expires; RFC 3262 reliable
180 with Require: 100rel and RSeq, retransmitted until the PRACK, the PRACK
answered 200 and a second one 481; the 200 carrying Session-Expires with
the refresher the caller may take (Require: timer); an UPDATE with an SDP
offer (RFC 3311) answered with the mirrored direction; and the BYE cvoip
sends (with a Reason) when the caller never refreshes the session."""
import re
import time

from sipwire import Peer, free_port, log, run, sdp
from test_cli_call import Answerer


def test(tmp):
    port = free_port()
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "440",
                         "--min-se", "2", "--auto-answer-after", "1.5", "--max-calls", "1"])
    ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
    dst = ("127.0.0.1", port)
    p = Peer("caller")
    ruri = "sip:bob@127.0.0.1:%d" % port
    cid = "uas-test-%d" % port
    inv = lambda m: m.status and m.cseq_method == "INVITE"

    # RFC 4028 §8.1: Session-Expires below our Min-SE
    p.request(dst, "INVITE", ruri, cid, "ctag", 1, ruri, body=sdp(p.rtp_port),
              extra="Supported: 100rel, timer\r\nSession-Expires: 1\r\n")
    r = p.expect(3, lambda m: inv(m) and m.status >= 200, "422")
    assert r.status == 422 and r.h("min-se") == "2", r
    p.request(dst, "ACK", ruri, cid, "ctag", 1, ruri, to_tag=r.tag("to"))
    log("422 with Min-SE: ok")

    # RFC 3262: reliable 180, retransmitted until PRACK
    p.request(dst, "INVITE", ruri, cid, "ctag", 2, ruri, body=sdp(p.rtp_port),
              extra="Supported: 100rel, timer\r\nSession-Expires: 4\r\n")
    r180 = p.expect(3, lambda m: inv(m) and m.status == 180, "180")
    assert "100rel" in (r180.h("require") or ""), r180
    rseq = int(r180.h("rseq"))
    t0 = time.time()
    again = p.expect(1.5, lambda m: inv(m) and m.status == 180, "180 retransmission")
    gap = time.time() - t0
    assert int(again.h("rseq")) == rseq and 0.3 < gap < 1.0, (gap, again)
    log("reliable 180 RSeq %d retransmitted after %.2f s" % (rseq, gap))
    p.in_dialog(dst, "PRACK", r180, 3, ours_is_from=True, extra="RAck: %d 2 INVITE\r\n" % rseq)
    pr = p.expect(3, lambda m: m.status and m.cseq_method == "PRACK", "200 to PRACK")
    assert pr.status == 200, pr
    p.nothing(1.0, lambda m: inv(m) and m.status == 180, "180 after its PRACK")
    p.in_dialog(dst, "PRACK", r180, 4, ours_is_from=True, extra="RAck: %d 2 INVITE\r\n" % rseq)
    pr = p.expect(3, lambda m: m.status and m.cseq_method == "PRACK", "481 to PRACK")
    assert pr.status == 481, pr
    log("PRACK 200, stale PRACK 481: ok")

    ok = p.expect(3, lambda m: inv(m) and m.status == 200, "200 to INVITE")
    se = ok.h("session-expires") or ""
    assert re.match(r"4;\s*refresher=uac", se), ok
    assert "timer" in (ok.h("require") or ""), ok
    assert "UPDATE" in (ok.h("allow") or "") and "PRACK" in (ok.h("allow") or ""), ok
    p.in_dialog(dst, "ACK", ok, 2, ours_is_from=True)
    log("200 with Session-Expires %s: ok" % se)

    # RFC 3311: UPDATE with an offer (hold) and a session refresh
    time.sleep(0.5)
    p.in_dialog(dst, "UPDATE", ok, 5, ours_is_from=True, body=sdp(p.rtp_port, "sendonly", 2),
                extra="Supported: timer\r\nSession-Expires: 4;refresher=uac\r\n")
    up = p.expect(3, lambda m: m.status and m.cseq_method == "UPDATE", "200 to UPDATE")
    t_refresh = time.time()
    assert up.status == 200 and "a=recvonly" in up.body, up
    assert re.match(r"4;\s*refresher=uac", up.h("session-expires") or ""), up
    log("UPDATE hold answered recvonly: ok")

    # no refresh from us: cvoip ends the session before it expires
    # (RFC 4028 §10: 4 - min(32, 4/3) = 2.67 s after the refresh)
    bye = p.expect(5, lambda m: m.method == "BYE", "BYE on session expiry")
    after = time.time() - t_refresh
    assert 2.2 < after < 3.6, after
    assert "408" in (bye.h("reason") or ""), bye
    p.respond(bye, 200, "OK")
    log("BYE %.2f s after the last refresh, Reason %s: ok" % (after, bye.h("reason")))
    assert ans.finish(10) == 0, open(ans.out).read()
    ev = ans.events()
    assert [e for e in ev if e.get("event") == "media" and e["dir"] == "recvonly"], ev


if __name__ == "__main__":
    run(test)
