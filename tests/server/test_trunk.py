#!/usr/bin/env python3
"""Trunks through cvoipd: SIPp upstreams on loopback, started by the test.

usage: test_trunk.py CASE
  out     a route with three trunks: the first never answers (a silent UDP
          socket: trunk_timeout), the second answers 503, the third
          challenges (401 to cvoipd's outbound REGISTER, 407 to the INVITE),
          checks the digest answers (SIPp verifyauth) and takes the call.
          Media relayed (the route's default).
  direct  the same route with `media: direct`: the upstream gets the
          caller's own SDP.
  out_tcp the same over TCP trunks (`transport: tcp`); the first trunk is
          a closed port (transport error).
  in      a call from a trunk's address reaches bob without a challenge;
          one to a non-local number is not sent back out (404); the same
          call from another address gets 407.
  register  the outbound registration's refresh (same Call-ID, CSeq + 1,
          challenge answered again).
  config  malformed trunks/routes are refused with file:line."""
import os
import re
import socket
import subprocess
import sys

from sipkit import (BIN, SRC, md5, Sipp, TestDb, UdpUa, free_port, log, register, run,
                    start_cvoipd, stop_all, wait_for)

USER, PASSWORD = "trunkuser", "trunk-secret"


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
        "join cdr_legs l on l.cdr_id = c.id where l.idx = 1")


def media_ports(text):
    return {int(p) for p in re.findall(r"m=audio (\d+) ", text)}


def check_proxy_auth(msgs):
    """The digest answer to the upstream's 407 (RFC 2617 without qop, as
    challenged) is right for the trunk's credentials."""
    m = re.search(r'Proxy-Authorization: Digest username="([^"]+)", realm="([^"]+)", '
                  r'nonce="([^"]+)", uri="([^"]+)", response="([0-9a-f]+)"', msgs)
    assert m, "no digest answer to the upstream's 407"
    user, realm, nonce, uri, resp = m.groups()
    ha1 = md5("%s:%s:%s" % (USER, realm, PASSWORD))
    want = md5("%s:%s:%s" % (ha1, nonce, md5("INVITE:" + uri)))
    assert user == USER and realm == "upstream" and resp == want, m.group(0)


