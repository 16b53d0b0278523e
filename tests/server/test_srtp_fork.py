#!/usr/bin/env python3
"""The 488 SRTP retry on one fork of a forked call (src/server/b2bua.c
leg_retry_srtp, media.c): bob has two contacts; the one that refuses the
mirrored offer with 488 gets the offer again with SRTP turned the other
way, and the other fork is not disturbed.

usage: test_srtp_fork.py CASE
  plain_caller  plain `cvoip call` -> cvoipd -> bob's contacts: `cvoip
                answer --srtp` (488 to the plain offer, then answers the
                SRTP retry) and a SIPp phone that rings (cancelled with
                "Call completed elsewhere"). Audio both ways; the caller
                plain, the answerer SRTP.
  srtp_caller   `cvoip call --srtp` -> cvoipd -> bob's contacts: a SIPp
                phone that refuses RTP/SAVP with 488 and rings on the plain
                retry, and `cvoip answer --srtp` answering after 1 s the
                first (SRTP) offer: the retry of the other fork must not
                take the relay's SRTP key away from it. Audio both ways,
                both ends SRTP with their own keys."""
import json
import os
import re
import subprocess
import sys

from sipkit import BIN, Sipp, TestDb, log, register, run, start_cvoipd, stop_all, wait_for
from cvtest import tone_ratio

CVOIP = os.path.join(BIN, "cvoip")


def jevents(text):
    out = []
    for ln in text.splitlines():
        try:
            out.append(json.loads(ln))
        except ValueError:
            pass
    return out


def check_tone(path, freq, other):
    assert path and os.path.exists(path), "no recording %s" % path
    ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
    log("%s: %d Hz ratio %.1f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
    assert rms > 1000 and ratio > 100, "tone %d Hz not heard in %s" % (freq, path)


def srtp_of(events):
    return [e.get("srtp") for e in events if e.get("event") == "media"]


def case(tmp, srtp_caller):
    srv = start_cvoipd(tmp, TestDb(tmp))
    bob_wav, alice_wav = os.path.join(tmp, "bob.wav"), os.path.join(tmp, "alice.wav")
    out = os.path.join(tmp, "answer.out")
    f = open(out, "w")
    ans = None
    try:
        ans = subprocess.Popen(
            [CVOIP, "answer", "--json", "--register", "sip:bob@127.0.0.1",
             "--registrar", "sip:127.0.0.1:%d" % srv.port, "--auth", "bob:bob-secret",
             "--srtp", "--tone", "1000", "--record", bob_wav, "--duration", "3"]
            # plain caller: its first "call" is the refused plain offer
            + (["--auto-answer-after", "1"] if srtp_caller else ["--max-calls", "2"]),
            stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: any(e.get("event") == "registration" and e.get("registered")
                             for e in jevents(open(out).read())) or ans.poll() is not None,
                 15, "cvoip answer registered")
        # bob's second contact: a SIPp phone (its own binding)
        other = Sipp(tmp, "bob-sipp", "uas_488_ring.xml" if srtp_caller else "uas_ring.xml",
                     srv.port)
        register(srv.port, "bob", "bob-secret", port=other.port)
        other.start()
        p = subprocess.run(
            [CVOIP, "call", "--json", "sip:bob@127.0.0.1", "--proxy",
             "sip:127.0.0.1:%d" % srv.port, "--from", "sip:alice@127.0.0.1",
             "--auth", "alice:alice-secret", "--tone", "440", "--record", alice_wav,
             "--duration", "3"] + (["--srtp"] if srtp_caller else []),
            capture_output=True, text=True, timeout=40)
        assert p.returncode == 0, p.stdout + p.stderr
        rc = ans.wait(timeout=20)
        f.close()
        aev = jevents(open(out).read())
        assert rc == 0, open(out).read()
        sa, sb = srtp_of(jevents(p.stdout)), srtp_of(aev)
        log("caller srtp", sa, "answerer srtp", sb)
        assert sb and sb[-1] and sb[-1].startswith("AES_CM_128_HMAC_SHA1_"), aev
        if srtp_caller:
            assert sa and sa[0], sa
        else:
            assert sa and not any(sa), sa
        other.expect_ok()
        msgs = other.messages()
        assert "Call completed elsewhere" in msgs, "the other fork's CANCEL has no Reason"
        invites = re.findall(r"\nINVITE sip:.*?(?=\n----|\Z)", "\n" + msgs, re.S)
        log("the SIPp fork got %d INVITE(s)" % len(invites))
        text = srv.log()
        assert "forks=2" in text, "not forked"
        if srtp_caller:
            # its first offer mirrored alice (SRTP), the retry plain
            assert len(invites) == 2, len(invites)
            assert re.search(r"m=audio \d+ RTP/SAVP ", invites[0]) and "a=crypto" in invites[0]
            assert re.search(r"m=audio \d+ RTP/AVP ", invites[1]) and "a=crypto" not in invites[1], \
                invites[1]
            assert "refused the offer (488), offered again" in text
        else:
            # the ringing fork got the plain offer once, untouched by the
            # other fork's retry
            assert len(invites) == 1 and "a=crypto" not in invites[0], invites
            assert "refused the offer (488), offered again" in text
        wait_for(lambda: "call end" in srv.log(), 10, "call end log line")
        srv.stop()
    finally:
        if ans and ans.poll() is None:
            ans.kill()
            ans.wait()
        stop_all()
        srv.kill()
    check_tone(bob_wav if srtp_caller else bob_wav.replace(".wav", "-2.wav"), 440, 1000)
    check_tone(alice_wav, 1000, 440)


def main():
    cases = {"plain_caller": lambda tmp: case(tmp, False),
             "srtp_caller": lambda tmp: case(tmp, True)}
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: test_srtp_fork.py {%s}" % "|".join(cases))
        sys.exit(2)
    run(cases[sys.argv[1]])


main()
