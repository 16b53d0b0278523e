#!/usr/bin/env python3
"""Session features against baresip (a real UA without UPDATE or 100rel
support): cvoip holds by UPDATE and falls back to re-INVITE when baresip
refuses it; cvoip transfers baresip (REFER) to a `cvoip answer`; baresip
transfers a `cvoip answer` (REFER) to another `cvoip answer`."""
import os
import subprocess

from sipwire import free_port, log, run
from cvtest import Baresip, make_tone
from test_cli_call import CVOIP, events
from test_transfer_cli import answerer, finish_all


def baresip(tmp, user, answer):
    make_tone(os.path.join(tmp, "%s.wav" % user), 1000)
    b = Baresip(tmp, user, "x", free_port(), os.path.join(tmp, "%s.wav" % user), answer=answer)
    with open(os.path.join(b.dir, "accounts"), "w") as f:
        f.write("<sip:%s@127.0.0.1>;regint=0%s\n" % (user, ";answermode=auto" if answer else ""))
    return b.start()


def test(tmp):
    # hold by UPDATE, refused, then by re-INVITE
    bob = baresip(tmp, "bob", True)
    try:
        p = subprocess.run([CVOIP, "call", "--json", "sip:bob@127.0.0.1:%d" % bob.sip_port,
                            "--tone", "440", "--duration", "4", "--hold-at", "1",
                            "--resume-at", "2.5", "--update"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        dirs = [e["dir"] for e in events(p.stdout) if e["event"] == "media"]
        assert dirs == ["sendrecv", "sendonly", "sendrecv"], p.stdout
        log("hold/resume with baresip (UPDATE refused, re-INVITE): ok")

        # cvoip transfers baresip to carol
        carol, carol_uri = answerer(tmp, "carol", ["--duration", "2"])
        p = subprocess.run([CVOIP, "call", "--json", "sip:bob@127.0.0.1:%d" % bob.sip_port,
                            "--tone", "440", "--duration", "10", "--transfer-to", carol_uri],
                           capture_output=True, text=True, timeout=30)
        ev = events(p.stdout)
        assert p.returncode == 0, p.stdout + p.stderr
        fin = [e for e in ev if e["event"] == "transfer_status" and e["final"]]
        assert fin and fin[0]["status"] == 200, ev
        finish_all(carol)
        assert [e for e in carol.events() if e["event"] == "state" and e["state"] == "answered"]
        log("cvoip transfers baresip: ok")
    finally:
        bob.stop()

    # baresip transfers cvoip (dave) to erin
    dave, dave_uri = answerer(tmp, "dave", ["--duration", "15"])
    erin, erin_uri = answerer(tmp, "erin", ["--duration", "2"])
    alice = baresip(tmp, "alice", False)
    try:
        alice.command("dial", dave_uri)
        alice.wait_event("CALL_ESTABLISHED", 10)
        alice.command("transfer", erin_uri)
        finish_all(erin, dave)
        assert [e for e in dave.events() if e["event"] == "transferred"], dave.events()
        assert [e for e in erin.events() if e["event"] == "state" and e["state"] == "answered"]
        log("baresip transfers cvoip: ok")
    finally:
        alice.stop()


if __name__ == "__main__":
    run(test)
