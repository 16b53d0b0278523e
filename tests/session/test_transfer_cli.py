#!/usr/bin/env python3
"""Transfer with three cvoip programs and no server. Blind: `cvoip call B
--transfer-to C` (transferor), `cvoip answer` as B (transferee, places the
call to C) and C (answers, hangs up). Attended: `cvoip call B --consult C`
calls C too and sends B a REFER with Replaces (RFC 3891); B's INVITE with
Replaces takes over the call at C, whose old call to A ends. Every program
must end with exit status 0 and report the transfer."""
import os
import subprocess

from sipwire import free_port, log, run
from test_cli_call import CVOIP, Answerer, events


class Named(Answerer):
    def __init__(self, tmp, name, args):
        self.out = os.path.join(tmp, name + ".out")
        self.f = open(self.out, "w")
        self.proc = subprocess.Popen([CVOIP, "answer", "--json"] + args, stdout=self.f,
                                     stderr=subprocess.STDOUT)


def answerer(tmp, name, extra=()):
    port = free_port()
    a = Named(tmp, name, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "1000",
                          "--max-calls", "1"] + list(extra))
    a.wait(lambda e: e.get("event") == "listening", 10, "listening")
    return a, "sip:%s@127.0.0.1:%d" % (name, port)


def finish_all(*progs):
    for p in progs:
        rc = p.finish(15)
        assert rc == 0, "%s exit %d:\n%s" % (p.out, rc, open(p.out).read())


def test(tmp):
    # blind
    b, b_uri = answerer(tmp, "bob")
    c, c_uri = answerer(tmp, "carol", ["--duration", "2"])
    p = subprocess.run([CVOIP, "call", "--json", b_uri, "--tone", "440", "--duration", "10",
                        "--transfer-to", c_uri], capture_output=True, text=True, timeout=30)
    ev = events(p.stdout)
    assert p.returncode == 0, p.stdout + p.stderr
    fin = [e for e in ev if e["event"] == "transfer_status" and e["final"]]
    assert fin and fin[0]["status"] == 200, ev
    ended = [e for e in ev if e["event"] == "state" and e["state"] == "ended"]
    assert ended and ended[-1]["reason"] == "Transferred", ev
    finish_all(b, c)
    assert [e for e in b.events() if e["event"] == "transferred"], b.events()
    assert [e for e in c.events() if e["event"] == "state" and e["state"] == "answered"]
    log("blind transfer: ok")

    # attended
    b, b_uri = answerer(tmp, "bob2")
    c, c_uri = answerer(tmp, "carol2", ["--duration", "3"])
    p = subprocess.run([CVOIP, "call", "--json", b_uri, "--tone", "440", "--duration", "10",
                        "--consult", c_uri], capture_output=True, text=True, timeout=30)
    ev = events(p.stdout)
    assert p.returncode == 0, p.stdout + p.stderr
    fin = [e for e in ev if e["event"] == "transfer_status" and e["final"]]
    assert fin and fin[0]["status"] == 200, ev
    consult = [e for e in ev if e.get("call") == "consult" and e["state"] == "ended"]
    assert consult, ev
    finish_all(b, c)
    assert [e for e in b.events() if e["event"] == "transferred"], b.events()
    cev = c.events()
    assert [e for e in cev if e["event"] == "transferred"], cev
    assert [e for e in cev if e.get("call") == "replaced" and e["state"] == "ended"], cev
    log("attended transfer: ok")


if __name__ == "__main__":
    run(test)
