#!/usr/bin/env python3
"""Trunks given by DNS name (RFC 3263) and TLS trunks, through cvoipd, with
a dnsmasq on loopback as the only DNS server (`dns: servers:`) and SIPp
upstreams started by the test.

usage: test_trunk_dns.py CASE
  srv      `host: up.test, transport: tcp`, no port: SRV _sip._tcp.up.test
           has three targets: the first (priority 10) is a closed port
           (transport error), the second (15) answers 503, the call
           completes on the third, never reaching the route's next trunk.
  ttl      `host: ttl.test`, no transport, no port: NAPTR SIP+D2U ->
           SRV _sip._udp -> A, 1 s TTL. The first call reaches upstream 1; calls from either
           SRV target's address are taken as the trunk's (no 407, 404 for
           a non-local number); dnsmasq restarts with the record moved to
           upstream 2: cvoipd re-resolves, the next call reaches upstream 2
           and the dropped address is no longer the trunk's (407).
  dnsdown  cvoipd starts while the DNS server is down: it runs, the trunk
           is unusable (the call fails, no crash), and once DNS answers the
           trunk resolves and a call completes.
  tls      TLS trunks to a TLS server in front of SIPp (tls_bridge.Server,
           the test certificate): a numeric host (certificate checked for
           127.0.0.1) and a name (sip.test, SNI and name check) complete;
           a name the certificate does not carry (wrong.test) is refused
           at the handshake and the call fails.
  tls_ca   the same upstream with cvoipd trusting another CA: refused."""
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

from sipkit import (SRC, Sipp, TestDb, UdpUa, free_port, log, run, start_cvoipd, stop_all,
                    wait_for)
from tls_bridge import Server

DNSMASQ = "/usr/sbin/dnsmasq"


class Dns:
    """dnsmasq on 127.0.0.1:port answering only the records given."""

    def __init__(self, tmp, port, records):
        self.tmp, self.port, self.proc = tmp, port, None
        self.start(records)

    def start(self, records):
        args = [DNSMASQ, "-k", "--port=%d" % self.port, "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                "--pid-file=", "--user=root", "--local-ttl=1",
                "--log-facility=" + os.path.join(self.tmp, "dnsmasq.log")] + records
        # the port may still be held for a moment by the last instance
        for _ in range(20):
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if self._answers(5.0):
                return
            self.stop()
            time.sleep(0.3)
        raise AssertionError("dnsmasq did not start")

    def _answers(self, timeout):
        """True once an A query gets any answer."""
        q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
        q += b"".join(bytes([len(x)]) + x for x in b"probe.test".split(b".")) + b"\0"
        q += struct.pack(">HH", 1, 1)
        end = time.time() + timeout
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            while time.time() < end and self.proc.poll() is None:
                s.sendto(q, ("127.0.0.1", self.port))
                try:
                    if s.recv(512)[:2] == q[:2]:
                        return True
                except socket.timeout:
                    pass
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def config(tmp, dns_port, extra, tls=None):
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        text = f.read()
    text += "\ndns:\n  servers: [\"127.0.0.1:%d\"]\n" % dns_port
    if tls:
        text += "tls:\n  ca: %s\n" % tls
    path = os.path.join(tmp, "cvoipd.yaml")
    with open(path, "w") as f:
        f.write(text + extra)
    return path


def call(tmp, name, srv, callee, src_ip="127.0.0.1"):
    """alice calls callee through cvoipd (digest): the SIPp UAC."""
    return Sipp(tmp, name, "uac_call.xml", srv.port, args=["-i", src_ip],
                subst={"CALLEE": callee, "HOLD": 300}).start()


def failed_call(srv, callee, src_ip="127.0.0.1"):
    """An authenticated INVITE that must fail: its final status."""
    ua = UdpUa(srv.port, user="alice", host=src_ip)
    try:
        return ua.invite_status("alice-secret", callee, timeout=20)
    finally:
        ua.close()


