#!/usr/bin/env python3
"""Trunk features through a real cvoipd: number rewriting, inbound DID
mapping, OPTIONS health checks, per-route SRTP policy. Peers are SIPp,
`cvoip call/answer` and a small python UDP upstream, all on loopback and
started by the test.

usage: test_trunk_feat.py CASE
  rewrite  routes with `strip`/`prepend` and a regex `rewrite`: SIPp alice
           dials 0044123 and 030555, the upstream (SIPp) gets +44123 and
           +4930555 in the Request-URI and To.
  did      calls from the trunk's address to +4930123456 (the trunk's own
           dids) reach bob, to 4930999 (top-level dids) reach carol; an
           unmapped number from the trunk still gets 404.
  options  a trunk health-checked with OPTIONS every 1 s (python upstream):
           it goes silent -> marked down after 2 failures (log, stats), a
           call skips it and goes to the route's next trunk (SIPp), a call
           on a route with only that trunk gets 480 at once; it answers
           again -> up, and the next call tries it first. A TCP trunk on
           a closed port is marked down (transport error).
  config   malformed rewrite/DID/health/SRTP keys refused with file:line."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

from sipkit import (BIN, SRC, Sipp, TestDb, UdpUa, free_port, log, register, run,
                    start_cvoipd, stop_all, wait_for)
from cvtest import tone_ratio


def config(tmp, extra):
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        text = f.read()
    path = os.path.join(tmp, "cvoipd.yaml")
    with open(path, "w") as f:
        f.write(text + "\n" + extra)
    return path


def cdr_rows(srv):
    return srv.dbh.rows(
        "select c.caller, c.callee, c.answer_us, c.end_reason, l.peer from cdrs c "
        "join cdr_legs l on l.cdr_id = c.id where l.idx = 1 order by c.start_us")


def rewrite(tmp):
    up = Sipp(tmp, "upstream", "uas_answer.xml", 5060, calls=2, subst={"DELAY": 100}).start()
    extra = r"""trunks:
  - name: carrier
    host: 127.0.0.1
    port: %d
routes:
  - name: international
    prefix: "00"
    strip: 2
    prepend: "+"
    trunks: carrier
  - name: national
    pattern: "^0[1-9]"
    rewrite: {match: "^0([0-9]+)$", replace: "+49\\1"}
    trunks: carrier
""" % up.port
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, extra))
    try:
        for callee in ("0044123", "030555"):
            a = Sipp(tmp, "alice-" + callee, "uac_call.xml", srv.port,
                     subst={"CALLEE": callee, "HOLD": 300}).start()
            a.expect_ok()
        up.expect_ok()
        msgs = up.messages()
        ruris = re.findall(r"\nINVITE sip:([^@\s]+)@127\.0\.0\.1:%d SIP/2\.0" % up.port, "\n" + msgs)
        tos = re.findall(r"\nTo: <?sip:([^@\s]+)@", msgs)
        log("Request-URIs", ruris, "To", tos)
        assert ruris == ["+44123", "+4930555"], ruris
        assert "+44123" in tos and "+4930555" in tos, tos
        text = srv.log()
        assert "number 0044123 rewritten to +44123" in text, "rewrite not logged"
        assert "number 030555 rewritten to +4930555" in text, "rewrite not logged"
        wait_for(lambda: len(cdr_rows(srv)) >= 2, 5, "CDRs")
        rows = cdr_rows(srv)
        log("cdrs", rows)
        # the CDR keeps the dialled number; the leg's peer the one sent
        assert [str(r[1]) for r in rows] == ["44123", "30555"] or \
            [str(r[1]) for r in rows] == ["0044123", "030555"], rows
        assert rows[0][4] == "sip:+44123@127.0.0.1:%d" % up.port, rows
        assert rows[1][4] == "sip:+4930555@127.0.0.1:%d" % up.port, rows
        srv.stop()
    finally:
        stop_all()
        srv.kill()


def did(tmp):
    trunk_port = free_port(also_tcp=False)
    extra = """trunks:
  - name: upstream
    host: 127.0.0.1
    port: %d
    dids: {"+4930123456": bob}
dids:
  "4930999": carol
  "+4930123456": alice
