#!/usr/bin/env python3
"""baresip alice calls baresip bob through cvoipd with the media relay
(the default) or without it: audio is heard both ways either way; with
the relay the RTP demonstrably went through cvoipd (relay counters, CDR
leg statistics), without it cvoipd forwarded nothing.

usage: test_baresip_relay.py relay|direct"""
import os
import re
import sys
import time

from sipkit import SRC, TestDb, log, run, start_cvoipd, wait_for
from cvtest import Baresip, make_tone, tone_ratio


def config(tmp, relay):
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        text = f.read()
    text = text.replace("  relay: true", "  relay: %s" % ("true" if relay else "false"))
    path = os.path.join(tmp, "cvoipd.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("relay", "direct"):
        print("usage: test_baresip_relay.py relay|direct")
        sys.exit(2)
    relay = sys.argv[1] == "relay"

    def test(tmp):
        make_tone(os.path.join(tmp, "alice.wav"), 440)
        make_tone(os.path.join(tmp, "bob.wav"), 1000)
        srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, relay))
        bob = alice = None
        try:
            bob = Baresip(tmp, "bob", "bob-secret", srv.port, os.path.join(tmp, "bob.wav"), answer=True).start()
            alice = Baresip(tmp, "alice", "alice-secret", srv.port, os.path.join(tmp, "alice.wav")).start()
            bob.wait_registered(10)
            alice.wait_registered(10)
            alice.command("dial", "sip:bob@127.0.0.1")
            alice.wait_event("CALL_ESTABLISHED", 10)
            bob.wait_event("CALL_ESTABLISHED", 10)
            time.sleep(4)
            alice.command("hangup")
            bob.wait_event("CALL_CLOSED", 10)
            alice.wait_event("CALL_CLOSED", 10)
            wait_for(lambda: "call end" in srv.log(), 5, "call end log line")
        finally:
            for ua in (alice, bob):
                if ua:
                    ua.stop()
            srv.stop()
        for ua, freq in ((bob, 440), (alice, 1000)):
            path = ua.recorded("dec")
            assert path, "no recording for " + ua.dir
            ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, 440 if freq != 440 else 1000))
            log("%s heard %d Hz: ratio %.1f rms %.0f" % (os.path.basename(ua.dir), freq, ratio, rms))
            assert rms > 1000 and ratio > 100, "audio not heard at " + ua.dir
        legs = srv.dbh.rows("select idx, codec, pkts_sent, pkts_recv, pkts_lost, jitter_ms, mos "
                            "from cdr_legs order by idx")
        log("cdr legs (leg, codec, sent, recv, lost, jitter, mos):", legs)
        fwd = int(re.search(r"packets_forwarded=(\d+)", srv.log()).group(1))
        log("relay forwarded %d packets" % fwd)
        assert len(legs) == 2, legs
        if relay:
            # 4 s of 20 ms packets each way, through the relay
            assert fwd > 300, fwd
            for leg, codec, sent, recv, lost, jitter, mos in legs:
                assert codec == "PCMU/8000", legs
                assert sent > 150 and recv > 150 and lost == 0, legs
                assert mos > 4.0, legs
        else:
            assert fwd == 0, fwd
            assert all(r[2] == 0 and r[3] == 0 for r in legs), legs

    run(test)


main()