def trunk_invite(srv, port):
    """An INVITE from 127.0.0.1:port to a non-local number: 404 when the
    source is one of a trunk's addresses (no transit between trunks), 407
    when it is not a trunk (a caller who must authenticate)."""
    ua = UdpUa(srv.port, port=port, user="0044123")
    try:
        ua.request("INVITE", "sip:0099887766@127.0.0.1:%d" % srv.port,
                   ["Contact: <sip:0044123@127.0.0.1:%d>" % ua.port])
        r = ua.recv(10)
        assert r is not None, "no answer to the trunk INVITE"
        return r.status
    finally:
        ua.close()


def case_srv(tmp):
    dns_port, dead = free_port(also_tcp=False), free_port()
    up_port = free_port()
    fail = Sipp(tmp, "fail", "trunk_uas_fail.xml", 5060, args=["-t", "t1"]).start()
    up = Sipp(tmp, "up", "trunk_uas_answer_stream.xml", 5060, port=up_port,
              args=["-t", "t1"], subst={"DELAY": 100, "CPORT": up_port, "CTP": "tcp"}).start()
    # the route's second trunk: must get nothing (a silent UDP socket)
    backup = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    backup.bind(("127.0.0.3", 0))
    dns = Dns(tmp, dns_port, [
        "--srv-host=_sip._tcp.up.test,a.up.test,%d,10,10" % dead,
        "--srv-host=_sip._tcp.up.test,f.up.test,%d,15,10" % fail.port,
        "--srv-host=_sip._tcp.up.test,b.up.test,%d,20,10" % up_port,
        "--host-record=a.up.test,127.0.0.1", "--host-record=f.up.test,127.0.0.1",
        "--host-record=b.up.test,127.0.0.1"])
    extra = """routing:
  trunk_timeout: 5s
trunks:
  - name: carrier
    host: up.test
    transport: tcp
  - name: backup
    host: 127.0.0.3
    port: %d
routes:
  - name: out
    prefix: "9"
    trunks: [carrier, backup]
""" % backup.getsockname()[1]
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, dns_port, extra))
    try:
        wait_for(lambda: "trunk carrier resolved up.test: 3 targets" in srv.log(), 20,
                 "the SRV resolution")
        text = srv.log()
        assert re.search(r"TCP 127\.0\.0\.1:%d, TCP 127\.0\.0\.1:%d, TCP 127\.0\.0\.1:%d"
                         % (dead, fail.port, up_port), text), "SRV priority order: " + text[-1500:]
        # over TCP a trunk is matched by IP alone: alice calls from another
        # loopback address so that she is not taken for the trunk
        a = call(tmp, "alice", srv, "90044123", "127.0.0.2")
        a.expect_ok()
        fail.expect_ok()
        up.expect_ok()
        msgs = up.messages()
        assert "INVITE sip:90044123@up.test;transport=tcp SIP/2.0" in msgs, msgs[:600]
        assert "Via: SIP/2.0/TCP" in msgs, "not over TCP"
        text = srv.log()
        assert "trunk carrier: next target TCP 127.0.0.1:%d" % fail.port in text, text[-2000:]
        assert "trunk carrier: next target TCP 127.0.0.1:%d" % up_port in text, text[-2000:]
        assert "failover to backup" not in text, text[-2000:]
        backup.settimeout(0.3)
        try:
            data = backup.recv(65535)
            raise AssertionError("the route's next trunk got %r" % data[:80])
        except socket.timeout:
            pass
    finally:
        backup.close()
        stop_all()
        srv.stop()
        dns.stop()