def outbound(tmp, media, tcp=False):
    # the first trunk: over UDP a socket that never answers (the trunk
    # timeout), over TCP a port nobody listens on (a transport error)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    dead_port = free_port() if tcp else silent.getsockname()[1]
    tp = ["-t", "t1"] if tcp else []
    fail = Sipp(tmp, "up-fail", "trunk_uas_fail.xml", 5060, args=tp).start()
    up = Sipp(tmp, "up-auth", "trunk_uas_auth.xml", 5060, calls=2, args=tp,
              subst={"USER": USER, "PASSWORD": PASSWORD}).start()
    tpkey = "    transport: tcp\n" if tcp else ""
    extra = """routing:
  trunk_timeout: 1s
trunks:
  - name: dead
    host: 127.0.0.1
    port: %d
%s  - name: failing
    host: 127.0.0.1
    port: %d
%s  - name: carrier
    host: 127.0.0.1
    port: %d
%s    username: %s
    password: %s
    realm: upstream
    register: true
    expires: 3600
routes:
  - name: local-only
    prefix: "7"
    trunks: carrier
  - name: not-this
    prefix: "99"
    priority: 1
    trunks: carrier
  - name: out
    prefix: "9"
    pattern: "^9[0-9]+$"
    priority: 5
    trunks: [dead, failing, carrier]
%s""" % (dead_port, tpkey, fail.port, tpkey, up.port, tpkey, USER, PASSWORD,
         "    media: direct\n" if media == "direct" else "")
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, extra))
    try:
        wait_for(lambda: "trunk carrier registered" in srv.log(), 15,
                 "the outbound registration")
        # the store holds what the configuration provisioned
        trunks = srv.dbh.rows("select name, port, do_register from trunks order by name")
        routes = srv.dbh.rows("select name, prefix, pattern, trunk, media from routes order by priority")
        log("trunks", trunks, "routes", routes)
        assert [t[0] for t in trunks] == ["carrier", "dead", "failing"], trunks
        assert [r[0] for r in routes] == ["not-this", "out", "local-only"], routes
        assert routes[1][3] == "dead,failing,carrier", routes
        assert [str(r[1]) for r in routes] == ["99", "9", "7"], routes
        assert routes[1][4] == ("direct" if media == "direct" else "relay"), routes
        # over TCP the trunks are matched by IP alone: alice calls from
        # another loopback address so that she is not taken for a trunk
        a = Sipp(tmp, "alice", "uac_call.xml", srv.port,
                 args=["-i", "127.0.0.2"] if tcp else [],
                 subst={"CALLEE": "90044123", "HOLD": 500}).start()
        a.expect_ok()
        fail.expect_ok()
        up.expect_ok()
        # the silent trunk got the INVITE (then its CANCEL never went out:
        # no provisional came)
        if not tcp:
            silent.settimeout(0.5)
            data, _ = silent.recvfrom(65535)
            assert data.startswith(b"INVITE sip:90044123@127.0.0.1:%d" % dead_port), data[:80]
        msgs = up.messages()
        check_proxy_auth(msgs)
        assert re.search(r"REGISTER sip:127\.0\.0\.1:%d" % up.port, msgs), "no REGISTER"
        assert "From: <sip:alice@127.0.0.1:%d>" % up.port in msgs, "caller not in From"
        if tcp:
            assert "SIP/2.0/TCP" in msgs and ";transport=tcp" in msgs, "not over TCP"
        wait_for(lambda: len(cdr_rows(srv)) >= 1, 5, "CDR")
        rows = cdr_rows(srv)
        log("cdr", rows)
        # (psql gives numeric-looking text back as numbers: compare text)
        caller, callee, answer_us, reason, peer = rows[0]
        assert (caller, str(callee), bool(answer_us), reason) == ("alice", "90044123", True, "BYE"), rows
        assert peer == "sip:90044123@127.0.0.1:%d%s" % (up.port, ";transport=tcp" if tcp else ""), peer
        text = srv.log()
        assert "failover to failing" in text and "failover to carrier" in text, "no failover logged"
        assert ("trunk dead failed with 503 (local)" if tcp else
                "trunk dead failed with 408 (local)") in text, "first trunk's failure"
        pa = media_ports(a.messages())
        pu = media_ports(msgs)
        lo, hi = srv.rtp_range
        if media == "direct":
            # the upstream saw alice's own port and alice the upstream's
            assert pa & pu and not any(lo <= p <= hi for p in pa | pu), (pa, pu)
        else:
            assert any(lo <= p <= hi for p in pu) and not (pa & pu), (pa, pu)
        srv.stop()
        text = srv.log()
        m = re.search(r"trunk stats: registered=(\d+) calls=(\d+) failovers=(\d+)", text)
        assert m and m.group(2) == "1" and m.group(3) == "2", m and m.group(0)
    finally:
        silent.close()
        stop_all()
        srv.kill()


def inbound(tmp):
    trunk_port = free_port(also_tcp=False)
    extra = """trunks:
  - name: upstream
    host: 127.0.0.1
    port: %d
routes:
  - name: everything
    pattern: ".*"
    trunks: upstream
""" % trunk_port
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, extra))
    try:
        bob = Sipp(tmp, "bob", "uas_answer.xml", srv.port, subst={"DELAY": 200})
        register(srv.port, "bob", "bob-secret", port=bob.port)
        bob.start()
        up = Sipp(tmp, "upstream", "trunk_uac_in.xml", srv.port, port=trunk_port,
                  subst={"CALLEE": "bob", "CALLER": "0044123", "HOLD": 300}).start()
        up.expect_ok()
        bob.expect_ok()
        assert "SIP/2.0 407" not in up.messages(), "a trunk call was challenged"
        wait_for(lambda: len(cdr_rows(srv)) >= 1, 5, "CDR")
        rows = cdr_rows(srv)
        assert str(rows[0][0]).lstrip("0") == "44123" and rows[0][1] == "bob" and rows[0][2], rows
        if srv.dbh.kind == "sqlite":
            assert rows[0][0] == "0044123", rows
        # from the trunk to a number that is not local: 404, never back
        # out through a route (no transit between trunks)
        ua = UdpUa(srv.port, port=trunk_port, user="0044123")
        try:
            ua.request("INVITE", "sip:0099887766@127.0.0.1:%d" % srv.port,
                       ["Contact: <sip:0044123@127.0.0.1:%d>" % ua.port])
            r = ua.recv(8)
            assert r is not None and r.status == 404, r
        finally:
            ua.close()
        # the same INVITE from another port of the same host: 407
        ua = UdpUa(srv.port, user="mallory")
        try:
            ua.request("INVITE", "sip:bob@127.0.0.1:%d" % srv.port,
                       ["Contact: <sip:mallory@127.0.0.1:%d>" % ua.port])
            r = ua.recv(8)
            assert r is not None and r.status == 407, r
        finally:
            ua.close()
        srv.stop()
    finally:
        stop_all()
        srv.kill()


