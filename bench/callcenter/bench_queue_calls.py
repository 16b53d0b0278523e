#!/usr/bin/env python3
"""Calls per second through a call-center queue, and cvoipd's CPU per
queued call: SIPp callers (INVITE/407/INVITE/200/ACK/[hold]/BYE) dial a
longest-idle queue whose one agent (max_calls 1000, no wrap-up) is a SIPp
UAS registered by the python client from SIPp's port. Each call is
answered by the glue (music on hold), offered to the agent through the
server, bridged, and hung up by the caller. CPU from /proc (user+system
of the whole cvoipd: server workers, relay, glue thread, media).

usage: bench_queue_calls.py [calls] [rate] [hold_ms]   (CV_BIN_DIR: a non-sanitized build)"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "server"))
from sipkit import Cvoipd, Sipp, TestDb, log, register, stop_all  # noqa: E402

CONFIG = """
server: {workers: 2, log_level: warn, realm: cvoip}
database: sqlite:var/cvoipd.db
media: {relay: true, rtp_port_min: 20000, rtp_port_max: 29999}
users:
  - {name: alice, password: alice-secret}
agents:
  - {name: bagent, password: bagent-secret, max_calls: 100, wrapup: 0s}
queues:
  - name: bq
    strategy: longest-idle
    ring_timeout: 10s
    max_wait: 60s
    max_length: 100000
callcenter:
  max_callers: 100000
  code_prompts: false
"""


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    hold = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    tmp = tempfile.mkdtemp(prefix="cvoip-bench-cc-")
    cfg = os.path.join(tmp, "cvoipd.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    srv = Cvoipd(tmp, config=cfg)
    srv.args[srv.args.index("--log-level") + 1] = "info"  # "ready" is an info line
    srv.args[srv.args.index("--db") + 1] = TestDb(tmp).url
    srv.start()
    try:
        agent = Sipp(tmp, "bagent", "uas_answer.xml", srv.port, subst={"DELAY": 0}, calls=calls)
        register(srv.port, "bagent", "bagent-secret", port=agent.port)
        agent.start()
        time.sleep(0.5)
        c0, t0 = cpu_s(srv.proc.pid), time.time()
        caller = Sipp(tmp, "alice", "uac_call.xml", srv.port, subst={"CALLEE": "bq", "HOLD": hold},
                      calls=calls, args=["-r", str(rate), "-l", str(rate * 4 + 100)]).start()
        caller.expect_ok(timeout=calls / rate * 3 + hold / 1000 + 60)
        agent.expect_ok()
        c1, t1 = cpu_s(srv.proc.pid), time.time()
        log("queued calls: %d at %d/s (hold %d ms) in %.1f s, cvoipd CPU %.2f s -> %.0f us per queued call"
            % (calls, rate, hold, t1 - t0, c1 - c0, (c1 - c0) * 1e6 / calls))
    finally:
        stop_all()
        srv.kill()


main()
