#!/usr/bin/env python3
"""baresip alice calls baresip bob through cvoipd: both register with
digest auth, the call is routed by the B2BUA, each side hears the other's
tone, alice hangs up, a CDR is written, cvoipd stops cleanly."""
import os
import sqlite3
import time

from cvtest import Baresip, Cvoipd, log, make_tone, run, tone_ratio, wait_for


def test(tmp):
    make_tone(os.path.join(tmp, "alice.wav"), 440)
    make_tone(os.path.join(tmp, "bob.wav"), 1000)
    srv = Cvoipd(tmp).start()
    bob = alice = None
    try:
        bob = Baresip(tmp, "bob", "bob-secret", srv.port, os.path.join(tmp, "bob.wav"), answer=True).start()
        alice = Baresip(tmp, "alice", "alice-secret", srv.port, os.path.join(tmp, "alice.wav")).start()
        bob.wait_registered(10)
        alice.wait_registered(10)
        log("both registered")
        alice.command("dial", "sip:bob@127.0.0.1")
        alice.wait_event("CALL_ESTABLISHED", 10)
        bob.wait_event("CALL_ESTABLISHED", 10)
        log("call established")
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
    # audio: bob hears alice's 440 Hz, alice hears bob's 1000 Hz
    for ua, freq in ((bob, 440), (alice, 1000)):
        path = ua.recorded("dec")
        assert path, "no recording for " + ua.dir
        ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, 440 if freq != 440 else 1000))
        log("%s heard %d Hz: ratio %.1f rms %.0f" % (os.path.basename(ua.dir), freq, ratio, rms))
        assert rms > 1000, "silence at " + ua.dir
        assert ratio > 100, "the far end's tone is not what was heard"
    # CDR: one record, answered, hung up by the caller
    db = sqlite3.connect(srv.db)
    rows = db.execute("select caller, callee, answer_us, end_reason, hangup_by from cdrs").fetchall()
    log("cdrs:", rows)
    assert len(rows) == 1, rows
    caller, callee, answer_us, reason, by = rows[0]
    assert (caller, callee, reason, by) == ("alice", "bob", "BYE", "caller"), rows
    assert answer_us > 0


if __name__ == "__main__":
    run(test)
