#!/usr/bin/env python3
"""SIPp calls through cvoipd over TLS, both legs: alice (SIPp UAC) reaches
cvoipd's tls: listener, and bob (SIPp as a phone) registers with digest
over a TLS connection of his own and gets the call on it. Both TLS clients
verify cvoipd's certificate against the test CA. Debian's SIPp is built without OpenSSL, so each SIPp speaks plain
TCP to a TLS bridge (tls_bridge.py) that holds the TLS connection to or
from cvoipd; the SIP bytes pass through unchanged. The call must complete
(SIPp checks every message), the CDR must say who hung up, and cvoipd must
have carried both legs on TLS connections.

usage: test_sipp_tls.py"""
import os
import re
import ssl
import subprocess

from sipkit import (SRC, Resp, Sipp, TestDb, UdpUa, free_port, log, register, run, start_cvoipd,
                    stop_all, token, wait_for)
from tls_bridge import Bridge, Flow, Server


def certs(tmp):
    out = os.path.join(tmp, "certs")
    subprocess.run(["sh", os.path.join(SRC, "tests/tools/make-certs.sh"), out], check=True,
                   capture_output=True, timeout=60)
    return out


def read_msg(sock):
    """One SIP message from a stream (headers, then Content-Length)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    n = int(m.group(1)) if m else 0
    while len(body) < n:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        body += chunk
    return (head + b"\r\n\r\n" + body[:n]).decode()


def register_tls(sock, sipp_port):
    """REGISTER bob (digest) on sock, Contact naming the flow's transport."""
    host, lport = sock.getsockname()[:2]
    ruri = "sip:127.0.0.1"
    tag, call_id = token(8), token(16) + "@tls"
    ua = UdpUa(0, user="bob")  # only for its digest answer
    ua.close()
    auth = None
    for cseq in (1, 2):
        lines = ["REGISTER %s SIP/2.0" % ruri,
                 "Via: SIP/2.0/TLS %s:%d;branch=z9hG4bK%s;rport" % (host, lport, token(12)),
                 "Max-Forwards: 70",
                 "From: <sip:bob@127.0.0.1>;tag=" + tag,
                 "To: <sip:bob@127.0.0.1>",
                 "Call-ID: " + call_id,
                 "CSeq: %d REGISTER" % cseq,
                 "Contact: <sip:bob@127.0.0.1:%d;transport=tls>" % sipp_port,
                 "Expires: 300"]
        if auth:
            lines.append(auth)
        lines.append("Content-Length: 0")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        r = Resp(read_msg(sock))
        if r.status == 401 and not auth:
            auth = ua.authorization(r.get("www-authenticate"), "REGISTER", ruri, "bob-secret")
            continue
        assert r.status == 200, "REGISTER over TLS: %r" % r
        log("bob registered over TLS from %s:%d" % (host, lport))
        return
    raise AssertionError("REGISTER over TLS: no 200")


def test(tmp):
    cdir = certs(tmp)
    cfg = os.path.join(tmp, "cvoipd.yaml")
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text + "\ntls:\n  cert: %s\n  key: %s\n  ca: %s\n"
                % (os.path.join(cdir, "server.pem"), os.path.join(cdir, "server.key"),
                   os.path.join(cdir, "ca.pem")))
    tls_port = free_port()
    srv = start_cvoipd(tmp, TestDb(tmp), config=cfg,
                       extra_args=["--listen", "tls:127.0.0.1:%d" % tls_port])
    bridges = []
    try:
        # bob: a phone on a TLS connection of its own. The REGISTER (with
        # digest) is sent on that connection here, then the connection is
        # relayed to SIPp (TCP), which answers the call cvoipd sends over
        # the registration's flow (SIPp cannot both register as a client
        # and take a new call as a server in one scenario)
        cli_ctx = ssl.create_default_context(cafile=os.path.join(cdir, "ca.pem"))
        bob_port = free_port()
        bob = Sipp(tmp, "bob", "uas_answer.xml", srv.port, port=bob_port,
                   subst={"DELAY": 300}, args=["-t", "t1"]).start()
        bob_flow = Flow(tls_port, cli_ctx, lambda sk: register_tls(sk, bob_port), bob_port)
        bridges.append(bob_flow)
        if not bob_flow.ready.wait(10):
            raise AssertionError("bob's TLS registration: %s" % bob_flow.errors)
        # alice: SIPp on TCP into a TLS client bridge that verifies cvoipd
        alice_in = free_port()
        to_srv = Bridge(alice_in, tls_port, client_ctx=cli_ctx)
        bridges.append(to_srv)
        alice = Sipp(tmp, "alice", "uac_call.xml", alice_in, port=free_port(),
                     subst={"CALLEE": "bob", "HOLD": 500}, args=["-t", "t1"]).start()
        alice.expect_ok()
        bob.expect_ok()
        wait_for(lambda: len(srv.dbh.rows("select caller from cdrs")) >= 1, 5, "CDR")
        rows = srv.dbh.rows("select caller, callee, end_reason, hangup_by from cdrs")
        log("cdrs:", rows)
        assert rows == [("alice", "bob", "BYE", "caller")], rows
        for name, b in (("alice->cvoipd", to_srv), ("bob<->cvoipd", bob_flow)):
            log("%s: %d connection(s), %d bytes in, %d out, errors %s"
                % (name, b.conns, b.bytes_in, b.bytes_out, b.errors))
            assert b.conns >= 1 and b.bytes_in > 500 and b.bytes_out > 500, name
        # both legs on TLS inside cvoipd: bob's INVITE and BYE came with
        # cvoipd's TLS Via (the bridges only carry bytes)
        msgs = bob.messages()
        assert "Via: SIP/2.0/TLS" in msgs, msgs[-2000:]
        assert "BYE sip:" in msgs, "the BYE did not reach bob over the TLS flow"

        # carol registers over UDP a Contact that asks for TLS: cvoipd
        # calls her over a TLS connection of its own to that address (not
        # over the UDP flow the REGISTER came from), verifying the
        # certificate of the TLS front SIPp stands behind
        srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        srv_ctx.load_cert_chain(os.path.join(cdir, "server.pem"), os.path.join(cdir, "server.key"))
        carol_port, carol_tls = free_port(), free_port()
        carol = Sipp(tmp, "carol", "uas_answer.xml", srv.port, port=carol_port,
                     subst={"DELAY": 300}, args=["-t", "t1"]).start()
        front = Server(carol_tls, carol_port, srv_ctx)
        bridges.append(front)
        register(srv.port, "carol", "carol-secret",
                 contacts=["<sip:carol@127.0.0.1:%d;transport=tls>" % carol_tls])
        alice2 = Sipp(tmp, "alice2", "uac_call.xml", alice_in, port=free_port(),
                      subst={"CALLEE": "carol", "HOLD": 500}, args=["-t", "t1"]).start()
        alice2.expect_ok()
        carol.expect_ok()
        wait_for(lambda: len(srv.dbh.rows("select caller from cdrs")) >= 2, 5, "carol's CDR")
        log("TLS front for carol: %d handshake(s), %d bytes in, %d out"
            % (front.handshakes, front.bytes_in, front.bytes_out))
        assert front.handshakes >= 1 and front.bytes_in > 500, "carol not called over TLS"
        assert "Via: SIP/2.0/TLS" in carol.messages()
    finally:
        stop_all()
        for b in bridges:
            b.stop()
            if b.errors:
                log("%s: errors %s" % (type(b).__name__, b.errors))
        srv.stop()


run(test)
