#!/usr/bin/env python3
"""The dialog layer on the wire, against a scripted peer (raw UDP): a cvoip
UAS (`cvoip answer --listen`) must retransmit its 2xx at T1, 2T1, 4T1 until
the ACK (RFC 3261 §13.3.1.4), copy Record-Route into its responses
(§12.1.1), answer 481 to requests for unknown dialogs, 500 to an
out-of-order CSeq (§12.2.2), and 200 to BYE."""
import os
import re
import socket
import time

from cvtest import free_port, log, run
from test_cli_call import Answerer

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


class Peer:
    def __init__(self, target_port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]
        self.dst = ("127.0.0.1", target_port)
        self.n = 0

    def send(self, text):
        self.s.sendto(text.replace("\n", "\r\n").encode(), self.dst)

    def recv(self, timeout):
        self.s.settimeout(timeout)
        try:
            data, _ = self.s.recvfrom(65535)
            return data.decode(errors="replace")
        except socket.timeout:
            return None

    def request(self, method, cseq, to_tag="", branch=None, body="", extra=""):
        self.n += 1
        branch = branch or "z9hG4bKpeer%d" % self.n
        tt = ";tag=" + to_tag if to_tag else ""
        ct = "Content-Type: application/sdp\n" if body else ""
        msg = ("%s sip:bob@127.0.0.1:%d SIP/2.0\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\n"
               "From: <sip:peer@127.0.0.1>;tag=peertag\n"
               "To: <sip:bob@127.0.0.1>%s\n"
               "Call-ID: wire-test-1\n"
               "CSeq: %d %s\n"
               "Contact: <sip:peer@127.0.0.1:%d>\n"
               "Max-Forwards: 70\n%s%s"
               "Content-Length: %d\n\n" % (method, self.dst[1], self.port, branch, tt, cseq,
                                           method, self.port, extra, ct, len(body)))
        self.send(msg + body.replace("\r\n", "\n"))
        return branch


def status_of(msg):
    m = re.match(r"SIP/2.0 (\d+)", msg or "")
    return int(m.group(1)) if m else None


def header(msg, name):
    m = re.search(r"^%s:\s*(.*?)\r$" % name, msg, re.M | re.I)
    return m.group(1) if m else None


def test(tmp):
    port = free_port()
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "440",
                         "--max-calls", "1"])
    ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
    p = Peer(port)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    # a request for a dialog that does not exist
    p.request("INFO", 1, to_tag="nosuchtag")
    r = p.recv(3)
    assert status_of(r) == 481, r
    # INVITE through a "proxy" that record-routes
    rr = "Record-Route: <sip:10.0.0.1;lr>, <sip:127.0.0.2;lr>\n"
    p.request("INVITE", 1, body=SDP % rtp.getsockname()[1], extra=rr)
    got200 = []
    t0 = time.time()
    to_tag = None
    while time.time() - t0 < 4.2:
        r = p.recv(4.5 - (time.time() - t0))
        if r is None:
            break
        st = status_of(r)
        if st in (180, 200):
            assert header(r, "Record-Route") == "<sip:10.0.0.1;lr>, <sip:127.0.0.2;lr>" or \
                "Record-Route: <sip:10.0.0.1;lr>" in r, r
        if st == 200:
            got200.append(time.time() - t0)
            to_tag = re.search(r"^To:.*;tag=([^;\r]+)", r, re.M).group(1)
    log("2xx sent at", ["%.2f" % x for x in got200])
    # first 200, then again at +0.5, +1.5 (0.5+1), +3.5 (…+2) seconds
    assert len(got200) >= 4, got200
    gaps = [b - a for a, b in zip(got200, got200[1:])]
    for want, gap in zip((0.5, 1.0, 2.0), gaps):
        assert abs(gap - want) < 0.25, gaps
    # ACK stops the retransmissions
    p.request("ACK", 1, to_tag=to_tag)
    r = p.recv(1.5)
    assert r is None, "retransmission after the ACK: %r" % r
    # an in-dialog request with a CSeq lower than the last one
    p.request("INFO", 1, to_tag=to_tag)
    r = p.recv(3)
    assert status_of(r) == 500, r
    # BYE ends the call, and the answerer exits after its one call
    p.request("BYE", 2, to_tag=to_tag)
    r = p.recv(3)
    assert status_of(r) == 200, r
    assert ans.finish(10) == 0, open(ans.out).read()


if __name__ == "__main__":
    run(test)
