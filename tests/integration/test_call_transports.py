#!/usr/bin/env python3
"""The call over other transports: IPv6 only (cvoipd on [::1], cvoip
answer registered from [::1], cvoip call through it), then TCP for both
the registration flow and the call; audio relayed both ways."""
import os

from cvtest import Cvoipd, free_port, log, run, tone_ratio
from test_cli_call import Answerer, call


def test(tmp):
    port = free_port(host="::1")
    srv = Cvoipd(tmp)
    srv.port = port
    i = srv.args.index("--listen")
    srv.args[i + 1] = "udp:[::1]:%d" % port
    srv.args[i + 3] = "tcp:[::1]:%d" % port
    srv.start()
    proxy = "sip:[::1]:%d" % port
    try:
        bob_wav, alice_wav = os.path.join(tmp, "bob6.wav"), os.path.join(tmp, "alice6.wav")
        ans = Answerer(tmp, ["--listen", "udp:[::1]:0", "--register", "sip:bob@[::1]",
                             "--registrar", proxy, "--auth", "bob:bob-secret",
                             "--tone", "1000", "--record", bob_wav])
        ans.wait(lambda e: e.get("event") == "registration" and e["registered"], 10,
                 "registration over IPv6")
        rc, ev, out = call(["sip:bob@[::1]", "--proxy", proxy, "--from", "sip:alice@[::1]",
                            "--auth", "alice:alice-secret", "--listen", "udp:[::1]:0",
                            "--tone", "440", "--record", alice_wav, "--duration", "2"])
        assert rc == 0, out
        assert ans.finish(20) == 0, open(ans.out).read()
    finally:
        srv.stop()
    for path, freq, other in ((bob_wav, 440, 1000), (alice_wav, 1000, 440)):
        ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
        log("%s: %d Hz ratio %.0f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
        assert rms > 1000 and ratio > 100, path
    assert "[::1]" in srv.log() and "call end" in srv.log()

    # TCP: bob registers over TCP, so his INVITE comes on that connection
    srv = Cvoipd(tmp).start()
    try:
        proxy = "sip:127.0.0.1:%d" % srv.port
        ans = Answerer(tmp, ["--register", "sip:bob@127.0.0.1", "--registrar",
                             proxy + ";transport=tcp", "--auth", "bob:bob-secret",
                             "--tone", "1000"])
        ans.wait(lambda e: e.get("event") == "registration" and e["registered"], 10,
                 "registration over TCP")
        rc, ev, out = call(["sip:bob@127.0.0.1", "--proxy", proxy, "--transport", "tcp",
                            "--from", "sip:alice@127.0.0.1", "--auth", "alice:alice-secret",
                            "--tone", "440", "--duration", "2"])
        assert rc == 0, out
        q = [e for e in ev if e["event"] == "quality"][0]
        assert q["rx_packets"] > 50, q
        assert ans.finish(20) == 0, open(ans.out).read()
        assert ";transport=tcp" in srv.log(), "callee not reached over TCP"
    finally:
        srv.stop()
    log("tcp: ok")


if __name__ == "__main__":
    run(test)
