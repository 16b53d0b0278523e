#!/usr/bin/env python3
"""The SIPp scenario suite of issue 7: each scenario of tests/session/sipp/
against sess_ua (a scriptable UA on the session API, tests/session/sess_ua.c)
on the other side, in both roles.

  test_sipp_suite.py uas   cvoip is the UAS (SIPp scenarios uac_*.xml)
  test_sipp_suite.py uac   cvoip is the UAC (SIPp scenarios uas_*.xml)
  test_sipp_suite.py ROLE NAME...   only those cases

A case passes when SIPp runs its scenario to the end (every response,
header and SDP check in it held) and sess_ua printed the events expected
(state changes with their status, negotiated direction, DTMF...) and ended.
Every wait is bounded; each case takes a second or two."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from cvtest import BIN, free_port, log, run  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
UA = os.path.join(BIN, "sess_ua")

# name, scenario, sess_ua arguments, regexes its output must match in order,
# extra SIPp arguments
UAS_CASES = [
    ("basic", "uac_basic", [], [r"incoming", r"media sendrecv", r"state answered 200",
                                r"state ended \d+ BYE"]),
    ("cancel", "uac_cancel", ["--ring-ms", "10000"],
     [r"state ringing 180", r"state ended 487"]),
    ("reject_486", "uac_reject", ["--reject", "486"], [r"state ended 486"]),
    ("reject_603", "uac_reject", ["--reject", "603"], [r"state ended 603"]),
    ("hold_resume", "uac_hold", [], [r"media sendrecv", r"state answered", r"media recvonly",
                                     r"media sendrecv", r"state ended"]),
    ("update", "uac_update", [], [r"state answered", r"media recvonly", r"state ended"]),
    ("info_dtmf", "uac_info", [], [r"state answered", r"dtmf 7", r"state ended"]),
    ("session_timer", "uac_timer", ["--min-se", "2", "--session-expires", "90"],
     [r"se 4 we", r"state ended"]),
    ("session_timer_422", "uac_timer_422", ["--min-se", "2", "--session-expires", "90"],
     [r"state answered", r"se 2", r"state ended"]),
    ("session_timer_uas_inserted", "uac_se_insert", ["--session-expires", "1800"],
     [r"se 1800 we", r"state ended"]),
    ("bye_from_cvoip", "uac_bye_from_ua", ["--bye-ms", "300"],
     [r"state answered", r"state ended"]),
    ("unknown_dialog_481", "uac_481", [], [r"state answered", r"state ended"]),
    ("cseq_500", "uac_cseq", [], [r"state answered", r"state ended"]),
    ("glare_491", "uac_491", ["--hold-ms", "300"],
     [r"state answered", r"media sendonly", r"state ended"]),
    ("glare_491_retry", "uac_491_retry", ["--hold-ms", "300"],
     [r"state answered", r"media sendonly", r"state ended"]),
    ("unanswerable_488", "uac_488", [], [r"state ended 488"]),
    ("early_media_183", "uac_early", ["--early", "--ring-ms", "500"],
     [r"media sendrecv", r"state early 183", r"state answered 200", r"state ended"]),
    ("early_media_183_100rel", "uac_early_100rel", ["--early", "--ring-ms", "500"],
     [r"media sendrecv", r"state early 183", r"state answered 200", r"state ended"]),
    # answered at once: the 200 waits for the PRACK of the 183 (RFC 3262 §3)
    ("early_media_answer_waits_prack", "uac_early_100rel", ["--early", "--ring-ms", "0"],
     [r"media sendrecv", r"state early 183", r"state answered 200", r"state ended"]),
    ("prack_offer", "uac_prack_offer", ["--early", "--ring-ms", "500"],
     [r"media sendrecv", r"state early 183", r"media recvonly", r"state answered 200",
      r"state ended"]),
    ("late_offer_in_183", "uac_late_offer_early", ["--early", "--ring-ms", "500"],
     [r"state early 183", r"media sendrecv", r"state answered 200", r"state ended"]),
    ("update_early_dialog", "uac_early_update", ["--early", "--ring-ms", "800"],
     [r"media sendrecv", r"state early 183", r"media recvonly", r"state answered 200",
      r"state ended"]),
]

UAC_CASES = [
    ("basic", "uas_basic", ["--bye-ms", "300"],
     [r"state ringing 180", r"media sendrecv", r"state answered 200", r"state ended"]),
    ("bye_from_sipp", "uas_bye", [], [r"state answered 200", r"state ended \d+ BYE"]),
    ("reject_486", "uas_reject_486", [], [r"state ended 486"]),
    ("reject_603", "uas_reject_603", [], [r"state ended 603"]),
    ("cancel", "uas_cancel", ["--cancel-ms", "800"], [r"state ringing 180", r"state ended"]),
    ("redirect_302", "uas_redirect", ["--bye-ms", "300"],
     [r"redirect sip:second@127\.0\.0\.1:\d+ 302", r"state answered 200", r"state ended"]),
    ("auth_401", "uas_auth_401", ["--auth", "alice:secret", "--bye-ms", "300"],
     [r"state answered 200", r"state ended"]),
    ("auth_407", "uas_auth_407", ["--auth", "alice:secret", "--bye-ms", "300"],
     [r"state answered 200", r"state ended"]),
    ("hold_resume", "uas_hold", ["--hold-ms", "300", "--resume-ms", "900", "--bye-ms", "1500"],
     [r"state answered", r"media sendonly", r"media sendrecv", r"state ended"]),
    ("hold_update", "uas_update", ["--hold-ms", "300", "--update", "--bye-ms", "900"],
     [r"state answered", r"media sendonly", r"state ended"]),
    ("info_dtmf", "uas_info", ["--dtmf-ms", "300", "--digit", "9", "--bye-ms", "900"],
     [r"state answered", r"state ended"]),
    ("session_timer", "uas_timer", ["--min-se", "1", "--session-expires", "90",
                                    "--bye-ms", "3500"],
     [r"state answered", r"state ended"]),
    ("forking", "uas_fork", ["--bye-ms", "800"],
     [r"state ringing 180", r"state answered 200", r"state ended"]),
]


def start_sipp(tmp, scenario, args):
    err = os.path.join(tmp, scenario + ".err")
    msgs = os.path.join(tmp, scenario + ".msg")
    cmd = ["sipp", "-sf", os.path.join(HERE, scenario + ".xml"), "-m", "1", "-i", "127.0.0.1",
           "-timeout", "25s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", err,
           "-trace_msg", "-message_file", msgs] + args
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=tmp)


def start_ua(tmp, name, args):
    out = open(os.path.join(tmp, name + ".ua"), "w")
    p = subprocess.Popen([UA, "--timeout-ms", "25000"] + args, stdout=out,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    p.out_path = out.name
    p.out_file = out
    return p


def ua_text(p):
    p.out_file.flush()
    with open(p.out_path, errors="replace") as f:
        return f.read()


def wait_line(p, rx, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if re.search(rx, ua_text(p), re.M):
            return
        if p.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError("sess_ua did not print %r:\n%s" % (rx, ua_text(p)))


def wait_bound(port, sp, timeout=10):
    """Until SIPp has bound its UDP port (our own bind then fails): an
    INVITE sent earlier would meet an ICMP port unreachable."""
    end = time.time() + timeout
    while time.time() < end and sp.poll() is None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return
        finally:
            s.close()
        time.sleep(0.05)
    raise AssertionError("port %d not bound (process exit %s)" % (port, sp.poll()))


def kill(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def check(tmp, name, scenario, sp, ua, expect):
    try:
        rc = sp.wait(timeout=40)
    except subprocess.TimeoutExpired:
        rc = "timeout"
    try:
        urc = ua.wait(timeout=15)
    except subprocess.TimeoutExpired:
        urc = "timeout"
    text = ua_text(ua)
    errf = os.path.join(tmp, scenario + ".err")
    errs = open(errf, errors="replace").read()[-3000:] if os.path.exists(errf) else ""
    assert rc == 0, "%s: sipp %s exit %s\n%s\nsess_ua:\n%s" % (name, scenario, rc, errs, text)
    assert urc == 0, "%s: sess_ua exit %s:\n%s" % (name, urc, text)
    pos = 0
    for rx in expect:
        m = re.compile(rx, re.M).search(text, pos)
        assert m, "%s: sess_ua output lacks %r after position %d:\n%s" % (name, rx, pos, text)
        pos = m.end()


def case_uas(tmp, name, scenario, ua_args, expect, sipp_args=()):
    port = free_port()
    ua = start_ua(tmp, "uas_" + name, ["--listen", "udp:127.0.0.1:%d" % port] + ua_args)
    sp = None
    try:
        wait_line(ua, r"^listening", 10)
        sp = start_sipp(tmp, scenario, ["-p", str(free_port()), "127.0.0.1:%d" % port] +
                        list(sipp_args))
        check(tmp, name, scenario, sp, ua, expect)
    finally:
        if sp:
            kill(sp)
        kill(ua)


def case_uac(tmp, name, scenario, ua_args, expect, sipp_args=()):
    sport = free_port()
    sp = start_sipp(tmp, scenario, ["-p", str(sport)] + list(sipp_args))
    ua = None
    try:
        wait_bound(sport, sp)
        ua = start_ua(tmp, "uac_" + name, ["--listen", "udp:127.0.0.1:%d" % free_port(),
                                           "--call", "sip:sipp@127.0.0.1:%d" % sport] + ua_args)
        check(tmp, name, scenario, sp, ua, expect)
    finally:
        kill(sp)
        if ua:
            kill(ua)


KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def kamailio_bin():
    return shutil.which("kamailio") or ("/usr/sbin/kamailio" if os.path.exists(
        "/usr/sbin/kamailio") else None)


def case_fork_proxy(tmp):
    """cvoip UAC -> Kamailio forking to two SIPp UASs: both ring (two
    early dialogs), A answers, the proxy CANCELs B (200, 487, ACK), the
    call with A goes on and the UAC's BYE reaches A through the route."""
    kport, pa, pb = free_port(), free_port(), free_port()
    cfg = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "kamailio_fork.cfg")).read()
    cfg = cfg.replace('"FORK_A"', '"sip:a@127.0.0.1:%d"' % pa)
    cfg = cfg.replace('"FORK_B"', '"sip:b@127.0.0.1:%d"' % pb)
    kdir = os.path.join(tmp, "kam")
    os.makedirs(kdir, exist_ok=True)
    cfgp = os.path.join(kdir, "fork.cfg")
    open(cfgp, "w").write(cfg)
    logf = open(os.path.join(kdir, "log"), "w")
    kam = subprocess.Popen([kamailio_bin(), "-f", cfgp, "-L", KAMAILIO_MODULES, "-DD", "-E",
                            "-l", "udp:127.0.0.1:%d" % kport, "-m", "64", "-M", "8", "-Y", kdir],
                           stdout=logf, stderr=subprocess.STDOUT)
    sa = start_sipp(tmp, "uas_fork_answer", ["-p", str(pa)])
    sb = start_sipp(tmp, "uas_fork_ring", ["-p", str(pb)])
    ua = None
    try:
        for port, p in ((kport, kam), (pa, sa), (pb, sb)):
            wait_bound(port, p)
        ua = start_ua(tmp, "uac_fork_proxy", ["--listen", "udp:127.0.0.1:%d" % free_port(),
                                              "--call", "sip:fork@127.0.0.1:%d" % kport,
                                              "--bye-ms", "800"])
        check(tmp, "fork_proxy B", "uas_fork_ring", sb, ua, [])
        check(tmp, "fork_proxy", "uas_fork_answer", sa, ua,
              [r"state ringing 180", r"state answered 200", r"state ended"])
    finally:
        for p in (sa, sb) + ((ua,) if ua else ()):
            kill(p)
        kam.send_signal(signal.SIGTERM)
        try:
            kam.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kam.kill()
            kam.wait()
        logf.close()


