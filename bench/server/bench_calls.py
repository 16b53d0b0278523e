#!/usr/bin/env python3
"""Rough figure: cvoipd CPU per call and per REGISTER, from /proc, with
SIPp driving complete calls (INVITE/407/INVITE/180/200/ACK/BYE) through
the B2BUA at a fixed rate. Not the issue's Kamailio comparison
(BENCHMARKING.md); a quick number for one build on this machine.

usage: bench_calls.py [calls] [rate] [relay|direct]   (CV_BIN_DIR: a non-sanitized build)"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "server"))
from sipkit import SRC, Sipp, TestDb, UdpUa, log, register, start_cvoipd, stop_all  # noqa: E402


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / tck


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    mode = sys.argv[3] if len(sys.argv) > 3 else "direct"
    tmp = tempfile.mkdtemp(prefix="cvoip-bench-")
    cfg = os.path.join(tmp, "cvoipd.yaml")
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        text = f.read().replace("log_level: info", "log_level: warn")
    with open(cfg, "w") as f:
        f.write(text.replace("  relay: true", "  relay: %s" % ("true" if mode == "relay" else "false")))
    srv = start_cvoipd(tmp, TestDb(tmp), config=cfg)
    srv.args[srv.args.index("--log-level") + 1] = "warn"
    try:
        # REGISTER cost: n digest registrations (401 + 200 each)
        ua = UdpUa(srv.port, user="carol")
        n = 500
        c0 = cpu_s(srv.proc.pid)
        for i in range(n):
            r, _ = ua.register("carol-secret", contacts=["<sip:carol@127.0.0.1:%d>" % (6000 + i % 10)])
            assert r.status == 200, r
        c1 = cpu_s(srv.proc.pid)
        ua.close()
        log("REGISTER: %d in %.2f s CPU -> %.0f us per registration (challenge + 200)"
            % (n, c1 - c0, (c1 - c0) * 1e6 / n))
        bob = Sipp(tmp, "bob", "uas_answer.xml", srv.port, subst={"DELAY": 0}, calls=calls)
        register(srv.port, "bob", "bob-secret", port=bob.port)
        bob.start()
        c0, t0 = cpu_s(srv.proc.pid), time.time()
        alice = Sipp(tmp, "alice", "uac_call.xml", srv.port, subst={"CALLEE": "bob", "HOLD": 0},
                     calls=calls, args=["-r", str(rate), "-l", str(rate * 4)]).start()
        alice.expect_ok(timeout=calls / rate * 3 + 60)
        bob.expect_ok()
        c1, t1 = cpu_s(srv.proc.pid), time.time()
        log("calls (%s media): %d at %d/s in %.1f s, cvoipd CPU %.2f s -> %.0f us per call"
            % (mode, calls, rate, t1 - t0, c1 - c0, (c1 - c0) * 1e6 / calls))
    finally:
        stop_all()
        srv.kill()


main()
