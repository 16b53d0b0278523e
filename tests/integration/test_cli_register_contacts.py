#!/usr/bin/env python3
"""Several contacts in one registration (RFC 3261 §10.2.1, issue 7 Must 4):
`cvoip register --contact URI` binds further contacts with ours, the 200
lists every binding of the AOR (counted in the JSON event), un-registering
on Ctrl-C removes ours and the further ones, and a malformed --contact is a
usage error."""
import json
import os
import signal
import subprocess
import time

from cvtest import BIN, Cvoipd, free_port, log, run

CVOIP = os.path.join(BIN, "cvoip")


def events(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def register(srv, listen, extra=(), once=True):
    args = [CVOIP, "register", "sip:alice@127.0.0.1", "--registrar",
            "sip:127.0.0.1:%d" % srv.port, "--auth", "alice:alice-secret", "--json",
            "--listen", "udp:127.0.0.1:%d" % listen]
    for c in extra:
        args += ["--contact", c]
    if once:
        args.append("--once")
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        return p.returncode, events(p.stdout), p.stdout + p.stderr
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def bindings(ev):
    regs = [e for e in ev if e.get("event") == "registration" and e.get("registered")]
    assert regs, ev
    return regs[-1]["bindings"]


def test(tmp):
    srv = Cvoipd(tmp)
    srv.start()
    try:
        mine = free_port()
        extra = ["sip:alice@127.0.0.1:%d" % free_port(), "sip:desk@127.0.0.1:%d;transport=tcp" % free_port()]
        rc, ev, out = register(srv, mine, extra)
        assert rc == 0 and bindings(ev) == 3, out
        log("one REGISTER with two further contacts: 3 bindings: ok")

        # the same contacts again, kept until Ctrl-C, then un-registered
        p = register(srv, mine, extra, once=False)
        lines = []
        deadline = time.time() + 20
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if '"registered":true' in line:
                break
        assert bindings(events("".join(lines))) == 3, lines
        p.send_signal(signal.SIGINT)
        rest, _ = p.communicate(timeout=20)
        assert p.returncode == 0, "".join(lines) + rest
        log("refreshing registration un-registered on Ctrl-C: ok")

        # another device: only its own binding is left
        rc, ev, out = register(srv, free_port())
        assert rc == 0 and bindings(ev) == 1, out
        log("the un-REGISTER removed ours and the further contacts: ok")

        rc, ev, out = register(srv, free_port(), ["not a uri"])
        assert rc == 2, out
        log("malformed --contact: usage error: ok")
    finally:
        srv.stop()


if __name__ == "__main__":
    run(test)