def case_many_dialogs(tmp, n=5000):
    """n calls held at once (SIPp built-in uac, -d 10 s) against one
    cvoip UAS: the UA core's dialog table (4,096 buckets at first) grows
    and rehashes while calls come and go; every BYE must still find its
    dialog (a 481 fails SIPp's call)."""
    port = free_port()
    ua = start_ua(tmp, "uas_many", ["--listen", "udp:127.0.0.1:%d" % port, "--multi",
                                    "--calls", str(n), "--timeout-ms", "90000"])
    sp = None
    try:
        wait_line(ua, r"^listening", 10)
        err = os.path.join(tmp, "many.err")
        sp = subprocess.Popen(["sipp", "-sn", "uac", "-i", "127.0.0.1", "-p", str(free_port()),
                               "127.0.0.1:%d" % port, "-r", "1000", "-rp", "1000", "-m", str(n),
                               "-l", str(n + 100), "-d", "10000", "-timeout", "80s",
                               "-timeout_error", "-nostdin", "-trace_err", "-error_file", err,
                               "-max_socket", "65000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, cwd=tmp)
        rc = sp.wait(timeout=100)
        errs = open(err, errors="replace").read()[-2000:] if os.path.exists(err) else ""
        assert rc == 0, "sipp uac exit %s\n%s" % (rc, errs)
        assert ua.wait(timeout=20) == 0, ua_text(ua)
        m = re.search(r"^max_dialogs (\d+)", ua_text(ua), re.M)
        assert m and int(m.group(1)) > 4096, ua_text(ua)
        return int(m.group(1))
    finally:
        if sp:
            kill(sp)
        kill(ua)


def main(tmp):
    role = sys.argv[1] if len(sys.argv) > 1 else "uas"
    only = set(sys.argv[2:])
    cases, fn = (UAS_CASES, case_uas) if role == "uas" else (UAC_CASES, case_uac)
    n = 0
    for c in cases:
        if only and c[0] not in only:
            continue
        t0 = time.time()
        fn(tmp, *c)
        n += 1
        log("cvoip %s, %s (%s.xml): ok in %.1f s" % (role.upper(), c[0], c[1], time.time() - t0))
    if role == "uas" and (not only or "many_dialogs" in only):
        t0 = time.time()
        most = case_many_dialogs(tmp)
        n += 1
        log("cvoip UAS, many_dialogs (5000 calls, %d dialogs at once, SIPp -sn uac): ok in %.1f s"
            % (most, time.time() - t0))
    if role == "uac" and (not only or "fork_proxy" in only):
        if kamailio_bin():
            t0 = time.time()
            case_fork_proxy(tmp)
            n += 1
            log("cvoip UAC, fork_proxy (Kamailio forking to uas_fork_answer.xml and "
                "uas_fork_ring.xml): ok in %.1f s" % (time.time() - t0))
        else:
            log("cvoip UAC, fork_proxy: skipped (no kamailio)")
    assert n, "no case ran"


if __name__ == "__main__":
    run(main)
