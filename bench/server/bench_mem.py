#!/usr/bin/env python3
"""Memory of cvoipd per registration and per active signalling-only bridged
call (issue 9, benchmark (c)), from the server's RSS (/proc/PID/status).

  bench_mem.py reg N [RATE]          N users, one digest REGISTER each
                                     (401 + 200, Expires 3600)
  bench_mem.py calls N [RATE]        N calls alice -> bob held up at once
                                     (media direct: signalling only)

CV_BIN_DIR: a build without sanitizers (e.g. build-rel/bin). SIPp drives
everything on loopback; the figure is (RSS with N live - RSS before) / N,
so it includes everything a registration or call costs the process
(registrar binding, store rows in SQLite's cache, dialogs, transactions
still in their wait timers) except what the kernel holds for sockets."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "server"))
from sipkit import (SCEN, SRC, TestDb, free_port, free_udp_block, log, register,  # noqa: E402
                    start_cvoipd)

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def heap_in_use(srv):
    """glibc's own count of live heap bytes (malloc_stats(), all arenas and
    mmapped chunks), asked through gdb: unlike RSS it drops when memory is
    freed (glibc keeps freed pages mapped)."""
    mark = len(srv.log())
    subprocess.run(["gdb", "-p", str(srv.proc.pid), "-batch", "-nx",
                    "-ex", "call (void)malloc_stats()"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    for _ in range(50):
        tail = srv.log()[mark:]
        if "Total (incl. mmap)" in tail:
            break
        time.sleep(0.1)
    tot = tail.split("Total (incl. mmap)", 1)[1]
    return int(re.search(r"in use bytes\s*=\s*(\d+)", tot).group(1))


def settle(pid, seconds=3):
    """RSS once it stopped moving (max over the last second)."""
    time.sleep(seconds)
    return max(rss_kb(pid) for _ in range(5) if time.sleep(0.2) is None)


def sipp(tmp, name, scen, server_port, args):
    port = free_port(also_tcp=False)
    a = ["sipp", "127.0.0.1:%d" % server_port, "-sf", scen, "-i", "127.0.0.1",
         "-p", str(port), "-nostdin", "-mp", str(free_udp_block()),
         "-trace_err", "-error_file", os.path.join(tmp, name + "_err.log"),
         "-max_recv_loops", "10000", "-max_sched_loops", "10000"] + args
    out = open(os.path.join(tmp, name + "_out.log"), "w")
    p = subprocess.Popen(a, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=tmp)
    p.port = port
    return p


def config(tmp, nusers):
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        text = f.read().replace("log_level: info", "log_level: warn")
    text = text.replace("  relay: true", "  relay: false").replace("  event_log: var/events.jsonl\n", "")
    text = text.replace("users:\n", "users:\n" + "".join(
        "  - name: u%d\n    password: pw%d\n" % (i, i) for i in range(nusers)), 1)
    path = os.path.join(tmp, "cvoipd.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def add_users_sqlite(db, n):
    """n users straight into the SQLite store (the YAML loader caps a file's
    nodes): HA1 for MD5 only, realm cvoip."""
    import hashlib
    import sqlite3
    c = sqlite3.connect(db.path)
    now = int(time.time() * 1e6)
    c.executemany("insert into users (name, realm, ha1_md5, ha1_sha256, ha1_sha512_256, created_us)"
                  " values (?, 'cvoip', ?, '', '', ?)",
                  (("u%d" % i, hashlib.md5(("u%d:cvoip:pw%d" % (i, i)).encode()).hexdigest(), now)
                   for i in range(n)))
    c.commit()
    c.close()


def bench_reg(tmp, n, rate):
    db = TestDb(tmp)
    if n > 20000:
        # the schema first (one start), then the users into the file
        srv = start_cvoipd(tmp, db, config=config(tmp, 0))
        srv.stop()
        add_users_sqlite(db, n)
        srv = start_cvoipd(tmp, db, config=config(tmp, 0), log_name="cvoipd2.log")
    else:
        srv = start_cvoipd(tmp, db, config=config(tmp, n))
    try:
        inf = os.path.join(tmp, "users.csv")
        with open(inf, "w") as f:
            # SIPp reads the [authentication] keyword from an injected field
            f.write("SEQUENTIAL\n" + "".join(
                "u%d;[authentication username=u%d password=pw%d]\n" % (i, i, i) for i in range(n)))
        scen = os.path.join(tmp, "reg.xml")
        with open(os.path.join(HERE, "register_auth.xml")) as f:
            x = f.read()
        x = x.replace("sip:alice@", "sip:[field0]@").replace(
            "[authentication username=alice password=alice-secret]", "[field1]")
        x = x.replace("Expires: 600", "Expires: 3600")
        with open(scen, "w") as f:
            f.write(x)
        before = settle(srv.proc.pid)
        hb = heap_in_use(srv)
        t0 = time.time()
        p = sipp(tmp, "reg", scen, srv.port, ["-inf", inf, "-m", str(n), "-r", str(rate),
                                               "-l", str(rate * 2)])
        rc = p.wait(timeout=n / rate * 4 + 120)
        took = time.time() - t0
        if rc != 0:
            log("sipp exited %d (some registrations failed on a loaded machine): "
                "the figure divides by the bindings actually stored" % rc)
        soon = settle(srv.proc.pid)
        # the transactions of the last REGISTERs (401 and 200 kept for
        # retransmissions) end after Timer J (64*T1 = 32 s)
        after = settle(srv.proc.pid, 36)
        ha = heap_in_use(srv)
        rows = srv.dbh.rows("select count(*) from bindings")[0][0]
        n = rows or n
        log("registrations: live heap %d kB -> %d kB: %.0f bytes per registration"
            % (hb / 1024, ha / 1024, (ha - hb) / float(n)))
        log("registrations: %d in %.1f s; RSS %d kB -> %d kB (%.0f bytes each) 3 s after, "
            "-> %d kB 36 s after: %.0f bytes per registration (%d bindings stored)"
            % (n, took, before, soon, (soon - before) * 1024.0 / n, after,
               (after - before) * 1024.0 / n, rows))
    finally:
        srv.kill()


def bench_calls(tmp, n, rate):
    srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, 0))
    procs = []
    try:
        establish = n / rate
        hold_ms = int((establish + 60) * 1000)
        x = open(os.path.join(SCEN, "uas_answer.xml")).read().replace("@DELAY@", "0")
        with open(os.path.join(tmp, "uas.xml"), "w") as f:
            f.write(x)
        # bob registers from the port SIPp then listens on
        bport = free_port(also_tcp=False)
        register(srv.port, "bob", "bob-secret", port=bport)
        bob = subprocess.Popen(["sipp", "127.0.0.1:%d" % srv.port, "-sf", os.path.join(tmp, "uas.xml"),
                                "-i", "127.0.0.1", "-p", str(bport), "-nostdin",
                                "-mp", str(free_udp_block()), "-m", str(n),
                                "-max_recv_loops", "10000"],
                               stdout=open(os.path.join(tmp, "bob_out.log"), "w"),
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp)
        procs.append(bob)
        x = open(os.path.join(SCEN, "uac_call.xml")).read().replace("@CALLEE@", "bob")
        x = x.replace("@HOLD@", str(hold_ms))
        with open(os.path.join(tmp, "uac.xml"), "w") as f:
            f.write(x)
        time.sleep(1)
        before = settle(srv.proc.pid)
        hb = heap_in_use(srv)
        t0 = time.time()
        alice = sipp(tmp, "alice", os.path.join(tmp, "uac.xml"), srv.port,
                     ["-m", str(n), "-r", str(rate), "-l", str(n + 10)])
        procs.append(alice)
        # every call up, and the transactions of the last ones through
        # their wait timers (Timer L / K: 32 s / 5 s)
        time.sleep(establish + 34)
        during = max(rss_kb(srv.proc.pid) for _ in range(5) if time.sleep(0.2) is None)
        hd = heap_in_use(srv)
        up = srv.log().count("call answered") or n
        log("calls: %d of %d answered at the measurement" % (up, n))
        n = up
        log("calls: live heap %d kB -> %d kB: %.0f bytes per active bridged call"
            % (hb / 1024, hd / 1024, (hd - hb) / float(n)))
        log("calls: %d up (%.0f s to set up at %d/s); RSS %d kB -> %d kB: %.0f bytes per "
            "active bridged call (signalling only)" % (n, establish, rate, before, during,
                                                     (during - before) * 1024.0 / n))
        # cvoipd gives freed heap back after a burst (malloc_trim once the
        # transactions' memory stopped falling, src/server/registrar.c):
        # RSS again 10 s later, still before the first BYE (hold >= 60 s)
        time.sleep(10)
        later = max(rss_kb(srv.proc.pid) for _ in range(5) if time.sleep(0.2) is None)
        log("calls: RSS 10 s later (heap trimmed after the set-up burst): %d kB: %.0f bytes "
            "per active bridged call" % (later, (later - before) * 1024.0 / n))
    finally:
        for p in procs:
            p.kill()
            p.wait()
        srv.kill()


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("reg", "calls"):
        print(__doc__)
        sys.exit(2)
    n = int(sys.argv[2])
    rate = int(sys.argv[3]) if len(sys.argv) > 3 else (2000 if sys.argv[1] == "reg" else 500)
    tmp = tempfile.mkdtemp(prefix="cvoip-benchmem-")
    try:
        (bench_reg if sys.argv[1] == "reg" else bench_calls)(tmp, n, rate)
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


main()