def case_ttl(tmp):
    dns_port = free_port(also_tcp=False)
    p1, p3, p2 = (free_port(also_tcp=False) for _ in range(3))
    up1 = Sipp(tmp, "up1", "uas_answer.xml", 5060, port=p1, subst={"DELAY": 100}).start()
    rec = lambda port, prio: "--srv-host=_sip._udp.ttl.test,h.ttl.test,%d,%d,10" % (port, prio)
    host = "--host-record=h.ttl.test,127.0.0.1"
    naptr = "--naptr-record=ttl.test,10,10,S,SIP+D2U,,_sip._udp.ttl.test"
    dns = Dns(tmp, dns_port, [naptr, rec(p1, 10), rec(p3, 20), host])
    extra = """routing:
  trunk_timeout: 5s
trunks:
  - name: carrier
    host: ttl.test
routes:
  - name: out
    prefix: "9"
    trunks: carrier
"""
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, dns_port, extra))
    try:
        wait_for(lambda: "trunk carrier resolved ttl.test: 2 targets" in srv.log(), 20,
                 "the first resolution")
        a = call(tmp, "alice1", srv, "9001")
        a.expect_ok()
        up1.expect_ok()
        assert "INVITE sip:9001@ttl.test SIP/2.0" in up1.messages()
        # both SRV targets are the trunk's addresses (UDP: IP and port)
        assert trunk_invite(srv, p3) == 404
        # the record moves to upstream 2 (TTL 1 s): cvoipd follows
        up2 = Sipp(tmp, "up2", "uas_answer.xml", 5060, port=p2, subst={"DELAY": 100}).start()
        dns.stop()
        dns.start([naptr, rec(p2, 10), host])
        wait_for(lambda: "trunk carrier resolved ttl.test: 1 targets: UDP 127.0.0.1:%d" % p2
                 in srv.log(), 20, "the re-resolution")
        a = call(tmp, "alice2", srv, "9002")
        a.expect_ok()
        up2.expect_ok()
        assert "INVITE sip:9002@ttl.test SIP/2.0" in up2.messages()
        # the dropped address is a caller like any other now
        assert trunk_invite(srv, p3) == 407
    finally:
        stop_all()
        srv.stop()
        dns.stop()


def case_dnsdown(tmp):
    dns_port, up_port = free_port(also_tcp=False), free_port(also_tcp=False)
    extra = """routing:
  trunk_timeout: 5s
trunks:
  - name: carrier
    host: late.test
    port: %d
    transport: udp
routes:
  - name: out
    prefix: "9"
    trunks: carrier
""" % up_port
    # nothing answers DNS yet: cvoipd starts anyway
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, dns_port, extra))
    dns = None
    try:
        wait_for(lambda: "trunk carrier: cannot resolve late.test" in srv.log(), 20,
                 "the failed resolution")
        assert "unusable until resolved" in srv.log()
        st = failed_call(srv, "9001")
        assert st >= 400, st
        log("call while unresolved:", st)
        up = Sipp(tmp, "up", "uas_answer.xml", 5060, port=up_port, subst={"DELAY": 100}).start()
        # port given: A/AAAA only (RFC 3263 §4.2), no SRV
        dns = Dns(tmp, dns_port, ["--host-record=late.test,127.0.0.1"])
        wait_for(lambda: "trunk carrier resolved late.test: 1 targets: UDP 127.0.0.1:%d"
                 % up_port in srv.log(), 30, "the resolution once DNS answers")
        a = call(tmp, "alice", srv, "9002")
        a.expect_ok()
        up.expect_ok()
        assert "INVITE sip:9002@late.test:%d SIP/2.0" % up_port in up.messages()
    finally:
        stop_all()
        srv.stop()
        if dns:
            dns.stop()


def certs(tmp, name):
    out = os.path.join(tmp, name)
    subprocess.run(["sh", os.path.join(SRC, "tests/tools/make-certs.sh"), out], check=True,
                   capture_output=True, timeout=60)
    return out


def tls_upstream(tmp, cdir, name):
    """SIPp (plain TCP) behind a TLS server with the test certificate."""
    sipp_port, tls_port = free_port(), free_port()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(cdir, "server.pem"), os.path.join(cdir, "server.key"))
    bridge = Server(tls_port, sipp_port, ctx)
    up = Sipp(tmp, name, "trunk_uas_answer_stream.xml", 5060, port=sipp_port,
              args=["-t", "t1"], subst={"DELAY": 100, "CPORT": tls_port, "CTP": "tls"}).start()
    return bridge, up