""" % trunk_port
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, extra))
    try:
        for n, (number, user, pw) in enumerate((("+4930123456", "bob", "bob-secret"),
                                                ("4930999", "carol", "carol-secret"))):
            callee = Sipp(tmp, user, "uas_answer.xml", srv.port, subst={"DELAY": 200})
            register(srv.port, user, pw, port=callee.port)
            callee.start()
            up = Sipp(tmp, "upstream%d" % n, "trunk_uac_did.xml", srv.port, port=trunk_port,
                      subst={"CALLEE": number, "CALLER": "0044123", "HOLD": 300}).start()
            up.expect_ok()
            callee.expect_ok()
            assert "SIP/2.0 407" not in up.messages(), "a trunk call was challenged"
            # the callee sees the DID in To (what the caller dialled)
            assert "To: <sip:%s@" % number in callee.messages(), callee.messages()[:1500]
        text = srv.log()
        assert "DID +4930123456 from trunk upstream -> bob" in text, "trunk DID not logged"
        assert "DID 4930999 from trunk upstream -> carol" in text, "global DID not logged"
        wait_for(lambda: len(cdr_rows(srv)) >= 2, 5, "CDRs")
        rows = cdr_rows(srv)
        log("cdrs", rows)
        assert [r[1] for r in rows] == ["bob", "carol"] and all(r[2] for r in rows), rows
        # an unmapped number from the trunk: 404 as before
        ua = UdpUa(srv.port, port=trunk_port, user="0044123")
        try:
            ua.request("INVITE", "sip:+4930000000@127.0.0.1:%d" % srv.port,
                       ["Contact: <sip:0044123@127.0.0.1:%d>" % ua.port])
            r = ua.recv(8)
            assert r is not None and r.status == 404, r
        finally:
            ua.close()
        # the DID map is for trunks only: alice dialling the DID is not
        # mapped (404: it is neither a user nor routed)
        ua = UdpUa(srv.port, user="alice")
        try:
            assert ua.invite_status("alice-secret", "+4930123456") == 404
        finally:
            ua.close()
        srv.stop()
    finally:
        stop_all()
        srv.kill()


class PyUpstream:
    """A UDP SIP peer answering OPTIONS with 200 while `alive`, and every
    INVITE with 503 (so that a call tried there fails over); counts
    what it got."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.alive = True
        self.options = 0
        self.branches = set()  # INVITE transactions (retransmissions once)
        self.stop = False
        self.th = threading.Thread(target=self.loop, daemon=True)
        self.th.start()

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode(errors="replace")
            method = text.split(" ", 1)[0]
            if method == "OPTIONS":
                self.options += 1
                if not self.alive:
                    continue
                status = "200 OK"
            elif method == "INVITE":
                via = re.search(r"branch=([^;\s]+)", text)
                self.branches.add(via.group(1) if via else text)
                status = "503 Service Unavailable"
            else:
                continue  # ACK
            head = text.split("\r\n\r\n", 1)[0].split("\r\n")
            keep = [h for h in head[1:] if h.split(":", 1)[0].lower() in
                    ("via", "from", "call-id", "cseq")]
            to = [h for h in head[1:] if h.lower().startswith("to:")]
            resp = ["SIP/2.0 " + status] + keep + [(to[0] + ";tag=up1") if to else "To: <sip:x@y>",
                                                  "Content-Length: 0"]
            self.sock.sendto(("\r\n".join(resp) + "\r\n\r\n").encode(), addr)

    @property
    def invites(self):
        return len(self.branches)

    def close(self):
        self.stop = True
        self.th.join(2)
        self.sock.close()


