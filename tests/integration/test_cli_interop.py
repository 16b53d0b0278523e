#!/usr/bin/env python3
"""cvoip against real peers: cvoip calls baresip and baresip calls cvoip
(directly, no server), and cvoip registers to and calls through Kamailio
(registrar with digest, record-routing stateful proxy). Audio is checked
by frequency at both ends."""
import os
import signal
import subprocess
import time

from cvtest import (BIN, SRC, Baresip, free_port, log, make_tone, run,
                    tone_ratio, wait_for)
from test_cli_call import Answerer, call

KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def heard(path, freq, other):
    ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
    log("%s: %d Hz ratio %.0f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
    assert rms > 500 and ratio > 50, path


def cvoip_calls_baresip(tmp):
    make_tone(os.path.join(tmp, "b1000.wav"), 1000)
    bob = Baresip(tmp, "bob", "x", free_port(), os.path.join(tmp, "b1000.wav"), answer=True)
    # no registration: the account only answers calls to its address
    with open(os.path.join(bob.dir, "accounts"), "w") as f:
        f.write("<sip:bob@127.0.0.1>;regint=0;answermode=auto\n")
    bob.start()
    try:
        wav = os.path.join(tmp, "alice-from-baresip.wav")
        rc, ev, out = call(["sip:bob@127.0.0.1:%d" % bob.sip_port, "--tone", "440",
                            "--record", wav, "--duration", "3", "--codec", "PCMU"])
        assert rc == 0, out
        heard(wav, 1000, 440)
        heard(bob.recorded("dec"), 440, 1000)
    finally:
        bob.stop()
    log("cvoip -> baresip: ok")


def baresip_calls_cvoip(tmp):
    make_tone(os.path.join(tmp, "a440.wav"), 440)
    port = free_port()
    wav = os.path.join(tmp, "cvoip-from-baresip.wav")
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "1000",
                         "--record", wav, "--duration", "3"])
    ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
    alice = Baresip(tmp, "alice", "x", free_port(), os.path.join(tmp, "a440.wav"))
    with open(os.path.join(alice.dir, "accounts"), "w") as f:
        f.write("<sip:alice@127.0.0.1>;regint=0\n")
    alice.start()
    try:
        alice.command("dial", "sip:bob@127.0.0.1:%d" % port)
        alice.wait_event("CALL_ESTABLISHED", 10)
        assert ans.finish(30) == 0, open(ans.out).read()
        alice.wait_event("CALL_CLOSED", 10)
        heard(wav, 440, 1000)
        heard(alice.recorded("dec"), 1000, 440)
    finally:
        alice.stop()
    log("baresip -> cvoip: ok")


def through_kamailio(tmp):
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
        bob_wav = os.path.join(tmp, "bob-via-kamailio.wav")
        alice_wav = os.path.join(tmp, "alice-via-kamailio.wav")
        ans = Answerer(tmp, ["--register", "sip:bob@127.0.0.1", "--registrar", proxy,
                             "--auth", "bob:bob-secret", "--tone", "1000",
                             "--record", bob_wav])
        ans.wait(lambda e: e.get("event") == "registration" and e["registered"], 10,
                 "registration at Kamailio")
        rc, ev, out = call(["sip:bob@127.0.0.1", "--proxy", proxy, "--from",
                            "sip:alice@127.0.0.1", "--auth", "alice:alice-secret",
                            "--tone", "440", "--record", alice_wav, "--duration", "3"])
        assert rc == 0, out
        assert ans.finish(30) == 0, open(ans.out).read()
        heard(bob_wav, 440, 1000)
        heard(alice_wav, 1000, 440)
    finally:
        kam.send_signal(signal.SIGTERM)
        try:
            kam.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kam.kill()
            kam.wait()
        logf.close()
    log("through Kamailio: ok")


def test(tmp):
    cvoip_calls_baresip(tmp)
    baresip_calls_cvoip(tmp)
    through_kamailio(tmp)


if __name__ == "__main__":
    run(test)
