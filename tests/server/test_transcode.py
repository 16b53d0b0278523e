#!/usr/bin/env python3
"""Transcoding in cvoipd's media relay when the legs share no codec
(src/server/transcode.c through cv_rtp_relay_stream_set_xform):
`cvoip call --codec X` -> cvoipd -> `cvoip answer --codec Y`; each side
must hear the other's tone in its own codec.

usage: test_transcode.py CALLER_CODEC CALLEE_CODEC [srtp]
  (e.g. PCMA PCMU); `srtp`: both ends --srtp (SDES terminated per leg in
  the relay, then transcoded) and the caller holds and resumes the call
  by re-INVITE in the middle."""
import os
import re
import sys

from sipkit import SRC, TestDb, log, run, start_cvoipd, wait_for
from cvtest import tone_ratio

sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from test_cli_call import Answerer, call  # noqa: E402


def check_tone(path, freq, other):
    assert path and os.path.exists(path), "no recording %s" % path
    ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
    log("%s: %d Hz ratio %.1f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
    assert rms > 1000 and ratio > 50, "tone %d Hz not heard in %s" % (freq, path)


def clock(codec):
    return 48000 if codec.lower() == "opus" else 8000


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[3:] not in ([], ["srtp"]):
        print(__doc__)
        sys.exit(2)
    a_codec, b_codec = sys.argv[1], sys.argv[2]
    srtp = sys.argv[3:] == ["srtp"]
    a_extra = ["--srtp", "--hold-at", "1", "--resume-at", "2"] if srtp else []
    b_extra = ["--srtp"] if srtp else []

    def test(tmp):
        srv = start_cvoipd(tmp, TestDb(tmp))
        bob_wav, alice_wav = os.path.join(tmp, "bob.wav"), os.path.join(tmp, "alice.wav")
        ans = None
        try:
            ans = Answerer(tmp, ["--register", "sip:bob@127.0.0.1",
                                 "--registrar", "sip:127.0.0.1:%d" % srv.port,
                                 "--auth", "bob:bob-secret", "--tone", "1000",
                                 "--codec", b_codec, "--record", bob_wav] + b_extra)
            ans.wait(lambda e: e.get("event") == "registration" and e.get("registered"),
                     15, "registered")
            rc, ev, out = call(["sip:bob@127.0.0.1", "--proxy", "sip:127.0.0.1:%d" % srv.port,
                                "--from", "sip:alice@127.0.0.1", "--auth", "alice:alice-secret",
                                "--codec", a_codec, "--tone", "440", "--record", alice_wav,
                                "--duration", "3", "--dtmf", "159"] + a_extra)
            assert rc == 0, out
            acodec = [e.get("codec") for e in ev if e["event"] == "media"]
            assert acodec and acodec[0].lower().startswith(a_codec.lower()), out
            assert ans.finish(20) == 0, open(ans.out).read()
            bcodec = [e.get("codec") for e in ans.events() if e["event"] == "media"]
            assert bcodec and bcodec[0].lower().startswith(b_codec.lower()), ans.events()
            log("caller uses %s, callee %s" % (acodec[0], bcodec[0]))
            if srtp:
                for evs in (ev, ans.events()):
                    suites = [e.get("srtp") for e in evs if e["event"] == "media"]
                    assert suites and all(suites), evs
            digits = "".join(e["digit"] for e in ans.events() if e["event"] == "dtmf")
            log("DTMF heard by the callee: %r" % digits)
            if clock(a_codec) == clock(b_codec):
                # telephone-event at the same clock rate crosses with its
                # payload type renumbered
                assert digits == "159", digits
            wait_for(lambda: "call end" in srv.log(), 10, "call end log line")
        finally:
            if ans and ans.proc.poll() is None:
                ans.proc.kill()
                ans.finish()
            srv.stop()
        text = srv.log()
        m = re.search(r"(\d+) packets transcoded, (\d+) dropped", text)
        if a_codec == b_codec:
            assert not m, "a common codec must not be transcoded"
            assert "no common codec" not in text
            check_tone(bob_wav, 440, 1000)
            check_tone(alice_wav, 1000, 440)
            return
        assert m and "no common codec, transcoding" in text, text[-3000:]
        log("cvoipd:", m.group(0))
        assert int(m.group(1)) > (150 if srtp else 200), m.group(0)
        check_tone(bob_wav, 440, 1000)
        check_tone(alice_wav, 1000, 440)

    run(test)


if __name__ == "__main__":
    main()