def options(tmp):
    py = PyUpstream()
    up = Sipp(tmp, "backup", "uas_answer.xml", 5060, calls=2, subst={"DELAY": 100}).start()
    extra = """routing:
  trunk_timeout: 10s
trunks:
  - name: primary
    host: 127.0.0.1
    port: %d
    options_ping: 1s
    down_after: 2
  - name: backup
    host: 127.0.0.1
    port: %d
  - name: tcpdead
    host: 127.0.0.3
    port: %d
    transport: tcp
    options_ping: 1s
    down_after: 1
routes:
  - name: out
    prefix: "9"
    trunks: [primary, backup]
  - name: solo
    prefix: "8"
    trunks: primary
""" % (py.port, up.port, free_port())
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, extra))
    try:
        wait_for(lambda: py.options >= 2, 10, "OPTIONS pings")
        assert "trunk primary down" not in srv.log()
        # over TCP to a closed port: the transport error is a failure
        # (on 127.0.0.3: TCP trunks are matched by IP alone, and alice
        # calls from 127.0.0.1)
        wait_for(lambda: "trunk tcpdead down" in srv.log(), 10, "the TCP trunk down")
        # primary goes silent: down after 2 failed pings
        py.alive = False
        wait_for(lambda: "trunk primary down" in srv.log(), 15, "primary marked down")
        text = srv.log()
        assert re.search(r"trunk primary down: 2 OPTIONS failed in a row", text), text[-2000:]
        inv = py.invites
        a = Sipp(tmp, "alice1", "uac_call.xml", srv.port,
                 subst={"CALLEE": "9001", "HOLD": 200}).start()
        a.expect_ok()
        assert py.invites == inv, "a down trunk got the INVITE"
        assert "route out: trunk primary is down, skipped" in srv.log()
        # a route whose only trunk is down: 480 at once, nothing sent
        ua = UdpUa(srv.port, user="alice")
        try:
            t0 = time.time()
            assert ua.invite_status("alice-secret", "8001") == 480
            # (trunk_timeout is 10 s: trying the trunk would take that)
            assert time.time() - t0 < 6, "waited for a down trunk"
        finally:
            ua.close()
        assert py.invites == inv and "route solo: every trunk is down" in srv.log()
        # back: the next call is tried on primary first (its 503 fails
        # over to backup)
        py.alive = True
        wait_for(lambda: "trunk primary up" in srv.log(), 15, "primary up again")
        a = Sipp(tmp, "alice2", "uac_call.xml", srv.port,
                 subst={"CALLEE": "9002", "HOLD": 200}).start()
        a.expect_ok()
        up.expect_ok()
        assert py.invites == inv + 1, (inv, py.invites)
        assert "trunk primary failed with 503, failover to backup" in srv.log()
        # the pings themselves: OPTIONS to the trunk's address
        srv.stop()
        text = srv.log()
        m = re.search(r"trunk stats: registered=\d+ calls=(\d+) failovers=(\d+) down=(\d+) "
                      r"pings_failed=(\d+) skipped=(\d+)", text)
        assert m, text[-2000:]
        calls, fo, down, pf, skipped = map(int, m.groups())
        assert calls == 2 and fo == 1 and down == 1 and pf >= 3 and skipped == 2, m.group(0)
        # each state change is on the bus (here: cvoipd's event log)
        with open(os.path.join(tmp, "var", "events.jsonl")) as f:
            evs = [json.loads(ln) for ln in f if ln.strip()]
        states = [(e["type"], e["data"]["trunk"]) for e in evs
                  if e["type"] in ("trunk.down", "trunk.up")]
        log("trunk events:", states)
        assert states.count(("trunk.down", "primary")) == 1, states
        assert states.count(("trunk.up", "primary")) == 1, states
        assert ("trunk.down", "tcpdead") in states, states
        down_ev = [e for e in evs if e["type"] == "trunk.down" and e["data"]["trunk"] == "primary"][0]
        assert down_ev["topic"] == "trunk" and down_ev["data"]["failures"] == 2, down_ev
        assert down_ev["data"]["address"].startswith("sip:127.0.0.1:%d" % py.port), down_ev
    finally:
        py.close()
        stop_all()
        srv.kill()


CVOIP = os.path.join(BIN, "cvoip")


def jevents(text):
    out = []
    for ln in text.splitlines():
        try:
            out.append(json.loads(ln))
        except ValueError:
            pass
    return out