def registration(tmp):
    """Outbound registration with refresh: 401 answered, the granted 4 s
    refreshed after ~2 s with the same Call-ID and a growing CSeq, the
    refresh's challenge answered too (the upstream verifies both)."""
    up = Sipp(tmp, "registrar", "trunk_uas_reg.xml", 5060,
              subst={"USER": USER, "PASSWORD": PASSWORD, "EXPIRES": 4}).start()
    extra = """trunks:
  - name: up
    host: 127.0.0.1
    port: %d
    username: %s
    password: %s
    register: true
    expires: 600
""" % (up.port, USER, PASSWORD)
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, extra))
    try:
        up.expect_ok(timeout=20)
        msgs = up.messages()
        assert "SIP/2.0 403" not in msgs, "the upstream refused our digest"
        regs = re.findall(r"\nREGISTER sip:[^\n]*\n(?:[^\n]+\n)*?CSeq: (\d+) REGISTER", msgs)
        cids = set(re.findall(r"Call-ID: (\S+)", msgs))
        log("REGISTER CSeqs", regs, "Call-IDs", cids)
        assert regs == ["1", "2", "3", "4"], regs
        assert len(cids) == 1, cids
        assert "Expires: 600" in msgs, "asked expiry not sent"
        text = srv.log()
        assert text.count("trunk up registered") == 1, "registered not logged once"
        assert "registration failed" not in text, text[-2000:]
        srv.stop()
    finally:
        stop_all()
        srv.kill()


BAD = [
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\n    port: 70000\n", "port"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\n    transport: sctp\n", "transport"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\n    colour: red\n", "colour"),
    # names resolve while cvoipd runs (RFC 3263): only the syntax is checked
    ("trunks:\n  - name: t1\n    host: 'bad host!'\n", "not an IP address or a DNS name"),
    ("dns:\n  servers: [nowhere]\n", "DNS server"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\n    register: true\n", "register"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\n    expires: 1\n", "expires"),
    ("trunks:\n  - name: 'a b'\n    host: 127.0.0.1\n", "trunk name"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\n  - name: t1\n    host: 127.0.0.1\n", "twice"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\nroutes:\n  - name: r\n    trunks: [t2]\n", "unknown trunk"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\nroutes:\n  - name: r\n    pattern: '(9'\n    trunks: t1\n", "bad pattern"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\nroutes:\n  - name: r\n    media: both\n    trunks: t1\n", "media"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\nroutes:\n  - name: r\n    prefix: '0'\n", "needs 'trunks'"),
    ("trunks:\n  - name: t1\n    host: 127.0.0.1\nroutes:\n  - name: r\n    priority: x\n    trunks: t1\n", "priority"),
    ("routing:\n  trunk_timeout: 10ms\n", "trunk_timeout"),
]


def bad_config(tmp):
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        demo = f.read()
    nlines = demo.count("\n") + 1
    for i, (extra, word) in enumerate(BAD):
        path = os.path.join(tmp, "bad%d.yaml" % i)
        with open(path, "w") as f:
            f.write(demo + "\n" + extra)
        p = subprocess.run([os.path.join(BIN, "cvoipd"), "--check-config", path],
                           capture_output=True, text=True, timeout=20)
        out = p.stdout + p.stderr
        log("bad%d:" % i, out.strip())
        assert p.returncode != 0, "accepted:\n" + extra
        m = re.search(re.escape(path) + r":(\d+)", out)
        assert m and int(m.group(1)) >= nlines, "no file:line in %r" % out
        assert word in out, "%r not in %r" % (word, out)
    # a good one passes
    path = os.path.join(tmp, "good.yaml")
    with open(path, "w") as f:
        f.write(demo + "\ntrunks:\n  - name: t1\n    host: 127.0.0.1\n"
                "routes:\n  - name: r\n    prefix: '9'\n    media: direct\n    trunks: [t1]\n")
    p = subprocess.run([os.path.join(BIN, "cvoipd"), "--check-config", path],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stdout + p.stderr


def main():
    cases = {"out": lambda tmp: outbound(tmp, "relay"),
             "direct": lambda tmp: outbound(tmp, "direct"),
             "out_tcp": lambda tmp: outbound(tmp, "relay", tcp=True),
             "in": inbound,
             "register": registration,
             "config": bad_config}
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: test_trunk.py {%s}" % "|".join(cases))
        sys.exit(2)
    run(cases[sys.argv[1]])


main()
