#!/usr/bin/env python3
"""`cvoip call` follows 3xx redirects (RFC 3261 §8.1.3.4) to a new target,
never back to one it tried, at most 5 times; a Reason header (RFC 3326)
goes with the CANCEL when it gives up (--timeout) and with the BYE when it
hangs up; a MESSAGE to `cvoip answer` is printed."""
import subprocess
import time

from sipwire import Peer, free_port, log, run, sdp
from test_cli_call import CVOIP, Answerer, events


def test(tmp):
    p1, p2 = Peer("first"), Peer("second")
    out = open(tmp + "/call.out", "w")
    proc = subprocess.Popen([CVOIP, "call", "--json", p1.uri(), "--timeout", "3"],
                            stdout=out, stderr=subprocess.STDOUT)
    try:
        inv = p1.expect(5, lambda m: m.method == "INVITE", "INVITE")
        p1.respond(inv, 302, "Moved Temporarily", to_tag="r1",
                   extra="Contact: <%s>\r\n" % p2.uri(), contact=False)
        p1.expect(3, lambda m: m.method == "ACK", "ACK of 302")
        inv2 = p2.expect(3, lambda m: m.method == "INVITE", "INVITE after 302")
        assert inv2.start.startswith("INVITE %s " % p2.uri()), inv2
        assert inv2.h("call-id") == inv.h("call-id") and inv2.cseq == inv.cseq + 1, inv2
        # a redirect back to the first target is not followed again
        p2.respond(inv2, 180, "Ringing", to_tag="r2")
        cancel = p2.expect(5, lambda m: m.method == "CANCEL", "CANCEL after --timeout")
        assert "cause=16" in (cancel.h("reason") or ""), cancel
        p2.respond(cancel, 200, "OK")
        p2.respond(inv2, 487, "Request Terminated", to_tag="r2")
        rc = proc.wait(timeout=10)
        ev = events(open(tmp + "/call.out").read())
        assert rc == 3, open(tmp + "/call.out").read()
        red = [e for e in ev if e["event"] == "redirect"]
        assert red and red[0]["target"] == p2.uri() and red[0]["status"] == 302, ev
        log("302 followed, CANCEL with Reason: ok")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # a redirect loop ends: first -> second -> first (tried) = failure
    proc = subprocess.Popen([CVOIP, "call", "--json", p1.uri(), "--timeout", "5"],
                            stdout=open(tmp + "/call2.out", "w"), stderr=subprocess.STDOUT)
    try:
        seen = set()
        end = time.time() + 4
        while time.time() < end:
            for peer, other in ((p1, p2), (p2, p1)):
                m = peer.recv(0.1, lambda m: m.method == "INVITE")
                if m is None:
                    continue
                # retransmissions of one INVITE count once
                key = (m.h("call-id"), m.cseq)
                seen.add(key)
                peer.respond(m, 302, "Moved", to_tag="loop%d" % m.cseq,
                             extra="Contact: <%s>\r\n" % other.uri(), contact=False)
            if proc.poll() is not None:
                break
        count = len(seen)
        assert count == 2, count
        rc = proc.wait(timeout=10)
        assert rc == 1, open(tmp + "/call2.out").read()
        log("redirect loop stopped after %d INVITEs: ok" % count)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # BYE with Reason, and MESSAGE printed by cvoip answer
    port = free_port()
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "440",
                         "--duration", "1", "--max-calls", "1"])
    ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
    a = Peer("alice")
    dst = ("127.0.0.1", port)
    ruri = "sip:bob@127.0.0.1:%d" % port
    a.request(dst, "MESSAGE", ruri, "msg-1", "mtag", 1, ruri, body="hello bob",
              ctype="text/plain")
    r = a.expect(3, lambda m: m.status and m.cseq_method == "MESSAGE", "200 to MESSAGE")
    assert r.status == 200, r
    a.request(dst, "INVITE", ruri, "rsn-1", "itag", 1, ruri, body=sdp(a.rtp_port))
    ok = a.expect(5, lambda m: m.status == 200 and m.cseq_method == "INVITE", "200")
    a.in_dialog(dst, "ACK", ok, 1)
    bye = a.expect(5, lambda m: m.method == "BYE", "BYE after --duration")
    assert "Q.850;cause=16" in (bye.h("reason") or ""), bye
    a.respond(bye, 200, "OK")
    assert ans.finish(10) == 0, open(ans.out).read()
    msgs = [e for e in ans.events() if e["event"] == "message"]
    assert msgs and msgs[0]["body"] == "hello bob" and msgs[0]["from"] == "sip:alice@127.0.0.1", \
        ans.events()
    log("BYE with Reason, MESSAGE printed: ok")


if __name__ == "__main__":
    run(test)
