#!/usr/bin/env python3
"""`cvoip call` against a scripted forking proxy and re-INVITE glare:
reliable 180s from two forks are PRACKed each in its own early dialog
(RSeq per dialog, RFC 3262 §4); the first 2xx wins (§13.2.2.4) and the
later 2xx from the other fork is ACKed and BYEd. Then both sides send a
re-INVITE at once (§14.1): cvoip answers ours 491, and after our 491 it
retries its own after 2.1-4 s (it owns the Call-ID)."""
import subprocess
import time

from sipwire import Peer, log, run, sdp
from test_cli_call import CVOIP, events


def test(tmp):
    p = Peer("fork")
    out = open(tmp + "/call.out", "w")
    proc = subprocess.Popen([CVOIP, "call", "--json", p.uri(), "--tone", "440",
                             "--duration", "7", "--hold-at", "1"],
                            stdout=out, stderr=subprocess.STDOUT)
    try:
        inv = p.expect(5, lambda m: m.method == "INVITE", "INVITE")
        rel = lambda n: "Require: 100rel\r\nRSeq: %d\r\n" % n
        p.respond(inv, 180, "Ringing", to_tag="forkA", extra=rel(1))
        p.respond(inv, 180, "Ringing", to_tag="forkB", extra=rel(50))
        got = {}
        for _ in range(2):
            pr = p.expect(3, lambda m: m.method == "PRACK", "PRACK")
            got[pr.tag("to")] = pr.h("rack")
            p.respond(pr, 200, "OK")
        assert got == {"forkA": "1 1 INVITE", "forkB": "50 1 INVITE"}, got
        p.respond(inv, 180, "Ringing", to_tag="forkA", extra=rel(2))
        pr = p.expect(3, lambda m: m.method == "PRACK", "PRACK of RSeq 2")
        assert pr.tag("to") == "forkA" and pr.h("rack") == "2 1 INVITE", pr
        p.respond(pr, 200, "OK")
        log("PRACK per fork: ok")

        p.respond(inv, 200, "OK", to_tag="forkB", body=sdp(p.rtp_port))
        ack = p.expect(3, lambda m: m.method == "ACK", "ACK to fork B")
        assert ack.tag("to") == "forkB", ack
        p.respond(inv, 200, "OK", to_tag="forkA", body=sdp(p.rtp_port))
        ack = p.expect(3, lambda m: m.method == "ACK", "ACK to fork A")
        assert ack.tag("to") == "forkA", ack
        bye = p.expect(3, lambda m: m.method == "BYE", "BYE to fork A")
        assert bye.tag("to") == "forkA", bye
        p.respond(bye, 200, "OK")
        log("first 2xx wins, second ACKed and BYEd: ok")

        # glare: cvoip's hold re-INVITE crosses ours
        ok_b = Peer.__new__(Peer)  # not used: dialog data comes from the INVITE
        del ok_b
        re1 = p.expect(3, lambda m: m.method == "INVITE" and m.tag("to") == "forkB",
                       "hold re-INVITE")
        assert "a=sendonly" in re1.body, re1
        via = re1.src
        # our own re-INVITE in the same dialog (we are the UAS of it)
        p.request(via, "INVITE", re1.h("contact").strip("<>"), inv.h("call-id"), "forkB", 1,
                  inv.h("from").split(";")[0].strip("<>"), to_tag=inv.tag("from"),
                  body=sdp(p.rtp_port, "sendrecv", 2))
        r = p.expect(3, lambda m: m.status and m.cseq_method == "INVITE" and m.cseq == 1
                     and m.h("call-id") == inv.h("call-id") and m.tag("from") == "forkB",
                     "491 to our re-INVITE")
        assert r.status == 491, r
        p.respond(re1, 491, "Request Pending")
        p.expect(3, lambda m: m.method == "ACK" and m.cseq == re1.cseq, "ACK of 491")
        t0 = time.time()
        re2 = p.expect(6, lambda m: m.method == "INVITE" and m.tag("to") == "forkB",
                       "re-INVITE retry")
        wait = time.time() - t0
        assert 2.0 < wait < 4.3 and re2.cseq > re1.cseq, (wait, re2)
        p.respond(re2, 200, "OK", body=sdp(p.rtp_port, "recvonly", 3))
        p.expect(3, lambda m: m.method == "ACK" and m.cseq == re2.cseq, "ACK")
        log("glare: 491 both ways, retry after %.2f s: ok" % wait)
        bye = p.expect(8, lambda m: m.method == "BYE", "BYE")
        p.respond(bye, 200, "OK")
        rc = proc.wait(timeout=10)
        text = open(tmp + "/call.out").read()
        assert rc == 0, text
        dirs = [e["dir"] for e in events(text) if e["event"] == "media"]
        assert dirs == ["sendrecv", "sendonly"], dirs
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    run(test)
