#!/usr/bin/env python3
"""SDES-SRTP terminated in cvoipd's media relay (src/server/media.c,
cv_rtp_relay_stream_set_srtp): every leg gets its own a=crypto from
cvoipd, so the keys differ per leg and SRTP can meet plain RTP.

usage: test_srtp_relay.py CASE
  cvoip    cvoip call --srtp -> cvoipd -> cvoip answer --srtp (SDES <-> SDES,
           each leg its own keys): both report SRTP and hear each other.
  baresip  baresip alice (mediaenc=srtp-mand, RTP/SAVP) -> cvoipd ->
           cvoip answer --srtp: audio both ways.
  retry    plain `cvoip call` -> cvoipd -> `cvoip answer --srtp`, which
           refuses the mirrored plain offer with 488: cvoipd offers it
           again with SRTP (its own key), the call is plain RTP on the
           caller's leg and SRTP on the callee's, audio both ways.
  mand_plain  as `plain` but alice with mediaenc=srtp-mand (RTP/SAVP):
           bob refuses the mirrored RTP/SAVP offer with 488, cvoipd offers
           him plain RTP/AVP instead (SRTP caller -> plain callee).
  plain    baresip alice (mediaenc=srtp: RTP/AVP with a=crypto, RFC 4568
           best effort) -> cvoipd -> baresip bob without the srtp module:
           bob answers plain RTP, so only cvoipd's decryption and
           encryption can make the tones audible at both ends."""
import os
import re
import sys
import time

from sipkit import BIN, SRC, TestDb, log, run, start_cvoipd, wait_for
from cvtest import Baresip, make_tone, tone_ratio

sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from test_cli_call import Answerer, call, events  # noqa: E402,F401


def check_tone(path, freq, other):
    assert path and os.path.exists(path), "no recording %s" % path
    ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
    log("%s: %d Hz ratio %.1f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
    assert rms > 1000 and ratio > 100, "tone %d Hz not heard in %s" % (freq, path)


def srtp_baresip(b, mode):
    """Load baresip's srtp module and ask for `mode` (srtp, srtp-mand)."""
    cfg = os.path.join(b.dir, "config")
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace("module account.so", "module srtp.so\nmodule account.so"))
    acc = os.path.join(b.dir, "accounts")
    with open(acc) as f:
        line = f.read().rstrip("\n")
    with open(acc, "w") as f:
        f.write(line + ";mediaenc=%s\n" % mode)


def relay_fwd(srv):
    m = re.findall(r"packets_forwarded=(\d+)", srv.log())
    return int(m[-1]) if m else 0


def answerer_registered(srv, tmp, rec, freq, extra):
    ans = Answerer(tmp, ["--register", "sip:bob@127.0.0.1",
                         "--registrar", "sip:127.0.0.1:%d" % srv.port,
                         "--auth", "bob:bob-secret", "--tone", str(freq),
                         "--record", rec] + extra)
    ans.wait(lambda e: e.get("event") == "registration" and e.get("registered"), 15, "registered")
    return ans


def case_cvoip(tmp):
    srv = start_cvoipd(tmp, TestDb(tmp))
    bob_wav, alice_wav = os.path.join(tmp, "bob.wav"), os.path.join(tmp, "alice.wav")
    ans = None
    try:
        ans = answerer_registered(srv, tmp, bob_wav, 1000, ["--srtp"])
        rc, ev, out = call(["sip:bob@127.0.0.1", "--proxy", "sip:127.0.0.1:%d" % srv.port,
                            "--from", "sip:alice@127.0.0.1", "--auth", "alice:alice-secret",
                            "--srtp", "--tone", "440", "--record", alice_wav,
                            "--duration", "3"])
        assert rc == 0, out
        suites = [e.get("srtp") for e in ev if e["event"] == "media"]
        assert suites and suites[0].startswith("AES_CM_128_HMAC_SHA1_"), out
        assert ans.finish(20) == 0, open(ans.out).read()
        asuites = [e.get("srtp") for e in ans.events() if e["event"] == "media"]
        assert asuites and asuites[0].startswith("AES_CM_128_HMAC_SHA1_"), ans.events()
        wait_for(lambda: "call end" in srv.log(), 10, "call end log line")
    finally:
        if ans and ans.proc.poll() is None:
            ans.proc.kill()
            ans.finish()
        srv.stop()
    check_tone(bob_wav, 440, 1000)
    check_tone(alice_wav, 1000, 440)
    fwd = relay_fwd(srv)
    log("relay forwarded %d packets" % fwd)
    assert fwd > 200, fwd


