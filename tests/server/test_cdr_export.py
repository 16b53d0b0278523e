#!/usr/bin/env python3
"""`cvoipd cdr export`: CDRs of real calls (SIPp through cvoipd) as CSV on
standard output, with the --since/--until/--call-id filters."""
import csv
import io
import os
import subprocess
import time

from sipkit import BIN, Sipp, TestDb, log, register, run, start_cvoipd, stop_all


def export(srv, *args):
    p = subprocess.run([os.path.join(BIN, "cvoipd"), "cdr", "export", "--db", srv.dbh.url] + list(args),
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test(tmp):
    srv = start_cvoipd(tmp, TestDb(tmp))
    t0 = time.time()
    try:
        for n, (uas, uac, subst) in enumerate((("uas_answer.xml", "uac_call.xml", {}),
                                                ("uas_busy.xml", "uac_fail.xml", {"STATUS": 486}))):
            bob = Sipp(tmp, "bob%d" % n, uas, srv.port, subst={"DELAY": 100})
            register(srv.port, "bob", "bob-secret", port=bob.port)
            bob.start()
            Sipp(tmp, "alice%d" % n, uac, srv.port, subst=dict({"CALLEE": "bob", "HOLD": 200}, **subst)).start().expect_ok()
            bob.expect_ok()
            # the next call's REGISTER replaces nothing: drop this binding
            register(srv.port, "bob", "bob-secret", port=bob.port, expires=0)
    except BaseException:
        stop_all()
        srv.kill()
        raise
    srv.stop()
    rc, out, err = export(srv)
    assert rc == 0, (rc, err)
    log(out)
    header = out.splitlines()[0].split(",")
    for col in ("id", "call_id", "caller", "callee", "start_us", "answer_us", "end_us",
                "end_reason", "hangup_by", "leg", "peer", "codec", "pkts_lost", "jitter_ms", "mos"):
        assert col in header, "no column " + col
    rs = rows(out)
    answered = [r for r in rs if r["end_reason"] == "BYE"]
    busy = [r for r in rs if r["end_reason"].startswith("486")]
    # the answered call has both legs, the failed one only the caller's
    assert len(answered) == 2 and {r["leg"] for r in answered} == {"0", "1"}, rs
    assert len(busy) == 1 and busy[0]["answer_us"] == "0", rs
    assert all(r["caller"] == "alice" and r["callee"] == "bob" for r in rs), rs
    # filters
    rc, out, _ = export(srv, "--since", "2099-01-01")
    assert rc == 0 and rows(out) == [], out
    rc, out, _ = export(srv, "--since", "%ds" % int(time.time() - t0 + 60))
    assert rc == 0 and len(rows(out)) == 3, out
    rc, out, _ = export(srv, "--until", str(int(t0) - 3600))
    assert rc == 0 and rows(out) == [], out
    rc, out, _ = export(srv, "--call-id", busy[0]["call_id"])
    assert rc == 0 and len(rows(out)) == 1, out
    rc, out, err = export(srv, "--since", "yesterday")
    assert rc == 2 and "bad --since" in err, (rc, err)


run(test)
