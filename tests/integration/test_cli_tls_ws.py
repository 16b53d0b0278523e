#!/usr/bin/env python3
"""cvoip over TLS, WS and WSS (RFC 7118: the client connects, the server
keeps the flow):
1. for each of tls, ws, wss: `cvoip answer` registers bob to cvoipd over
   that transport, `cvoip call` calls him through cvoipd over it; the
   INVITE reaches bob on his registration's connection; tones heard both
   ways (over WSS with SRTP media, relayed by cvoipd);
2. `cvoip answer --listen tls:…/wss:… --tls-cert --tls-key` called
   directly; certificate checks of `cvoip options` over TLS: an untrusted CA and a
   wrong --tls-name fail (exit 4), --tls-name sip.test and --tls-no-verify
   (WSS) pass;
3. a third-party WebSocket server (python3-websockets, which fails
   unmasked client frames): OPTIONS and MESSAGE answered over one
   negotiated "sip" connection each, closed by cvoip with code 1000; a
   `cvoip register --keepalive 1` over WS pings its connection and
   un-registers on it at Ctrl-C;
4. the same keep-alive over TCP (RFC 5626 §4.4.1 CRLFCRLF, answered with
   CRLF) against a scripted registrar: one connection for everything."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from cvtest import SRC, Cvoipd, free_port, log, run, tone_ratio, wait_for
from test_cli_call import CVOIP, Answerer, call, events


def certs(tmp):
    out = os.path.join(tmp, "certs")
    subprocess.run(["sh", os.path.join(SRC, "tests/tools/make-certs.sh"), out], check=True,
                   capture_output=True, timeout=60)
    return out


def server(tmp, cdir):
    cfg = os.path.join(tmp, "cvoipd.yaml")
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text + "\ntls:\n  cert: %s\n  key: %s\n  ca: %s\n"
                % (os.path.join(cdir, "server.pem"), os.path.join(cdir, "server.key"),
                   os.path.join(cdir, "ca.pem")))
    ports = {k: free_port(socket.SOCK_STREAM, False) for k in ("tls", "ws", "wss")}
    extra = []
    for k, p in ports.items():
        extra += ["--listen", "%s:127.0.0.1:%d" % (k, p)]
    return Cvoipd(tmp, extra_args=extra, config=cfg), ports


def check_tone(path, freq, other):
    ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
    log("%s: %d Hz ratio %.0f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
    assert rms > 1000 and ratio > 100, path


def calls(tmp, srv, ports, ca):
    for tp in ("tls", "ws", "wss"):
        d = os.path.join(tmp, tp)
        os.makedirs(d)
        proxy = "sip:127.0.0.1:%d" % ports[tp]
        bob_wav, alice_wav = os.path.join(d, "bob.wav"), os.path.join(d, "alice.wav")
        ans = Answerer(d, ["--register", "sip:bob@127.0.0.1", "--registrar", proxy,
                           "--transport", tp, "--tls-ca", ca, "--auth", "bob:bob-secret",
                           "--tone", "1000", "--record", bob_wav])
        try:
            ans.wait(lambda e: e.get("event") == "registration" and e["registered"], 20,
                     "registration over " + tp)
            # over WSS the media is SRTP too, end to end through the relay
            srtp = ["--srtp"] if tp == "wss" else []
            rc, ev, out = call(["sip:bob@127.0.0.1", "--proxy", proxy, "--transport", tp,
                                "--tls-ca", ca, "--from", "sip:alice@127.0.0.1",
                                "--auth", "alice:alice-secret", "--tone", "440",
                                "--record", alice_wav, "--duration", "3"] + srtp)
            assert rc == 0, out
            q = [e for e in ev if e["event"] == "quality"][0]
            assert q["rx_packets"] > 80 and q["tx_packets"] > 80, q
            assert q["srtp"] == ("AES_CM_128_HMAC_SHA1_80" if srtp else ""), q
            assert ans.finish(30) == 0, open(ans.out).read()
        finally:
            if ans.proc.poll() is None:
                ans.proc.kill()
                ans.finish()
        # bob was reached on the flow of his registration
        answered = re.findall(r"call answered .* by=(\S+)", srv.log())
        assert answered and answered[-1].endswith(";transport=" + tp), answered
        check_tone(bob_wav, 440, 1000)
        check_tone(alice_wav, 1000, 440)
        log("call through cvoipd over %s: ok" % tp)


def direct_calls(tmp, cdir):
    """`cvoip answer --listen tls:/wss:` with a certificate, called directly."""
    ca = os.path.join(cdir, "ca.pem")
    for tp in ("tls", "wss"):
        d = os.path.join(tmp, "direct-" + tp)
        os.makedirs(d)
        port = free_port(socket.SOCK_STREAM, False)
        ans = Answerer(d, ["--listen", "%s:127.0.0.1:%d" % (tp, port),
                           "--tls-cert", os.path.join(cdir, "server.pem"),
                           "--tls-key", os.path.join(cdir, "server.key"), "--tone", "1000"])
        try:
            ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
            rc, ev, out = call(["sip:bob@127.0.0.1:%d;transport=%s" % (port, tp),
                                "--tls-ca", ca, "--tone", "440", "--duration", "2"])
            assert rc == 0, out
            q = [e for e in ev if e["event"] == "quality"][0]
            assert q["rx_packets"] > 50, q
            assert ans.finish(20) == 0, open(ans.out).read()
        finally:
            if ans.proc.poll() is None:
                ans.proc.kill()
                ans.finish()
        log("direct call to a %s listener: ok" % tp)


def options(args, timeout=30):
    p = subprocess.run([CVOIP, "options", "--json"] + args, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, events(p.stdout), p.stdout + p.stderr


def cert_checks(ports, ca):
    tls = "sip:127.0.0.1:%d;transport=tls" % ports["tls"]
    rc, ev, out = options([tls])  # the system CAs do not know the test CA
    assert rc == 4, out
    rc, ev, out = options([tls, "--tls-ca", ca, "--tls-name", "wrong.test"])
    assert rc == 4, out
    rc, ev, out = options([tls, "--tls-ca", ca + ".missing"])  # a usage error
    assert rc == 2 and "cannot start" in out, out
    rc, ev, out = options([tls, "--tls-ca", ca, "--tls-name", "sip.test"])
    assert rc == 0 and ev[-1]["status"] == 200, out
    rc, ev, out = options(["sip:127.0.0.1:%d" % ports["wss"], "--transport", "wss",
                           "--tls-no-verify"])
    assert rc == 0 and ev[-1]["status"] == 200, out
    log("certificate checks: ok")


def third_party_ws(tmp):
    py = "/usr/bin/python3"
    if subprocess.run([py, "-c", "import websockets"], capture_output=True).returncode:
        log("python3-websockets missing: third-party WebSocket server not run")
        return
    port = free_port(socket.SOCK_STREAM, False)
    report = os.path.join(tmp, "ws-report.jsonl")
    srv = subprocess.Popen([py, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "ws_sip_server.py"), str(port), report, "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert srv.stdout.readline().strip() == "ready"
        uri = "sip:127.0.0.1:%d;transport=ws" % port
        rc, ev, out = options([uri])
        assert rc == 0 and ev[-1]["status"] == 200, out
        p = subprocess.run([CVOIP, "message", "--json", "sip:bob@127.0.0.1:%d" % port, "hello",
                            "--transport", "ws"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr

        def lines():
            if not os.path.exists(report):
                return []
            with open(report) as f:
                return [json.loads(x) for x in f if x.strip()]
        wait_for(lambda: len(lines()) >= 2, 10, "both WebSocket connections reported")
        # a registration keeps its connection alive with pings
        reg = subprocess.Popen([CVOIP, "register", "--json", "sip:bob@127.0.0.1",
                                "--registrar", "sip:127.0.0.1:%d" % port, "--transport", "ws",
                                "--auth", "bob:x", "--keepalive", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        keepalive_run(reg)
        wait_for(lambda: len(lines()) >= 3, 10, "the registration's connection reported")
    finally:
        srv.kill()
        srv.wait()
    conns = lines()
    log("websocket server saw:", conns)
    assert [c["methods"] for c in conns] == [["OPTIONS"], ["MESSAGE"],
                                             ["REGISTER", "REGISTER"]], conns
    for c in conns:
        assert c["subprotocol"] == "sip" and c["close_code"] == 1000, c
    assert conns[2]["pings"] >= 2, conns[2]
    log("third-party WebSocket server: ok")


def keepalive_run(reg):
    """A `cvoip register --keepalive 1`: registered, 3.5 s of keep-alives,
    then Ctrl-C un-registers on the same connection."""
    try:
        line = reg.stdout.readline()
        assert '"registered":true' in line, line
        time.sleep(3.5)
        reg.send_signal(signal.SIGINT)
        out, _ = reg.communicate(timeout=20)
        assert reg.returncode == 0, line + out
        assert '"registered":false' in out, out
    finally:
        if reg.poll() is None:
            reg.kill()
            reg.communicate()


def tcp_keepalive(tmp):
    """RFC 5626 §4.4.1 on TCP: a scripted registrar counts the CRLFCRLF
    pings between SIP messages and answers each with CRLF."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(20)
    port = lsock.getsockname()[1]
    seen = {"pings": 0, "methods": [], "conns": 0, "stray": 0}

    def serve():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            seen["conns"] += 1
            c.settimeout(20)
            buf = b""
            while True:
                try:
                    data = c.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                buf += data
                while True:
                    if buf.startswith(b"\r\n\r\n"):
                        seen["pings"] += 1
                        buf = buf[4:]
                        c.sendall(b"\r\n")
                        continue
                    if buf.startswith(b"\r\n") and len(buf) > 2 and buf[2:3] != b"\r":
                        buf = buf[2:]  # a lone CRLF before a message (RFC 3261 §7.5)
                        seen["stray"] += 1
                        continue
                    end = buf.find(b"\r\n\r\n")
                    if not buf or buf.startswith(b"\r\n") or end < 0:
                        break
                    head = buf[:end].decode()
                    m = re.search(r"(?im)^content-length:\s*(\d+)", head)
                    n = int(m.group(1)) if m else 0
                    if len(buf) < end + 4 + n:
                        break
                    buf = buf[end + 4 + n:]
                    seen["methods"].append(head.split(" ", 1)[0])
                    hdrs = [h for h in head.split("\r\n")[1:]
                            if h.split(":", 1)[0].lower() in ("via", "from", "call-id", "cseq",
                                                             "contact", "expires")]
                    to = [h + ";tag=tcpreg" for h in head.split("\r\n")[1:]
                          if h.split(":", 1)[0].lower() == "to"]
                    c.sendall(("SIP/2.0 200 OK\r\n" + "\r\n".join(hdrs + to)
                               + "\r\nContent-Length: 0\r\n\r\n").encode())
            c.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        reg = subprocess.Popen([CVOIP, "register", "--json", "sip:bob@127.0.0.1",
                                "--registrar", "sip:127.0.0.1:%d" % port, "--transport", "tcp",
                                "--auth", "bob:x", "--keepalive", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        keepalive_run(reg)
        wait_for(lambda: len(seen["methods"]) >= 2, 10, "the un-REGISTER")
    finally:
        lsock.close()
    log("tcp registrar saw:", seen)
    assert seen["conns"] == 1 and seen["methods"] == ["REGISTER", "REGISTER"], seen
    assert seen["pings"] >= 2, seen
    assert seen["stray"] == 0, "the client answered the server's pongs: %r" % seen
    log("tcp keep-alive: ok")


def test(tmp):
    cdir = certs(tmp)
    ca = os.path.join(cdir, "ca.pem")
    srv, ports = server(tmp, cdir)
    srv.start()
    try:
        calls(tmp, srv, ports, ca)
        cert_checks(ports, ca)
    finally:
        srv.stop()
    direct_calls(tmp, cdir)
    third_party_ws(tmp)
    tcp_keepalive(tmp)


if __name__ == "__main__":
    run(test)