def case_baresip(tmp):
    make_tone(os.path.join(tmp, "alice-src.wav"), 440, seconds=10)
    srv = start_cvoipd(tmp, TestDb(tmp))
    bob_wav = os.path.join(tmp, "bob.wav")
    ans = alice = None
    try:
        ans = answerer_registered(srv, tmp, bob_wav, 1000, ["--srtp", "--duration", "4"])
        alice = Baresip(tmp, "alice", "alice-secret", srv.port, os.path.join(tmp, "alice-src.wav"))
        srtp_baresip(alice, "srtp-mand")
        alice.start()
        alice.wait_registered(10)
        alice.command("dial", "sip:bob@127.0.0.1")
        alice.wait_event("CALL_ESTABLISHED", 15)
        alice.wait_event("CALL_CLOSED", 20)
        assert ans.finish(20) == 0, open(ans.out).read()
        asuites = [e.get("srtp") for e in ans.events() if e["event"] == "media"]
        assert asuites and asuites[0], ans.events()
        wait_for(lambda: "call end" in srv.log(), 10, "call end log line")
    finally:
        if alice:
            alice.stop()
        if ans and ans.proc.poll() is None:
            ans.proc.kill()
            ans.finish()
        srv.stop()
    akeys = set(re.findall(r"a=crypto:\d+ \S+ inline:([A-Za-z0-9+/=]+)", alice.log()))
    assert len(akeys) == 2, akeys  # hers and the one cvoipd answered with
    check_tone(bob_wav, 440, 1000)
    check_tone(alice.recorded("dec"), 1000, 440)


def case_plain(tmp, mode="srtp"):
    make_tone(os.path.join(tmp, "alice.wav"), 440, seconds=10)
    make_tone(os.path.join(tmp, "bob.wav"), 1000, seconds=10)
    srv = start_cvoipd(tmp, TestDb(tmp))
    bob = alice = None
    try:
        bob = Baresip(tmp, "bob", "bob-secret", srv.port, os.path.join(tmp, "bob.wav"),
                      answer=True).start()
        alice = Baresip(tmp, "alice", "alice-secret", srv.port, os.path.join(tmp, "alice.wav"))
        srtp_baresip(alice, mode)
        alice.start()
        bob.wait_registered(10)
        alice.wait_registered(10)
        alice.command("dial", "sip:bob@127.0.0.1")
        alice.wait_event("CALL_ESTABLISHED", 15)
        bob.wait_event("CALL_ESTABLISHED", 15)
        time.sleep(4)
        alice.command("hangup")
        bob.wait_event("CALL_CLOSED", 10)
        alice.wait_event("CALL_CLOSED", 10)
        wait_for(lambda: "call end" in srv.log(), 10, "call end log line")
    finally:
        for ua in (alice, bob):
            if ua:
                ua.stop()
        srv.stop()
    # baresip -s logs the SIP it sends and receives: alice's keys and the
    # ones cvoipd gave each leg are all different; bob answered plain
    akeys = set(re.findall(r"a=crypto:\d+ \S+ inline:([A-Za-z0-9+/=]+)", alice.log()))
    bkeys = set(re.findall(r"a=crypto:\d+ \S+ inline:([A-Za-z0-9+/=]+)", bob.log()))
    log("a=crypto keys seen by alice %d, by bob %d" % (len(akeys), len(bkeys)))
    assert len(akeys) >= 2, "alice's offer and cvoipd's answer both carry keys"
    assert len(bkeys) == 1 and not akeys & bkeys, (akeys, bkeys)
    if mode == "srtp":
        assert "RTP/SAVP" not in bob.log()
    else:
        # bob (no srtp module) refused the mirrored RTP/SAVP offer; the
        # second offer was plain RTP/AVP
        assert "488 Not Acceptable Here" in bob.log()
        assert "refused the offer (488)" in srv.log()
    check_tone(bob.recorded("dec"), 440, 1000)
    check_tone(alice.recorded("dec"), 1000, 440)


def case_retry(tmp):
    srv = start_cvoipd(tmp, TestDb(tmp))
    bob_wav, alice_wav = os.path.join(tmp, "bob.wav"), os.path.join(tmp, "alice.wav")
    ans = None
    try:
        # its first "call" is the refused plain offer
        ans = answerer_registered(srv, tmp, bob_wav, 1000, ["--srtp", "--max-calls", "2"])
        rc, ev, out = call(["sip:bob@127.0.0.1", "--proxy", "sip:127.0.0.1:%d" % srv.port,
                            "--from", "sip:alice@127.0.0.1", "--auth", "alice:alice-secret",
                            "--tone", "440", "--record", alice_wav, "--duration", "3"])
        assert rc == 0, out + srv.log()[-3000:]
        suites = [e.get("srtp") for e in ev if e["event"] == "media"]
        assert suites and not suites[0], out  # the caller stays plain
        assert ans.finish(20) == 0, open(ans.out).read()
        asuites = [e.get("srtp") for e in ans.events() if e["event"] == "media"]
        assert asuites and asuites[0].startswith("AES_CM_128_HMAC_SHA1_"), ans.events()
        wait_for(lambda: "call end" in srv.log(), 10, "call end log line")
    finally:
        if ans and ans.proc.poll() is None:
            ans.proc.kill()
            ans.finish()
        srv.stop()
    assert "refused the offer (488)" in srv.log()
    check_tone(bob_wav.replace(".wav", "-2.wav"), 440, 1000)  # its call 2
    check_tone(alice_wav, 1000, 440)


CASES = {"mand_plain": lambda tmp: case_plain(tmp, "srtp-mand"), "retry": case_retry, "cvoip": case_cvoip, "baresip": case_baresip, "plain": case_plain}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print(__doc__)
        sys.exit(2)
    run(CASES[sys.argv[1]])


if __name__ == "__main__":
    main()