def case_tls(tmp, wrong_ca=False):
    cdir = certs(tmp, "certs")
    ca = os.path.join(certs(tmp, "other"), "ca.pem") if wrong_ca else os.path.join(cdir, "ca.pem")
    dns_port = free_port(also_tcp=False)
    b_ip, up_ip = tls_upstream(tmp, cdir, "up-ip")
    b_name, up_name = tls_upstream(tmp, cdir, "up-name")
    b_bad = Server(free_port(), free_port(), b_ip.server_ctx)
    bridges = [b_ip, b_name, b_bad]
    dns = Dns(tmp, dns_port, ["--host-record=sip.test,127.0.0.1",
                              "--host-record=wrong.test,127.0.0.1"])
    extra = """routing:
  trunk_timeout: 5s
trunks:
  - name: tls-ip
    host: 127.0.0.1
    port: %d
    transport: tls
  - name: tls-name
    host: sip.test
    port: %d
    transport: tls
  - name: tls-wrong
    host: wrong.test
    port: %d
    transport: tls
routes:
  - name: ip
    prefix: "91"
    trunks: tls-ip
  - name: name
    prefix: "92"
    trunks: tls-name
  - name: wrong
    prefix: "93"
    trunks: tls-wrong
""" % (b_ip.port, b_name.port, b_bad.port)
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, dns_port, extra, tls=ca))
    try:
        wait_for(lambda: "trunk tls-name resolved" in srv.log() and
                 "trunk tls-wrong resolved" in srv.log(), 20, "the resolutions")
        if wrong_ca:
            for callee, b in (("91001", b_ip), ("92001", b_name)):
                st = failed_call(srv, callee, "127.0.0.2")
                log("call %s with a foreign CA: %d" % (callee, st))
                # every trunk of the route failed (the B2BUA says 480)
                assert st >= 480 and st != 481, st
                wait_for(lambda: b.handshake_failures >= 1, 10, "the refused handshake")
                assert b.conns == 0, "relayed despite the failed handshake"
            text = srv.log()
            assert "certificate verify failed" in text, text[-2000:]
            assert "hostname mismatch" not in text, text[-2000:]
            return
        # TLS trunks are matched by IP alone: alice calls from another
        # loopback address so that she is not taken for a trunk
        a = call(tmp, "alice-ip", srv, "91001", "127.0.0.2")
        a.expect_ok()
        up_ip.expect_ok()
        a = call(tmp, "alice-name", srv, "92001", "127.0.0.2")
        a.expect_ok()
        up_name.expect_ok()
        for b, up, host in ((b_ip, up_ip, "127.0.0.1:%d" % b_ip.port),
                            (b_name, up_name, "sip.test:%d" % b_name.port)):
            msgs = up.messages()
            assert "INVITE sip:9" in msgs and "@%s;transport=tls SIP/2.0" % host in msgs, msgs[:600]
            assert "Via: SIP/2.0/TLS" in msgs and "BYE sip:" in msgs, msgs[-1500:]
            assert b.handshakes >= 1 and b.bytes_in > 500, (b.handshakes, b.bytes_in)
        # the certificate does not name wrong.test: refused (no relay)
        st = failed_call(srv, "93001", "127.0.0.2")
        log("call to wrong.test:", st)
        assert st >= 480 and st != 481, st
        wait_for(lambda: b_bad.handshake_failures >= 1, 10, "the refused handshake")
        assert b_bad.conns == 0
        # refused for the name: the IP (127.0.0.1, in the certificate)
        # would have passed, so the name was what got checked
        assert "certificate: hostname mismatch" in srv.log(), srv.log()[-2000:]
    finally:
        stop_all()
        srv.stop()
        for b in bridges:
            b.stop()
        dns.stop()


def main():
    cases = {"srv": case_srv, "ttl": case_ttl, "dnsdown": case_dnsdown,
             "tls": case_tls, "tls_ca": lambda tmp: case_tls(tmp, wrong_ca=True)}
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: test_trunk_dns.py {%s}" % "|".join(cases))
        sys.exit(2)
    run(cases[sys.argv[1]])


main()
