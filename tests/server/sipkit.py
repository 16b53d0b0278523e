"""Test helpers for cvoipd's server tests: a minimal SIP-over-UDP client
with MD5 digest (REGISTER and anything else a test needs to send by hand)
and a SIPp runner. Everything is bounded in time; loopback only."""
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import cvtest  # noqa: E402
from cvtest import BIN, SRC, Cvoipd, free_port, log, run, wait_for  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))
SCEN = os.path.join(HERE, "scenarios")
SIPP = shutil.which("sipp")


def token(n=10):
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


class TestDb:
    """The database of one test: a SQLite file in the test's folder, or,
    when CV_TEST_PG_URL names a PostgreSQL server (tests/server/
    run_suite_pg.py), a fresh database created there."""

    def __init__(self, tmp):
        base = os.environ.get("CV_TEST_PG_URL")
        if base:
            self.kind = "postgresql"
            self.name = "t_" + token(12)
            subprocess.run(["psql", base, "-qAtc", "create database %s" % self.name],
                           check=True, capture_output=True, timeout=30)
            self.url = base.rsplit("/", 1)[0] + "/" + self.name
        else:
            self.kind = "sqlite"
            self.path = os.path.join(tmp, "cvoipd.db")
            self.url = "sqlite:" + self.path

    def rows(self, sql):
        """Rows as tuples; numbers come back as int/float on both backends."""
        if self.kind == "sqlite":
            import sqlite3
            db = sqlite3.connect(self.path)
            try:
                return db.execute(sql).fetchall()
            finally:
                db.close()
        p = subprocess.run(["psql", self.url, "-qAt", "-F", "\x1f", "-c", sql],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("psql: " + p.stderr)

        def conv(v):
            for f in (int, float):
                try:
                    return f(v)
                except ValueError:
                    pass
            return v
        return [tuple(conv(v) for v in ln.split("\x1f")) for ln in p.stdout.splitlines() if ln]


def start_cvoipd(tmp, db, config=None, log_name="cvoipd.log", extra_args=()):
    """cvoipd (tests/integration/cvtest.py) on database db (a TestDb). The
    media relay gets its own random 1000-port window in 10000-19999 (the
    demo's 20000-29999 may be busy with another program's media on a
    shared test machine)."""
    if config is None:
        config = os.path.join(tmp, "cvoipd.yaml")
        shutil.copy(os.path.join(SRC, "etc/cvoipd.demo.yaml"), config)
    with open(config) as f:
        text = f.read()
    if "rtp_port_min: 20000" in text:
        lo = random.randrange(10000, 19000, 2)
        text = text.replace("rtp_port_min: 20000", "rtp_port_min: %d" % lo)
        text = text.replace("rtp_port_max: 29999", "rtp_port_max: %d" % (lo + 999))
        with open(config, "w") as f:
            f.write(text)
    m = re.search(r"rtp_port_min: (\d+)\s+rtp_port_max: (\d+)", text)
    srv = Cvoipd(tmp, config=config, extra_args=extra_args)
    srv.rtp_range = (int(m.group(1)), int(m.group(2))) if m else (20000, 29999)
    srv.args[srv.args.index("--db") + 1] = db.url
    srv.dbh = db
    srv.logpath = os.path.join(tmp, log_name)
    return srv.start()


class Resp:
    def __init__(self, raw):
        self.raw = raw
        head = raw.split("\r\n\r\n", 1)[0]
        lines = head.split("\r\n")
        first = lines[0].split(" ", 2)
        self.status = int(first[1])
        self.reason = first[2] if len(first) > 2 else ""
        self.headers = []
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                self.headers.append((k.strip().lower(), v.strip()))

    def all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def get(self, name):
        v = self.all(name)
        return v[0] if v else None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.reason)


