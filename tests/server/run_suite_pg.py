#!/usr/bin/env python3
"""The server suite against PostgreSQL: run by tests/store/run_pg.sh, which
starts a throw-away server and calls `run_suite_pg.py URL`. Every test
script runs with CV_TEST_PG_URL=URL, so each test creates its own fresh
database on that server and cvoipd runs with --db postgresql://..."""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

SIPP_FLOWS = ["call", "404", "486", "cancel", "noanswer", "reinvite", "info", "update",
              "bye_callee", "fork", "reinvite_488", "cancel_race", "late_offer", "prack",
              "refer"]
TRUNK_CASES = ["out", "in"]
REG_CASES = ["min_expires", "contacts", "expiry", "refresh", "wrong_password",
             "replay"]
REG_SIPP_CASES = ["restart", "kill9", "db_outage"]


def main():
    if len(sys.argv) != 2 or not sys.argv[1].startswith("postgres"):
        print("usage: run_suite_pg.py postgresql://...")
        sys.exit(2)
    env = dict(os.environ, CV_TEST_PG_URL=sys.argv[1])
    runs = [["test_registrar.py", c] for c in REG_CASES]
    if shutil.which("sipp"):
        runs += [["test_sipp.py", f] for f in SIPP_FLOWS]
        runs += [["test_registrar.py", c] for c in REG_SIPP_CASES]
        runs += [["test_cdr_export.py"]]
        runs += [["test_trunk.py", c] for c in TRUNK_CASES]
        runs += [["test_trunk_feat.py", c] for c in ("rewrite", "did", "options", "srtp")]
        runs += [["test_sipp_tls.py"]]
        if shutil.which("dnsmasq"):
            runs += [["test_trunk_dns.py", c] for c in ("srv", "tls")]
    if shutil.which("baresip"):
        runs += [["test_baresip_relay.py", "relay"]]
    failed = []
    for r in runs:
        t0 = time.time()
        p = subprocess.run([sys.executable, os.path.join(HERE, r[0])] + r[1:], env=env,
                           capture_output=True, text=True, timeout=180)
        name = " ".join(r)
        print("%-40s %s (%.1f s)" % (name, "ok" if p.returncode == 0 else "FAILED", time.time() - t0),
              flush=True)
        if p.returncode != 0:
            failed.append(name)
            print(p.stdout[-4000:], p.stderr[-2000:], flush=True)
    if failed:
        print("FAIL: %d of %d on PostgreSQL: %s" % (len(failed), len(runs), ", ".join(failed)))
        sys.exit(1)
    print("ok: %d tests on PostgreSQL" % len(runs))


main()
