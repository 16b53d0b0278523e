"""SIP endpoints for the call center tests: python agents (a UAS that
registers, answers, declines or lets ring, and sends a 1 kHz PCMU tone once
answered) and python callers (a UAC that records the RTP it receives),
against a cvoipd started by the test. Loopback only, every wait bounded."""
import math
import os
import random
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import sipkit  # noqa: E402
from sipkit import Resp, token  # noqa: E402,F401

ULAW_BIAS = 0x84


def ulaw_enc(s):
    sign = 0x80 if s < 0 else 0
    if s < 0:
        s = -s
    s = min(s, 32635) + ULAW_BIAS
    exp = 7
    for e in range(7, -1, -1):
        if s & (0x4000 >> (7 - e)):
            exp = e
            break
    mant = (s >> (exp + 3)) & 0x0F
    return (~(sign | (exp << 4) | mant)) & 0xFF


def ulaw_dec(u):
    u = ~u & 0xFF
    t = ((u & 0x0F) << 3) + ULAW_BIAS
    t <<= (u & 0x70) >> 4
    return (ULAW_BIAS - t) if u & 0x80 else (t - ULAW_BIAS)


def tone_frames(freq, n=50):
    """n 20 ms PCMU frames of a sine at freq."""
    out = []
    for f in range(n):
        out.append(bytes(ulaw_enc(int(8000 * math.sin(2 * math.pi * freq * (f * 160 + i) / 8000)))
                         for i in range(160)))
    return out


def goertzel(pcm, freq, rate=8000):
    w = 2 * math.pi * freq / rate
    c = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in pcm:
        s0 = x + c * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - c * s1 * s2


def dominant(pcm, freqs):
    """The frequency of freqs with the most energy in pcm, and the level."""
    best = max(freqs, key=lambda f: goertzel(pcm, f))
    rms = math.sqrt(sum(x * x for x in pcm) / max(1, len(pcm)))
    return best, rms


def parse_msg(text):
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    hdrs = []
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs.append((k.strip().lower(), v.strip()))
    return lines[0], hdrs, body


def hget(hdrs, name):
    for k, v in hdrs:
        if k == name:
            return v
    return None


def sdp_media(body):
    ip = re.search(r"c=IN IP4 (\S+)", body)
    port = re.search(r"m=audio (\d+)", body)
    return (ip.group(1), int(port.group(1))) if ip and port else None


