#!/usr/bin/env python3
"""Subscriptions (RFC 6665). `cvoip subscribe` against a scripted notifier:
a NOTIFY before the 2xx creates the dialog (§4.1.2.4), the MWI body is
decoded (RFC 3842), the subscription is refreshed in the dialog before it
expires, and unsubscribing ends with the notifier's terminated NOTIFY.
`cvoip answer` as notifier: a scripted subscriber gets 400 without Event,
a presence subscription (PIDF open) that lapses with NOTIFY
terminated;reason=timeout; `cvoip subscribe --event dialog` follows the
states of a call (RFC 4235), message-summary is refused 489."""
import re
import subprocess
import time

from sipwire import Peer, free_port, log, run
from test_cli_call import CVOIP, Answerer, events

MWI = "Messages-Waiting: yes\r\nMessage-Account: sip:bob@127.0.0.1\r\nVoice-Message: 2/8 (0/1)\r\n"


def subscriber_side(tmp):
    n = Peer("mwi")
    out = open(tmp + "/sub.out", "w")
    proc = subprocess.Popen([CVOIP, "subscribe", "--json", n.uri(), "--event",
                             "message-summary", "--expires", "4", "--duration", "3"],
                            stdout=out, stderr=subprocess.STDOUT)
    try:
        sub = n.expect(5, lambda m: m.method == "SUBSCRIBE", "SUBSCRIBE")
        assert sub.h("event") == "message-summary" and sub.h("expires") == "4", sub
        assert sub.h("accept") == "application/simple-message-summary", sub
        via = re.search(r"127.0.0.1:(\d+)", sub.h("via")).group(1)
        dst = ("127.0.0.1", int(via))
        # NOTIFY first, then the 200
        n.in_dialog(dst, "NOTIFY", sub, 1, ours_is_from=False, local_tag="ntag", body=MWI,
                    ctype="application/simple-message-summary",
                    extra="Event: message-summary\r\nSubscription-State: active;expires=4\r\n")
        r = n.expect(3, lambda m: m.status and m.cseq_method == "NOTIFY", "200 to NOTIFY")
        assert r.status == 200, r
        n.respond(sub, 200, "OK", to_tag="ntag", extra="Expires: 4\r\n")
        # a NOTIFY in no subscription
        n.request(dst, "NOTIFY", "sip:x@127.0.0.1:%s" % via, "nosuch", "zz", 1,
                  "sip:x@127.0.0.1", to_tag="nope", extra="Event: message-summary\r\n"
                  "Subscription-State: active\r\n")
        r = n.expect(3, lambda m: m.status and m.h("call-id") == "nosuch", "481")
        assert r.status == 481, r
        ref = n.expect(4, lambda m: m.method == "SUBSCRIBE", "refresh")
        assert ref.tag("to") == "ntag" and ref.h("expires") == "4", ref
        n.respond(ref, 200, "OK", extra="Expires: 4\r\n")
        uns = n.expect(4, lambda m: m.method == "SUBSCRIBE", "unsubscribe")
        assert uns.h("expires") == "0" and uns.tag("to") == "ntag", uns
        n.respond(uns, 200, "OK", extra="Expires: 0\r\n")
        n.in_dialog(dst, "NOTIFY", sub, 2, ours_is_from=False, local_tag="ntag",
                    extra="Event: message-summary\r\nSubscription-State: terminated;reason=timeout\r\n")
        n.expect(3, lambda m: m.status and m.cseq_method == "NOTIFY", "200 to last NOTIFY")
        rc = proc.wait(timeout=10)
        text = open(tmp + "/sub.out").read()
        assert rc == 0, text
        ev = events(text)
        mwi = [e["mwi"] for e in ev if e["event"] == "notify" and "mwi" in e]
        assert mwi and mwi[0]["waiting"] and mwi[0]["new"] == 2 and mwi[0]["old"] == 8, ev
        log("subscriber: NOTIFY before 2xx, MWI, refresh, unsubscribe: ok")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def notifier_side(tmp):
    port = free_port()
    bob = "sip:bob@127.0.0.1:%d" % port
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "440",
                         "--duration", "1", "--max-calls", "1"])
    ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
    dst = ("127.0.0.1", port)
    s = Peer("watcher")
    s.request(dst, "SUBSCRIBE", bob, "sub-noev", "w0", 1, bob)
    r = s.expect(3, lambda m: m.status and m.h("call-id") == "sub-noev", "400")
    assert r.status == 400, r
    s.request(dst, "SUBSCRIBE", bob, "sub-pres", "w1", 1, bob,
              extra="Event: presence\r\nExpires: 2\r\nAccept: application/pidf+xml\r\n")
    r = s.expect(3, lambda m: m.status and m.h("call-id") == "sub-pres", "200")
    assert r.status == 200 and r.h("expires") == "2", r
    t0 = time.time()
    n1 = s.expect(3, lambda m: m.method == "NOTIFY", "first NOTIFY")
    s.respond(n1, 200, "OK")
    assert n1.h("subscription-state").startswith("active"), n1
    assert "<basic>open</basic>" in n1.body, n1
    n2 = s.expect(4, lambda m: m.method == "NOTIFY", "NOTIFY at expiry")
    s.respond(n2, 200, "OK")
    assert 1.5 < time.time() - t0 < 3.0
    assert n2.h("subscription-state") == "terminated;reason=timeout", n2
    log("notifier: 400 without Event, PIDF, expiry: ok")

    # message-summary is not ours: 489
    p = subprocess.run([CVOIP, "subscribe", "--json", bob, "--event", "message-summary"],
                       capture_output=True, text=True, timeout=15)
    assert p.returncode == 1 and "489" in p.stdout, p.stdout + p.stderr
    # dialog: follow a call
    out = open(tmp + "/dlg.out", "w")
    watch = subprocess.Popen([CVOIP, "subscribe", "--json", bob, "--event", "dialog",
                              "--duration", "4"], stdout=out, stderr=subprocess.STDOUT)
    try:
        time.sleep(1)
        c = subprocess.run([CVOIP, "call", "--json", bob, "--tone", "1000", "--duration", "1"],
                           capture_output=True, text=True, timeout=20)
        assert c.returncode == 0, c.stdout + c.stderr
        rc = watch.wait(timeout=15)
        text = open(tmp + "/dlg.out").read()
        assert rc == 0, text
        states = [d["state"] for e in events(text) if e["event"] == "notify"
                  for d in e.get("dialogs", [])]
        assert "confirmed" in states and "terminated" in states, text
        log("dialog package follows the call: %s: ok" % states)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert ans.finish(10) == 0, open(ans.out).read()


def test(tmp):
    subscriber_side(tmp)
    notifier_side(tmp)


if __name__ == "__main__":
    run(test)