class Answer:
    """`cvoip answer` listening as a trunk's upstream (no registration)."""

    def __init__(self, tmp, name, freq, extra=()):
        self.port = free_port()
        self.out = os.path.join(tmp, name + ".out")
        self.rec = os.path.join(tmp, name + ".wav")
        self.f = open(self.out, "w")
        self.proc = subprocess.Popen(
            [CVOIP, "answer", "--json", "--listen", "udp:127.0.0.1:%d" % self.port,
             "--tone", str(freq), "--record", self.rec, "--duration", "3"] + list(extra),
            stdout=self.f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def events(self):
        with open(self.out) as f:
            return jevents(f.read())

    def finish(self, timeout=20):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("cvoip answer did not exit:\n" + open(self.out).read())
        self.f.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def media_srtp(events):
    return [e.get("srtp") for e in events if e.get("event") == "media"]


def check_tone(path, freq, other):
    assert path and os.path.exists(path), "no recording %s" % path
    ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
    log("%s: %d Hz ratio %.1f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
    assert rms > 1000 and ratio > 100, "tone %d Hz not heard in %s" % (freq, path)


def srtp(tmp):
    """`srtp: required`: plain caller, the first trunk (SIPp) gets only
    RTP/SAVP with a key and refuses it (488: failover), the second
    (`cvoip answer`, which takes what it is offered) talks SRTP while the
    caller talks plain RTP; on a route with only that first trunk the
    caller gets its 488. `srtp: off`: an SRTP caller, the trunk gets
    plain RTP/AVP without keys. Tones checked both ways in both calls."""
    no = Sipp(tmp, "no-srtp", "trunk_uas_488.xml", 5060, calls=2).start()
    ans_req = Answer(tmp, "up-required", 1000)
    ans_off = Answer(tmp, "up-off", 1200)
    extra = """trunks:
  - name: picky
    host: 127.0.0.1
    port: %d
  - name: secure
    host: 127.0.0.1
    port: %d
  - name: plain
    host: 127.0.0.1
    port: %d
routes:
  - name: secure-out
    prefix: "8"
    srtp: required
    trunks: [picky, secure]
  - name: plain-out
    prefix: "7"
    srtp: "off"
    trunks: plain
  - name: picky-only
    prefix: "6"
    srtp: required
    trunks: picky
""" % (no.port, ans_req.port, ans_off.port)
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, extra))
    a1, a2 = os.path.join(tmp, "alice1.wav"), os.path.join(tmp, "alice2.wav")
    try:
        common = ["--proxy", "sip:127.0.0.1:%d" % srv.port, "--from", "sip:alice@127.0.0.1",
                  "--auth", "alice:alice-secret", "--duration", "3"]
        p = subprocess.run([CVOIP, "call", "--json", "sip:8001@127.0.0.1", "--tone", "440",
                            "--record", a1] + common, capture_output=True, text=True, timeout=40)
        assert p.returncode == 0, p.stdout + p.stderr
        assert media_srtp(jevents(p.stdout)) == [None] or not any(media_srtp(jevents(p.stdout))), \
            "the caller was plain: %r" % media_srtp(jevents(p.stdout))
        assert ans_req.finish() == 0, open(ans_req.out).read()
        s1 = media_srtp(ans_req.events())
        assert s1 and s1[0] and s1[0].startswith("AES_CM_128_HMAC_SHA1_"), ans_req.events()
        # no trunk left after the 488: the caller gets it
        p = subprocess.run([CVOIP, "call", "--json", "sip:6001@127.0.0.1"] + common,
                           capture_output=True, text=True, timeout=40)
        ended = [e for e in jevents(p.stdout) if e.get("state") == "ended"]
        assert p.returncode != 0 and ended and ended[-1].get("status") == 488, p.stdout + p.stderr
        no.expect_ok()
        inv = no.messages().split("INVITE sip:", 1)[1].split("\nACK", 1)[0]
        assert re.search(r"m=audio \d+ RTP/SAVP ", inv) and "a=crypto:" in inv, inv
        assert "RTP/AVP " not in inv, inv
        text = srv.log()
        assert "trunk picky failed with 488, failover to secure" in text, text[-2000:]
        p = subprocess.run([CVOIP, "call", "--json", "sip:7001@127.0.0.1", "--tone", "440",
                            "--record", a2, "--srtp"] + common,
                           capture_output=True, text=True, timeout=40)
        assert p.returncode == 0, p.stdout + p.stderr
        sc = media_srtp(jevents(p.stdout))
        assert sc and sc[0], "the caller asked SRTP: %r" % sc
        assert ans_off.finish() == 0, open(ans_off.out).read()
        s2 = media_srtp(ans_off.events())
        assert s2 and not any(s2), "the plain trunk got SRTP: %r" % s2
        wait_for(lambda: srv.log().count("call end") >= 2, 10, "call end log lines")
        srv.stop()
    finally:
        ans_req.kill()
        ans_off.kill()
        stop_all()
        srv.kill()
    check_tone(ans_req.rec, 440, 1000)
    check_tone(a1, 1000, 440)
    check_tone(ans_off.rec, 440, 1200)
    check_tone(a2, 1200, 440)