def parse_challenge(value):
    assert value.lower().startswith("digest "), value
    out = {}
    for m in re.finditer(r'(\w[\w-]*)\s*=\s*("([^"]*)"|[^,\s]+)', value[7:]):
        out[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return out


class UdpUa:
    """One UDP socket on 127.0.0.1 speaking just enough SIP for tests."""

    def __init__(self, server_port, port=0, user="alice", host="127.0.0.1"):
        self.server = ("127.0.0.1", server_port)
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.user = user
        self.call_id = token(16) + "@test"
        self.tag = token(8)
        self.cseq = 0

    def close(self):
        self.sock.close()

    def send_raw(self, text):
        self.last = text
        self.sock.sendto(text.encode(), self.server)

    def request(self, method, ruri, headers=(), body="", auth=None, branch=None,
                call_id=None, cseq=None, to_tag=None, max_forwards=70):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = branch or "z9hG4bK" + token(12)
        lines = ["%s %s SIP/2.0" % (method, ruri),
                 "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (self.host, self.port, branch),
                 "Max-Forwards: %d" % max_forwards,
                 "From: <sip:%s@127.0.0.1>;tag=%s" % (self.user, self.tag),
                 "To: <sip:%s@127.0.0.1>%s" % (self.user if method == "REGISTER" else ruri.split(":")[1].split("@")[0],
                                              ";tag=" + to_tag if to_tag else ""),
                 "Call-ID: %s" % (call_id or self.call_id),
                 "CSeq: %d %s" % (cseq, method)]
        if auth:
            lines.append(auth)
        lines += list(headers)
        lines.append("Content-Length: %d" % len(body.encode()))
        self.send_raw("\r\n".join(lines) + "\r\n\r\n" + body)
        return branch

    def recv(self, timeout=8.0, skip_provisional=True):
        """The next response; the last request is retransmitted as RFC 3261
        §17.1.2.2 does over UDP (T1 = 500 ms doubling) until a response."""
        end = time.time() + timeout
        interval, resend_at = 0.5, time.time() + 0.5
        heard = False
        while True:
            now = time.time()
            if now >= end:
                return None
            if not heard and now >= resend_at and getattr(self, "last", None):
                self.sock.sendto(self.last.encode(), self.server)
                interval = min(interval * 2, 4.0)
                resend_at = now + interval
            self.sock.settimeout(max(0.01, min(end, resend_at) - now))
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            heard = True
            text = data.decode(errors="replace")
            if not text.startswith("SIP/2.0"):
                continue
            r = Resp(text)
            if skip_provisional and r.status < 200:
                continue
            return r

    def authorization(self, chal, method, ruri, password, nc=1, header="Authorization"):
        c = parse_challenge(chal)
        assert c.get("algorithm", "MD5").upper() == "MD5", c
        ha1 = md5("%s:%s:%s" % (self.user, c["realm"], password))
        ha2 = md5("%s:%s" % (method, ruri))
        cnonce = token(8)
        ncs = "%08x" % nc
        if "qop" in c:
            resp = md5("%s:%s:%s:%s:auth:%s" % (ha1, c["nonce"], ncs, cnonce, ha2))
            return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                    'response="%s", algorithm=MD5, qop=auth, nc=%s, cnonce="%s"'
                    % (header, self.user, c["realm"], c["nonce"], ruri, resp, ncs, cnonce))
        resp = md5("%s:%s:%s" % (ha1, c["nonce"], ha2))
        return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5'
                % (header, self.user, c["realm"], c["nonce"], ruri, resp))

    def register(self, password, contacts=None, expires=None, extra=(), timeout=8.0):
        """REGISTER with digest; returns (final response, Authorization used)."""
        ruri = "sip:127.0.0.1:%d" % self.server[1]
        if contacts is None:
            contacts = ["<sip:%s@%s:%d>" % (self.user, self.host, self.port)]
        hdrs = ["Contact: " + c for c in contacts]
        if expires is not None:
            hdrs.append("Expires: %d" % expires)
        hdrs += list(extra)
        self.request("REGISTER", ruri, hdrs)
        r = self.recv(timeout)
        if r is None or r.status != 401:
            return r, None
        auth = self.authorization(r.get("www-authenticate"), "REGISTER", ruri, password)
        self.request("REGISTER", ruri, hdrs, auth=auth)
        return self.recv(timeout), auth


    def query(self, password):
        """REGISTER without Contact (§10.2.3): the current bindings."""
        r, _ = self.register(password, contacts=[])
        assert r is not None and r.status == 200, "query: %r" % r
        return r.all("contact")

    def ack_for(self, resp, ruri, branch, cseq):
        to_tag = re.search(r";tag=([^;>\s]+)", resp.get("to") or "")
        self.request("ACK", ruri, branch=branch, cseq=cseq,
                     to_tag=to_tag.group(1) if to_tag else None)

    def invite_status(self, password, callee, timeout=8.0, max_forwards=70):
        """INVITE callee through the server (407 answered with digest);
        the final status, the failure ACKed. For calls that fail."""
        ruri = "sip:%s@127.0.0.1:%d" % (callee, self.server[1])
        sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
               "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
        hdrs = ["Contact: <sip:%s@127.0.0.1:%d>" % (self.user, self.port),
                "Content-Type: application/sdp"]
        b = self.request("INVITE", ruri, hdrs, body=sdp)
        r = self.recv(timeout)
        assert r is not None, "no answer to INVITE"
        self.ack_for(r, ruri, b, self.cseq)
        if r.status != 407:
            return r.status
        auth = self.authorization(r.get("proxy-authenticate"), "INVITE", ruri, password,
                                  header="Proxy-Authorization")
        b = self.request("INVITE", ruri, hdrs, body=sdp, auth=auth, max_forwards=max_forwards)
        r = self.recv(timeout)
        assert r is not None, "no answer to the authenticated INVITE"
        if r.status >= 300:
            self.ack_for(r, ruri, b, self.cseq)
        return r.status


