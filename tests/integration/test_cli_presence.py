#!/usr/bin/env python3
"""Presence through the client library's subscriptions (cv_client_subscribe,
RFC 6665 / RFC 3856): `cvoip subscribe --event presence --transport tcp`
to a `cvoip answer` that listens on TCP only: a `presence` event with
the entity and "open"; when the answerer stops, its terminating NOTIFY
ends the subscription and `cvoip subscribe` exits 0 before --duration;
a refused subscription (489 for an unknown package) exits 1."""
import os
import signal
import socket
import subprocess
import time

from cvtest import free_port, log, run, wait_for
from test_cli_call import CVOIP, Answerer, events


def test(tmp):
    port = free_port(socket.SOCK_STREAM, False)
    ans = Answerer(tmp, ["--listen", "tcp:127.0.0.1:%d" % port])
    sub = None
    try:
        ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
        out = os.path.join(tmp, "subscribe.out")
        with open(out, "w") as f:
            sub = subprocess.Popen([CVOIP, "subscribe", "--json", "sip:bob@127.0.0.1:%d" % port,
                                    "--event", "presence", "--transport", "tcp",
                                    "--duration", "30"], stdout=f, stderr=subprocess.STDOUT)

        def sub_events():
            with open(out) as f:
                return events(f.read())
        wait_for(lambda: any(e["event"] == "presence" for e in sub_events()) or
                 sub.poll() is not None, 15, "presence event")
        pres = [e for e in sub_events() if e["event"] == "presence"]
        assert pres and pres[0]["status"] == "open", sub_events()
        assert pres[0]["entity"].startswith("sip:bob@127.0.0.1"), pres
        ans.wait(lambda e: e.get("event") == "subscribed" and e["package"] == "presence", 10,
                 "subscribed event")
        started = time.time()
        ans.proc.send_signal(signal.SIGINT)
        assert ans.finish(20) == 0, open(ans.out).read()
        rc = sub.wait(timeout=20)
        ev = sub_events()
        assert rc == 0, ev
        assert time.time() - started < 15, "the subscription did not end with the notifier"
        notifies = [e["state"] for e in ev if e["event"] == "notify"]
        assert notifies[0] == "active" and notifies[-1] == "terminated", ev
        assert ev[-1]["event"] == "ended", ev
        log("presence over TCP, ended by the notifier: ok")
    finally:
        for p in (sub, ans.proc):
            if p and p.poll() is None:
                p.kill()
                p.wait()

    # an unknown package is refused (489): exit 1
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % free_port()])
    try:
        ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
        addr = [e for e in ans.events() if e["event"] == "listening"][0]["address"]
        p = subprocess.run([CVOIP, "subscribe", "--json", "sip:bob@" + addr, "--event",
                            "no-such-package", "--duration", "5"],
                           capture_output=True, text=True, timeout=30)
        ev = events(p.stdout)
        assert p.returncode == 1 and [e for e in ev if e.get("status") == 489], p.stdout
    finally:
        ans.proc.send_signal(signal.SIGINT)
        ans.finish(20)
    log("refused subscription: ok")


if __name__ == "__main__":
    run(test)