def sdp(port, user):
    return ("v=0\r\no=%s 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
            "t=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % (user, port))


class Rtp:
    """An RTP socket: records what arrives (time, payload), sends a tone
    to the peer while `sending`."""

    def __init__(self, freq=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.05)
        self.freq = freq
        self.peer = None
        self.sending = False
        self.rx = []  # (time, payload bytes)
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        frames = tone_frames(self.freq) if self.freq else None
        seq, ts, ssrc, i = random.randrange(65536), 0, random.randrange(1 << 32), 0
        next_tx = time.time()
        while not self.stop_ev.is_set():
            try:
                data, _ = self.sock.recvfrom(2048)
                if len(data) > 12 and (data[1] & 0x7F) == 0:
                    self.rx.append((time.time(), data[12:]))
            except (socket.timeout, OSError):
                pass
            now = time.time()
            if frames and self.sending and self.peer and now >= next_tx:
                hdr = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
                try:
                    self.sock.sendto(hdr + frames[i % len(frames)], self.peer)
                except OSError:
                    pass
                seq, ts, i = seq + 1, ts + 160, i + 1
                next_tx = max(next_tx + 0.02, now - 0.1)

    def pcm(self, t0=0, t1=1e18):
        out = []
        for t, p in self.rx:
            if t0 <= t <= t1:
                out.extend(ulaw_dec(b) for b in p)
        return out

    def close(self):
        self.stop_ev.set()
        self.t.join(2)
        self.sock.close()


class Endpoint:
    """A UDP SIP endpoint with a receive thread: responses go to a queue for
    the request that waits for them, requests to `on_request`."""

    def __init__(self, server_port, user, password):
        self.ua = sipkit.UdpUa(server_port, 0, user)
        self.user, self.password = user, password
        self.server_port = server_port
        self.lock = threading.Lock()
        self.responses = []
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.ua.sock.settimeout(0.05)
        while not self.stop_ev.is_set():
            try:
                data, src = self.ua.sock.recvfrom(65535)
            except (socket.timeout, OSError):
                self.tick()
                continue
            text = data.decode(errors="replace")
            if text.startswith("SIP/2.0"):
                with self.lock:
                    self.responses.append(Resp(text))
            elif text.strip():
                try:
                    self.on_request(text, src)
                except Exception as e:  # a test helper: report, go on
                    print("endpoint %s: %r" % (self.user, e), flush=True)
            self.tick()

    def tick(self):
        pass

    def on_request(self, text, src):
        pass

    def send(self, text, dst=None):
        self.ua.sock.sendto(text.encode(), dst or self.ua.server)

    def wait_response(self, cseq_method, timeout=10.0, resend=None, final=True):
        end = time.time() + timeout
        interval, resend_at = 0.5, time.time() + 0.5
        while time.time() < end:
            with self.lock:
                for i, r in enumerate(self.responses):
                    if (r.get("cseq") or "").endswith(cseq_method) and (r.status >= 200 or not final):
                        del self.responses[i]
                        return r
            if resend and time.time() >= resend_at:
                self.send(resend)
                interval = min(interval * 2, 4)
                resend_at = time.time() + interval
            time.sleep(0.01)
        return None

    def request(self, method, ruri, hdrs=(), body="", cseq=None, call_id=None,
                to_tag=None, to_user=None, timeout=10.0):
        self.ua.cseq = cseq if cseq is not None else self.ua.cseq + 1
        with self.lock:
            self.responses = [r for r in self.responses if not (r.get("cseq") or "").endswith(method)]
        self.ua.request(method, ruri, list(hdrs), body=body, cseq=self.ua.cseq,
                        call_id=call_id, to_tag=to_tag)
        return self.wait_response(method, timeout, resend=self.ua.last)

    def register(self, expires=600):
        ruri = "sip:127.0.0.1:%d" % self.server_port
        hdrs = ["Contact: <sip:%s@127.0.0.1:%d>" % (self.user, self.ua.port), "Expires: %d" % expires]
        r = self.request("REGISTER", ruri, hdrs)
        if r is not None and r.status == 401:
            auth = self.ua.authorization(r.get("www-authenticate"), "REGISTER", ruri, self.password)
            r = self.request("REGISTER", ruri, hdrs + [auth])
        assert r is not None and r.status == 200, "REGISTER %s: %r" % (self.user, r)
        return r

    def close(self):
        self.stop_ev.set()
        self.t.join(2)
        self.ua.close()


def reply(req_hdrs, status, reason, to_tag=None, extra=(), body=""):
    lines = ["SIP/2.0 %d %s" % (status, reason)]
    for k, v in req_hdrs:
        if k in ("via", "from", "call-id", "cseq"):
            lines.append("%s: %s" % (k.title(), v))
        elif k == "to":
            lines.append("To: %s%s" % (v, ";tag=" + to_tag if to_tag and "tag=" not in v else ""))
    lines += list(extra)
    lines.append("Content-Length: %d" % len(body.encode()))
    return "\r\n".join(lines) + "\r\n\r\n" + body


class Agent(Endpoint):
    """A registered agent phone. behaviour(n) for the n-th INVITE (from 0):
    'answer', 'noanswer', 'decline'. Answers after answer_delay seconds;
    `hangup_after` (seconds after the answer, or None) sends BYE itself."""

    def __init__(self, server_port, user, password=None, behaviour="answer",
                 answer_delay=0.3, hangup_after=None, freq=1000):
        super().__init__(server_port, user, password or user + "-secret")
        self.behaviour = behaviour if callable(behaviour) else (lambda n, b=behaviour: b)
        self.answer_delay = answer_delay
        self.hangup_after = hangup_after
        self.freq = freq
        self.invites = 0
        self.answered = 0
        self.cancelled = 0
        self.byes = 0
        self.calls = {}  # call-id -> dict
        self.events = []

    def on_request(self, text, src):
        first, hdrs, body = parse_msg(text)
        method = first.split(" ", 1)[0]
        cid = hget(hdrs, "call-id")
        c = self.calls.get(cid)
        if method == "INVITE":
            if c:  # a retransmission
                if c.get("last"):
                    self.send(c["last"], src)
                return
            n = self.invites
            self.invites += 1
            b = self.behaviour(n)
            c = {"hdrs": hdrs, "src": src, "tag": token(8), "b": b, "state": "ringing",
                 "t": time.time(), "media": sdp_media(body), "rtp": None, "from": hget(hdrs, "from")}
            self.calls[cid] = c
            self.events.append(("invite", cid, b))
            if b == "decline":
                c["last"] = reply(hdrs, 486, "Busy Here", c["tag"])
                c["state"] = "done"
            else:
                c["last"] = reply(hdrs, 180, "Ringing", c["tag"])
            self.send(c["last"], src)
        elif method == "CANCEL":
            self.send(reply(hdrs, 200, "OK", c["tag"] if c else None), src)
            if c and c["state"] == "ringing":
                c["state"] = "done"
                self.cancelled += 1
                self.events.append(("cancel", cid))
                c["last"] = reply(c["hdrs"], 487, "Request Terminated", c["tag"])
                self.send(c["last"], c["src"])
        elif method == "ACK":
            if c and c["state"] == "answered":
                c["acked"] = True
        elif method == "BYE":
            self.send(reply(hdrs, 200, "OK"), src)
            if c:
                c["state"] = "ended"
                self.byes += 1
                self.events.append(("bye", cid))
                if c["rtp"]:
                    c["rtp"].sending = False
        else:
            self.send(reply(hdrs, 200 if method in ("OPTIONS", "NOTIFY", "INFO") else 405, "OK"), src)

    def tick(self):
        now = time.time()
        for cid, c in list(self.calls.items()):
            if c["state"] == "ringing" and c["b"] == "answer" and now - c["t"] >= self.answer_delay:
                c["rtp"] = Rtp(self.freq)
                c["rtp"].peer = c["media"]
                c["rtp"].sending = True
                c["last"] = reply(c["hdrs"], 200, "OK", c["tag"],
                                  ["Contact: <sip:%s@127.0.0.1:%d>" % (self.user, self.ua.port),
                                   "Content-Type: application/sdp"], sdp(c["rtp"].port, self.user))
                c["state"] = "answered"
                c["ta"] = now
                c["rtx"] = now + 0.5
                self.answered += 1
                self.events.append(("answer", cid))
                self.send(c["last"], c["src"])
            elif c["state"] == "answered" and not c.get("acked") and now >= c.get("rtx", 1e18):
                self.send(c["last"], c["src"])
                c["rtx"] = now + 1.0
            if (c["state"] == "answered" and self.hangup_after is not None
                    and now - c["ta"] >= self.hangup_after and c.get("acked")):
                self.bye(cid)

    def bye(self, cid):
        c = self.calls[cid]
        c["state"] = "ended"
        if c["rtp"]:
            c["rtp"].sending = False
        contact = hget(c["hdrs"], "contact") or ""
        m = re.search(r"<([^>]+)>", contact)
        ruri = m.group(1) if m else "sip:x@127.0.0.1:%d" % self.server_port
        their_from = c["from"]
        lines = ["BYE %s SIP/2.0" % ruri,
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport" % (self.ua.port, token(10)),
                 "Max-Forwards: 70",
                 "From: %s;tag=%s" % (hget(c["hdrs"], "to"), c["tag"]),
                 "To: %s" % their_from,
                 "Call-ID: %s" % cid, "CSeq: 10 BYE", "Content-Length: 0"]
        self.send("\r\n".join(lines) + "\r\n\r\n", c["src"])
        self.events.append(("sent-bye", cid))

    def dial(self, code, timeout=10.0):
        """INVITE a feature code (*20...) with digest; returns the final
        status. A 200 is ACKed; the server's BYE is answered by on_request."""
        ruri = "sip:%s@127.0.0.1:%d" % (code, self.server_port)
        rtp = Rtp()
        cid = token(12) + "@code"
        hdrs = ["Contact: <sip:%s@127.0.0.1:%d>" % (self.user, self.ua.port), "Content-Type: application/sdp"]
        body = sdp(rtp.port, self.user)
        r = self.request("INVITE", ruri, hdrs, body, call_id=cid, timeout=timeout)
        if r is not None and r.status == 407:
            self._ack(ruri, r, cid)
            auth = self.ua.authorization(r.get("proxy-authenticate"), "INVITE", ruri, self.password,
                                         header="Proxy-Authorization")
            r = self.request("INVITE", ruri, hdrs + [auth], body, call_id=cid, timeout=timeout)
        if r is not None:
            self._ack(ruri, r, cid)
        rtp.close()
        return r.status if r is not None else None

    def _ack(self, ruri, r, cid):
        to_tag = re.search(r";tag=([^;>\s]+)", r.get("to") or "")
        self.ua.request("ACK", ruri, cseq=self.ua.cseq, call_id=cid,
                        to_tag=to_tag.group(1) if to_tag else None)


class Caller(Endpoint):
    """A caller (a configured user) dialling a queue; records the RTP it
    gets. The server's BYE is answered and noted in `ended_by_server`."""

    def __init__(self, server_port, user="alice", password=None):
        super().__init__(server_port, user, password or user + "-secret")
        self.rtp = Rtp()
        self.cid = token(14) + "@caller"
        self.status = None
        self.to_tag = None
        self.ended_by_server = None
        self.answered_at = None

    def on_request(self, text, src):
        first, hdrs, body = parse_msg(text)
        method = first.split(" ", 1)[0]
        if method == "BYE":
            self.send(reply(hdrs, 200, "OK"), src)
            if self.ended_by_server is None:
                self.ended_by_server = time.time()
        elif method != "ACK":
            self.send(reply(hdrs, 200, "OK"), src)

    def call(self, queue, timeout=15.0):
        """INVITE queue (digest), wait for the final answer; returns the
        status (ACKed)."""
        self.ruri = "sip:%s@127.0.0.1:%d" % (queue, self.server_port)
        hdrs = ["Contact: <sip:%s@127.0.0.1:%d>" % (self.user, self.ua.port), "Content-Type: application/sdp"]
        body = sdp(self.rtp.port, self.user)
        r = self.request("INVITE", self.ruri, hdrs, body, call_id=self.cid, timeout=timeout)
        if r is not None and r.status == 407:
            self.ack(r)
            auth = self.ua.authorization(r.get("proxy-authenticate"), "INVITE", self.ruri, self.password,
                                         header="Proxy-Authorization")
            self.invite_cseq = self.ua.cseq + 1
            r = self.request("INVITE", self.ruri, hdrs + [auth], body, call_id=self.cid, timeout=timeout)
        assert r is not None, "no final answer to INVITE %s" % queue
        self.status = r.status
        m = re.search(r";tag=([^;>\s]+)", r.get("to") or "")
        self.to_tag = m.group(1) if m else None
        self.ack(r)
        if r.status == 200:
            self.answered_at = time.time()
            media = sdp_media(r.raw.partition("\r\n\r\n")[2])
            self.rtp.peer = media
        return r.status

    def ack(self, r):
        m = re.search(r";tag=([^;>\s]+)", r.get("to") or "")
        self.ua.request("ACK", self.ruri, cseq=self.ua.cseq, call_id=self.cid,
                        to_tag=m.group(1) if m else None)

    def hangup(self, timeout=10.0):
        r = self.request("BYE", self.ruri, [], call_id=self.cid, to_tag=self.to_tag, timeout=timeout)
        return r.status if r is not None else None

    def close(self):
        self.rtp.close()
        super().close()