def register(server_port, user, password, port=0, **kw):
    ua = UdpUa(server_port, port, user)
    try:
        r, _ = ua.register(password, **kw)
    finally:
        ua.close()
    assert r is not None and r.status == 200, "REGISTER %s: %r" % (user, r)
    return r


def free_udp_block(n=4):
    """A UDP port p with p..p+n-1 all free (SIPp's media: audio RTP/RTCP,
    video RTP/RTCP)."""
    for _ in range(200):
        base = random.randrange(40000, 60000, 2)
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port block")


class Sipp:
    live = []  # every started instance, for stop_all()

    """One SIPp process running a scenario from tests/server/scenarios, with
    @NAME@ placeholders filled in from `subst`."""

    def __init__(self, tmp, name, scenario, server_port, port=None, subst=None,
                 args=(), calls=1):
        self.tmp = tmp
        self.name = name
        self.port = port or free_port(also_tcp=False)
        with open(os.path.join(SCEN, scenario)) as f:
            text = f.read()
        for k, v in (subst or {}).items():
            text = text.replace("@%s@" % k, str(v))
        self.xml = os.path.join(tmp, "%s.xml" % name)
        with open(self.xml, "w") as f:
            f.write(text)
        self.logbase = os.path.join(tmp, name)
        self.args = [SIPP, "127.0.0.1:%d" % server_port, "-sf", self.xml,
                     "-i", "127.0.0.1", "-p", str(self.port), "-m", str(calls),
                     "-nostdin", "-mp", "@MP@",
                     "-trace_err", "-trace_msg", "-message_file", self.logbase + "_msg.log",
                     "-error_file", self.logbase + "_err.log",
                     "-timeout", "30s", "-timeout_error",
                     "-max_recv_loops", "1000"] + list(args)
        self.proc = None

    def start(self):
        # the media ports are SIPp's own business: another block when one
        # was taken meanwhile by a test running in parallel
        for attempt in range(5):
            args = [str(free_udp_block()) if a == "@MP@" else a for a in self.args]
            self.out = open(self.logbase + "_out.log", "w")
            self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.tmp)
            Sipp.live.append(self)
            time.sleep(0.2)
            if self.proc.poll() in (None, 0):
                return self
            if "RTP socket" in self.errors() and attempt < 4:
                self.out.close()
                os.unlink(self.logbase + "_err.log")
                continue
            raise AssertionError("sipp %s exited at start (%d):\n%s" % (self.name, self.proc.returncode, self.errors()[-2000:]))
        return self

    def wait(self, timeout=40):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sipp %s did not finish within %ss\n%s" % (self.name, timeout, self.messages()[-3000:]))
        self.out.close()
        return rc

    def messages(self):
        try:
            with open(self.logbase + "_msg.log", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def errors(self):
        try:
            with open(self.logbase + "_err.log", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def expect_ok(self, timeout=40):
        rc = self.wait(timeout)
        if rc != 0:
            raise AssertionError("sipp %s exited %d\nerrors:\n%s\nmessages:\n%s"
                                 % (self.name, rc, self.errors()[-3000:], self.messages()[-5000:]))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_all():
    for s in Sipp.live:
        s.stop()
    Sipp.live.clear()
