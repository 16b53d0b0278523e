#!/usr/bin/env python3
"""The examples build and work: example_autoanswer answers one call from
example_caller, directly over loopback; both exit 0 and report media."""
import os
import subprocess

from cvtest import BIN, free_port, log, run, tone_ratio, wait_for


def test(tmp):
    port = free_port()
    out = os.path.join(tmp, "autoanswer.out")
    with open(out, "w") as f:
        ans = subprocess.Popen([os.path.join(BIN, "example_autoanswer"),
                                "udp:127.0.0.1:%d" % port, "1"], stdout=f,
                               stderr=subprocess.STDOUT, cwd=tmp)
        wait_for(lambda: "listening" in open(out).read(), 10, "autoanswer listening")
        p = subprocess.run([os.path.join(BIN, "example_caller"),
                            "sip:bob@127.0.0.1:%d" % port, "2"], capture_output=True,
                           text=True, timeout=30)
        log(p.stdout)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "state answered" in p.stdout and "MOS" in p.stdout, p.stdout
        rc = ans.wait(timeout=20)
    text = open(out).read()
    log(text)
    assert rc == 0 and "MOS" in text, text
    ratio, rms = tone_ratio(os.path.join(tmp, "answered-1.wav"), 440,
                            others=(300, 600, 1000, 1500))
    assert ratio > 100 and rms > 1000, (ratio, rms)


if __name__ == "__main__":
    run(test)
