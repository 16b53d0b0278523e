#!/usr/bin/env python3
"""`cvoip answer` (registered as bob) and `cvoip call` (as alice) through
cvoipd: audio both ways checked by frequency, RFC 4733 DTMF received, JSON
events parsed, exit codes for success, 404, wrong password and an
unreachable server; then the same call directly, without a server."""
import json
import os
import subprocess
import time

from cvtest import BIN, Cvoipd, free_port, log, run, tone_ratio, wait_for

CVOIP = os.path.join(BIN, "cvoip")


def events(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


class Answerer:
    def __init__(self, tmp, args):
        self.out = os.path.join(tmp, "answer.out")
        self.f = open(self.out, "w")
        self.proc = subprocess.Popen([CVOIP, "answer", "--json"] + args, stdout=self.f,
                                     stderr=subprocess.STDOUT)

    def events(self):
        with open(self.out) as f:
            return events(f.read())

    def wait(self, pred, timeout, what):
        wait_for(lambda: any(pred(e) for e in self.events()) or self.proc.poll() is not None,
                 timeout, what)
        if not any(pred(e) for e in self.events()):
            raise AssertionError("answer: no %s; output:\n%s" % (what, open(self.out).read()))

    def finish(self, timeout=20):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("cvoip answer did not exit")
        self.f.close()
        return rc


def call(args, timeout=40):
    p = subprocess.run([CVOIP, "call", "--json"] + args, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, events(p.stdout), p.stdout + p.stderr


def check_call(tmp, rc, ev, out, ans, alice_wav, bob_wav):
    assert rc == 0, "call exit %d:\n%s" % (rc, out)
    states = [e["state"] for e in ev if e["event"] == "state"]
    assert "answered" in states and states[-1] == "ended", states
    q = [e for e in ev if e["event"] == "quality"][0]
    log("caller quality:", q)
    assert q["rx_packets"] > 80 and q["tx_packets"] > 80, q
    assert q["mos"] > 4.0, q
    arc = ans.finish()
    aev = ans.events()
    assert arc == 0, "answer exit %d:\n%s" % (arc, open(ans.out).read())
    digits = "".join(e["digit"] for e in aev if e["event"] == "dtmf")
    assert digits == "159", "DTMF received: %r" % digits
    for path, freq, other in ((bob_wav, 440, 1000), (alice_wav, 1000, 440)):
        ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
        log("%s: %d Hz ratio %.0f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
        assert rms > 1000 and ratio > 100, path


def test(tmp):
    srv = Cvoipd(tmp).start()
    proxy = "sip:127.0.0.1:%d" % srv.port
    try:
        # through the server, registered
        bob_wav, alice_wav = os.path.join(tmp, "bob.wav"), os.path.join(tmp, "alice.wav")
        ans = Answerer(tmp, ["--register", "sip:bob@127.0.0.1", "--registrar", proxy,
                             "--auth", "bob:bob-secret", "--tone", "1000",
                             "--record", bob_wav, "--max-calls", "1"])
        ans.wait(lambda e: e.get("event") == "registration" and e["registered"], 10,
                 "registration")
        rc, ev, out = call(["sip:bob@127.0.0.1", "--from", "sip:alice@127.0.0.1",
                            "--proxy", proxy, "--auth", "alice:alice-secret",
                            "--tone", "440", "--record", alice_wav, "--duration", "3",
                            "--dtmf", "159"])
        check_call(tmp, rc, ev, out, ans, alice_wav, bob_wav)
        log("call through cvoipd: ok")

        # failures and their exit codes
        rc, ev, out = call(["sip:nobody@127.0.0.1", "--proxy", proxy,
                            "--from", "sip:alice@127.0.0.1", "--auth", "alice:alice-secret"])
        assert rc == 1 and [e for e in ev if e.get("status") == 404], out
        rc, ev, out = call(["sip:bob@127.0.0.1", "--proxy", proxy,
                            "--from", "sip:alice@127.0.0.1", "--auth", "alice:wrong"])
        assert rc == 5, out
        dead = free_port()
        rc, ev, out = call(["sip:bob@127.0.0.1", "--proxy", "sip:127.0.0.1:%d" % dead,
                            "--transport", "tcp"])
        assert rc == 4, out
        log("exit codes: ok")
    finally:
        srv.stop()
    # the event bus, as the demo's event log wrote it
    with open(os.path.join(tmp, "var", "events.jsonl")) as f:
        bus = [json.loads(line) for line in f]
    types = [e["type"] for e in bus]
    log("bus events:", sorted(set(types)))
    for t in ("system.started", "registration.added", "call.started", "call.answered",
              "call.ended", "cdr.written", "system.stopping"):
        assert t in types, (t, types)
    ended = [e for e in bus if e["type"] == "call.ended" and e["data"]["to"] == "bob"][0]
    assert ended["data"]["hangup_by"] in ("caller", 1), ended

    # directly, no server
    port = free_port()
    bob_wav, alice_wav = os.path.join(tmp, "bob2.wav"), os.path.join(tmp, "alice2.wav")
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "1000",
                         "--record", bob_wav])
    ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
    rc, ev, out = call(["sip:bob@127.0.0.1:%d" % port, "--tone", "440", "--record",
                        alice_wav, "--duration", "3", "--dtmf", "159"])
    check_call(tmp, rc, ev, out, ans, alice_wav, bob_wav)
    log("direct call: ok")


if __name__ == "__main__":
    run(test)
