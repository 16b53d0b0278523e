#!/usr/bin/env python3
"""Blind transfer through Kamailio as a record-routing proxy and registrar
(digest): alice (`cvoip call`) calls bob, both REFER and the sipfrag
NOTIFYs cross Kamailio in the dialog's route set, bob (`cvoip answer`,
registered) calls carol (registered) through Kamailio as bob with bob's
credentials, and everyone ends with exit status 0."""
import os
import signal
import subprocess
import time

from sipwire import free_port, log, run
from cvtest import SRC
from test_cli_call import CVOIP, events
from test_transfer_cli import Named, finish_all

KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def registered(tmp, name, proxy, extra=()):
    a = Named(tmp, name, ["--register", "sip:%s@127.0.0.1" % name, "--registrar", proxy,
                          "--auth", "%s:%s-secret" % (name, name), "--tone", "1000",
                          "--max-calls", "1"] + list(extra))
    a.wait(lambda e: e.get("event") == "registration" and e["registered"], 10,
           "registration of " + name)
    return a


def test(tmp):
    port = free_port()
    kdir = os.path.join(tmp, "kam")
    os.makedirs(kdir)
    logf = open(os.path.join(kdir, "log"), "w")
    kam = subprocess.Popen(["kamailio", "-f", os.path.join(SRC, "bench/server/kamailio.cfg"),
                            "-L", KAMAILIO_MODULES, "-DD", "-E", "-l",
                            "udp:127.0.0.1:%d" % port, "-m", "64", "-M", "8",
                            "-Y", kdir], stdout=logf, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.5)
        assert kam.poll() is None, open(os.path.join(kdir, "log")).read()
        proxy = "sip:127.0.0.1:%d" % port
        bob = registered(tmp, "bob", proxy)
        carol = registered(tmp, "carol", proxy, ["--duration", "2"])
        p = subprocess.run([CVOIP, "call", "--json", "sip:bob@127.0.0.1", "--proxy", proxy,
                            "--from", "sip:alice@127.0.0.1", "--auth", "alice:alice-secret",
                            "--tone", "440", "--duration", "10",
                            "--transfer-to", "sip:carol@127.0.0.1"],
                           capture_output=True, text=True, timeout=30)
        ev = events(p.stdout)
        assert p.returncode == 0, p.stdout + p.stderr
        fin = [e for e in ev if e["event"] == "transfer_status" and e["final"]]
        assert fin and fin[0]["status"] == 200, ev
        finish_all(carol, bob)
        assert [e for e in bob.events() if e["event"] == "transferred"], bob.events()
        inc = [e for e in carol.events() if e["event"] == "incoming"]
        assert inc and inc[0]["from"] == "sip:bob@127.0.0.1", carol.events()
        log("blind transfer through Kamailio: ok")
    finally:
        kam.send_signal(signal.SIGTERM)
        try:
            kam.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kam.kill()
            kam.wait()
        logf.close()


if __name__ == "__main__":
    run(test)
