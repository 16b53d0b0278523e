#!/usr/bin/env python3
"""SIPp scenarios (tests/session/sipp/) with cvoip on the other side:
uac_prack_timer.xml calls `cvoip answer` (reliable 180 and PRACK, session
timer in the 200, refresh by UPDATE); uas_update_hold.xml answers
`cvoip call --hold-at 1 --update` (Supported tags, hold by UPDATE)."""
import os
import subprocess

from sipwire import free_port, log, run
from test_cli_call import CVOIP, Answerer

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")


def sipp(tmp, scenario, extra, timeout=30):
    cmd = ["sipp", "-sf", os.path.join(HERE, scenario), "-m", "1", "-i", "127.0.0.1",
           "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err",
           "-error_file", os.path.join(tmp, scenario + ".err")] + extra
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=tmp)


def errors(tmp, scenario):
    path = os.path.join(tmp, scenario + ".err")
    return open(path).read()[-3000:] if os.path.exists(path) else ""


def test(tmp):
    port = free_port()
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "440",
                         "--auto-answer-after", "1", "--max-calls", "1"])
    ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
    p = sipp(tmp, "uac_prack_timer.xml", ["-p", str(free_port()), "127.0.0.1:%d" % port])
    rc = p.wait(timeout=30)
    assert rc == 0, "sipp exit %d:\n%s" % (rc, errors(tmp, "uac_prack_timer.xml"))
    assert ans.finish(10) == 0, open(ans.out).read()
    log("SIPp UAC with 100rel and timer -> cvoip answer: ok")

    sport = free_port()
    p = sipp(tmp, "uas_update_hold.xml", ["-p", str(sport)])
    c = subprocess.run([CVOIP, "call", "sip:sipp@127.0.0.1:%d" % sport, "--tone", "440",
                        "--duration", "3", "--hold-at", "1", "--update"],
                       capture_output=True, text=True, timeout=30)
    rc = p.wait(timeout=30)
    assert rc == 0, "sipp exit %d:\n%s" % (rc, errors(tmp, "uas_update_hold.xml"))
    assert c.returncode == 0, c.stdout + c.stderr
    log("cvoip call with UPDATE hold -> SIPp UAS: ok")


if __name__ == "__main__":
    run(test)
