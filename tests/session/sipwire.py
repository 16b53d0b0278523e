"""A scripted SIP peer over raw UDP for the session tests: it sends what a
test writes and parses what comes back, so each RFC rule is checked on the
wire. Every wait is bounded."""
import os
import random
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from cvtest import BIN, free_port, log, run, wait_for  # noqa: E402,F401

SDP = ("v=0\r\no=- 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=%s\r\n")


def sdp(port, direction="sendrecv", version=1):
    return SDP % (version, port, direction)


class Msg:
    def __init__(self, text, src):
        self.text = text
        self.src = src
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            if ":" in line:
                n, v = line.split(":", 1)
                self.headers.append((n.strip().lower(), v.strip()))
        m = re.match(r"SIP/2.0 (\d+)", self.start)
        self.status = int(m.group(1)) if m else None
        self.method = None if m else self.start.split(" ")[0]
        cseq = self.h("cseq") or "0 X"
        self.cseq = int(cseq.split()[0])
        self.cseq_method = cseq.split()[1] if len(cseq.split()) > 1 else ""

    def h(self, name):
        for n, v in self.headers:
            if n == name.lower():
                return v
        return None

    def all(self, name):
        return [v for n, v in self.headers if n == name.lower()]

    def tag(self, which):
        m = re.search(r";tag=([^;>\s]+)", self.h(which) or "")
        return m.group(1) if m else None

    def __repr__(self):
        return self.text[:600]


class Peer:
    """One UDP socket on 127.0.0.1 acting as a UA."""

    def __init__(self, user="peer"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]
        self.user = user
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp_port = self.rtp.getsockname()[1]
        self.n = 0
        self.queue = []

    def uri(self):
        return "sip:%s@127.0.0.1:%d" % (self.user, self.port)

    def sendto(self, text, dst):
        self.s.sendto(text.encode(), dst)

    def recv(self, timeout, pred=lambda m: True, what="message"):
        """The next message matching pred within timeout (others queued)."""
        for i, m in enumerate(self.queue):
            if pred(m):
                return self.queue.pop(i)
        end = time.time() + timeout
        while time.time() < end:
            self.s.settimeout(max(0.01, end - time.time()))
            try:
                data, src = self.s.recvfrom(65535)
            except socket.timeout:
                break
            m = Msg(data.decode(errors="replace"), src)
            if pred(m):
                return m
            self.queue.append(m)
        return None

    def expect(self, timeout, pred, what):
        m = self.recv(timeout, pred)
        if m is None:
            raise AssertionError("peer %s: no %s within %ss; queued: %r"
                                 % (self.user, what, timeout, self.queue[-5:]))
        return m

    def nothing(self, timeout, pred, what):
        m = self.recv(timeout, pred)
        if m is not None:
            raise AssertionError("peer %s: unexpected %s: %r" % (self.user, what, m))

    def request(self, dst, method, ruri, call_id, from_tag, cseq, to_uri, to_tag=None,
                body="", extra="", ctype="application/sdp"):
        self.n += 1
        branch = "z9hG4bK%s%d%d" % (self.user, self.n, random.randint(0, 10 ** 9))
        tt = ";tag=" + to_tag if to_tag else ""
        msg = ("%s %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
               "From: <sip:%s@127.0.0.1>;tag=%s\r\n"
               "To: <%s>%s\r\n"
               "Call-ID: %s\r\n"
               "CSeq: %d %s\r\n"
               "Contact: <%s>\r\n"
               "Max-Forwards: 70\r\n%s"
               % (method, ruri, self.port, branch, self.user, from_tag, to_uri, tt, call_id,
                  cseq, method, self.uri(), extra))
        if body:
            msg += "Content-Type: %s\r\n" % ctype
        msg += "Content-Length: %d\r\n\r\n%s" % (len(body.encode()), body)
        self.sendto(msg, dst)
        return branch

    def respond(self, req, status, reason, to_tag=None, body="", extra="", contact=True):
        vias = "".join("Via: %s\r\n" % v for v in req.all("via"))
        to = req.h("to")
        if to_tag and ";tag=" not in to:
            to += ";tag=" + to_tag
        msg = ("SIP/2.0 %d %s\r\n%sFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
               % (status, reason, vias, req.h("from"), to, req.h("call-id"), req.h("cseq")))
        if contact:
            msg += "Contact: <%s>\r\n" % self.uri()
        msg += extra
        if body:
            msg += "Content-Type: application/sdp\r\n"
        msg += "Content-Length: %d\r\n\r\n%s" % (len(body.encode()), body)
        # responses go to the top Via's sent-by (we only use 127.0.0.1)
        via = req.all("via")[0]
        m = re.search(r"SIP/2.0/UDP ([\d.]+):(\d+)", via)
        rport = re.search(r"rport=(\d+)", via)
        dst = (m.group(1), int(rport.group(1)) if rport else int(m.group(2)))
        self.sendto(msg, req.src if req.src else dst)

    def in_dialog(self, dst, method, req_or_resp, cseq, ours_is_from=True, body="", extra="",
                  ctype="application/sdp", target=None, local_tag=None):
        """A request in the dialog of a message we exchanged."""
        m = req_or_resp
        if ours_is_from:   # we sent the dialog-creating request
            local_tag, remote_tag = m.tag("from"), m.tag("to")
            remote = re.search(r"<([^>]+)>", m.h("to")).group(1)
        else:              # we answered it
            local_tag, remote_tag = local_tag or m.tag("to"), m.tag("from")
            remote = re.search(r"<([^>]+)>", m.h("from")).group(1)
        ruri = target or re.search(r"<([^>]+)>", m.h("contact")).group(1)
        return self.request(dst, method, ruri, m.h("call-id"), local_tag, cseq, remote,
                            to_tag=remote_tag, body=body, extra=extra, ctype=ctype)