BAD = [
    ("routes:\n  - name: r\n    strip: 40\n    trunks: t1\n", "strip"),
    ("routes:\n  - name: r\n    prepend: '+1 2'\n    trunks: t1\n", "prepend"),
    ("routes:\n  - name: r\n    rewrite: {match: '(0'}\n    trunks: t1\n", "rewrite"),
    ("routes:\n  - name: r\n    rewrite: {match: '^0(.*)', replace: '+49\\2'}\n    trunks: t1\n",
     "names no group"),
    ("routes:\n  - name: r\n    rewrite: {match: '^0', replace: 'a b'}\n    trunks: t1\n", "replace"),
    ("routes:\n  - name: r\n    rewrite: {match: '^0', with: '1'}\n    trunks: t1\n", "with"),
    ("routes:\n  - name: r\n    srtp: maybe\n    trunks: t1\n", "srtp"),
    ("routes:\n  - name: r\n    srtp: required\n    media: direct\n    trunks: t1\n", "relayed"),
    ("  - name: t2\n    host: 127.0.0.1\n    options_ping: 100ms\n", "options_ping"),
    ("  - name: t2\n    host: 127.0.0.1\n    down_after: 3\n", "needs 'options_ping'"),
    ("  - name: t2\n    host: 127.0.0.1\n    options_ping: 5s\n    down_after: 0\n", "down_after"),
    ("  - name: t2\n    host: 127.0.0.1\n    dids: [a, b]\n", "dids"),
    ("  - name: t2\n    host: 127.0.0.1\n    dids: {'1 2': bob}\n", "DID"),
    ("  - name: t2\n    host: 127.0.0.1\n    dids: {'123': 'b o b'}\n", "user"),
    ("dids: {'123': bob, '123': carol}\n", "duplicate key"),
]


def bad_config(tmp):
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        demo = f.read()
    base = demo + "\ntrunks:\n  - name: t1\n    host: 127.0.0.1\n"
    nlines = demo.count("\n") + 1
    for i, (extra, word) in enumerate(BAD):
        path = os.path.join(tmp, "bad%d.yaml" % i)
        with open(path, "w") as f:
            # a trunk entry continues the trunks list; the rest follows it
            f.write(base + extra)
        p = subprocess.run([os.path.join(BIN, "cvoipd"), "--check-config", path],
                           capture_output=True, text=True, timeout=20)
        out = p.stdout + p.stderr
        log("bad%d:" % i, out.strip())
        assert p.returncode != 0, "accepted:\n" + extra
        m = re.search(re.escape(path) + r":(\d+)", out)
        assert m and int(m.group(1)) >= nlines, "no file:line in %r" % out
        assert word in out, "%r not in %r" % (word, out)
    # top-level dids without any trunk
    path = os.path.join(tmp, "nodid.yaml")
    with open(path, "w") as f:
        f.write(demo + "\ndids: {'123': bob}\n")
    p = subprocess.run([os.path.join(BIN, "cvoipd"), "--check-config", path],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "no trunk" in p.stdout + p.stderr, p.stdout + p.stderr
    # a good one passes
    path = os.path.join(tmp, "good.yaml")
    with open(path, "w") as f:
        f.write(base + "    options_ping: 30s\n    down_after: 2\n"
                "    dids: {'+4930123456': alice}\n"
                "routes:\n  - name: r\n    prefix: '0'\n    strip: 1\n    prepend: '+49'\n"
                "    rewrite: {match: '^[+]49(1[0-9]+)$', replace: '+49\\1'}\n"
                "    srtp: required\n    trunks: [t1]\n"
                "dids:\n  '4930999': carol\n")
    p = subprocess.run([os.path.join(BIN, "cvoipd"), "--check-config", path],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stdout + p.stderr


def main():
    cases = {"rewrite": rewrite, "did": did, "options": options, "srtp": srtp,
             "config": bad_config}
    if len(sys.argv) < 2 or sys.argv[1] not in cases:
        print("usage: test_trunk_feat.py {%s}" % "|".join(cases))
        sys.exit(2)
    run(cases[sys.argv[1]])


main()
