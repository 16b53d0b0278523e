#!/usr/bin/env python3
"""SIPp scenarios through cvoipd's B2BUA: SIPp as alice (caller, answers the
407 with digest) and SIPp as bob (callee UAS, registered by a digest
REGISTER sent from the port SIPp then listens on).

usage: test_sipp.py FLOW   (FLOW: see FLOWS below)"""
import os
import re
import sys
import time

from sipkit import SRC, Sipp, TestDb, log, register, run, start_cvoipd, stop_all, wait_for


def config(tmp, extra):
    """The demo configuration with `extra` YAML appended."""
    with open(os.path.join(SRC, "etc/cvoipd.demo.yaml")) as f:
        text = f.read()
    path = os.path.join(tmp, "cvoipd.yaml")
    with open(path, "w") as f:
        f.write(text + "\n" + extra)
    return path


def cdrs(srv):
    return srv.dbh.rows("select caller, callee, answer_us, end_reason, hangup_by from cdrs")


def bob_uas(tmp, srv, scenario, name="bob", subst=None):
    """A UAS registered as bob: REGISTER from port P, then SIPp on P."""
    uas = Sipp(tmp, name, scenario, srv.port, subst=dict({"DELAY": 300}, **(subst or {})))
    register(srv.port, "bob", "bob-secret", port=uas.port)
    return uas.start()


def alice(tmp, srv, scenario, callee="bob", **subst):
    return Sipp(tmp, "alice", scenario, srv.port,
                subst=dict({"CALLEE": callee, "HOLD": 500}, **subst)).start()


def one_cdr(srv, want):
    wait_for(lambda: len(cdrs(srv)) >= 1, 5, "CDR")
    rows = cdrs(srv)
    log("cdrs:", rows)
    assert len(rows) == 1, rows
    caller, callee, answer_us, reason, by = rows[0]
    got = (caller, callee, bool(answer_us), reason, by)
    assert got == want, "CDR %r, expected %r" % (got, want)


def media_ports(sipp):
    return {int(p) for p in re.findall(r"m=audio (\d+) ", sipp.messages())}


def flow_call(tmp, srv):
    bob = bob_uas(tmp, srv, "uas_answer.xml")
    a = alice(tmp, srv, "uac_call.xml")
    a.expect_ok()
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))
    # media anchored (the default): each side's SDP came to the other with
    # the relay's ports (media.rtp_port_min..max) instead of the peer's
    pa, pb = media_ports(a), media_ports(bob)
    log("m= ports seen by alice %s, by bob %s" % (sorted(pa), sorted(pb)))
    lo, hi = srv.rtp_range
    relay_a = {p for p in pa if lo <= p <= hi}
    relay_b = {p for p in pb if lo <= p <= hi}
    assert relay_a and relay_b and not relay_a & relay_b, (pa, pb)
    assert not (pa - relay_a) & pb and not (pb - relay_b) & pa, "an endpoint port crossed over"
    # the B leg carries the caller's Max-Forwards minus one
    assert "Max-Forwards: 69" in bob.messages(), "Max-Forwards not decremented"


def flow_404(tmp, srv):
    alice(tmp, srv, "uac_fail.xml", callee="nobody", STATUS=404).expect_ok()


def flow_480(tmp, srv):
    # carol exists but has no binding
    alice(tmp, srv, "uac_fail.xml", callee="carol", STATUS=480).expect_ok()


def flow_486(tmp, srv):
    bob = bob_uas(tmp, srv, "uas_busy.xml")
    alice(tmp, srv, "uac_fail.xml", STATUS=486).expect_ok()
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", False, "486 Busy Here", "callee"))


def flow_cancel(tmp, srv):
    bob = bob_uas(tmp, srv, "uas_ring.xml")
    alice(tmp, srv, "uac_cancel.xml").expect_ok()
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", False, "CANCEL", "caller"))


def flow_noanswer(tmp, srv):
    bob = bob_uas(tmp, srv, "uas_ring.xml")
    t0 = time.time()
    alice(tmp, srv, "uac_fail.xml", STATUS=480).expect_ok()
    took = time.time() - t0
    log("480 after %.1f s" % took)
    assert 1.5 <= took <= 6, "no-answer timer (2 s configured) took %.1f s" % took
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", False, "480 No Answer", "system"))


def flow_reinvite(tmp, srv):
    bob = bob_uas(tmp, srv, "uas_reinvite.xml")
    alice(tmp, srv, "uac_reinvite.xml").expect_ok()
    bob.expect_ok()
    assert "a=sendonly" in bob.messages(), "the re-INVITE's SDP did not reach bob"
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))


def flow_info(tmp, srv):
    bob = bob_uas(tmp, srv, "uas_info.xml")
    alice(tmp, srv, "uac_info.xml").expect_ok()
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))


def flow_update(tmp, srv):
    # UPDATE with SDP passed across, its answer back (RFC 3311)
    bob = bob_uas(tmp, srv, "uas_update.xml")
    a = alice(tmp, srv, "uac_update.xml")
    a.expect_ok()
    bob.expect_ok()
    assert "a=sendonly" in a.messages(), "the UPDATE's answer did not reach alice"
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))


def flow_bye_callee(tmp, srv):
    bob = bob_uas(tmp, srv, "uas_bye.xml")
    alice(tmp, srv, "uac_wait_bye.xml").expect_ok()
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", True, "BYE", "callee"))


def flow_fork(tmp, srv):
    # two contacts for bob: one rings and answers after 1 s, the other
    # rings until cancelled by the first one's 2xx
    ringer = bob_uas(tmp, srv, "uas_ring.xml", name="bob-ring")
    answerer = bob_uas(tmp, srv, "uas_answer.xml", name="bob-answer", subst={"DELAY": 1000})
    alice(tmp, srv, "uac_call.xml").expect_ok()
    answerer.expect_ok()
    ringer.expect_ok()
    assert "Call completed elsewhere" in ringer.messages(), "the losing fork's CANCEL has no Reason"
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))


def flow_late_offer(tmp, srv):
    # INVITE without SDP: bob's 200 has the offer, alice's ACK the answer,
    # which cvoipd must carry into its ACK to bob (rewritten for the relay)
    bob = bob_uas(tmp, srv, "uas_late.xml")
    alice(tmp, srv, "uac_late.xml").expect_ok()
    bob.expect_ok()
    lo, hi = srv.rtp_range
    ports = media_ports(bob)
    assert any(lo <= p <= hi for p in ports), ports
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))


def flow_stop_pending(tmp, srv):
    # cvoipd stops while a relayed re-INVITE waits for bob: alice gets 503,
    # and the stop is clean (no leak, no live object)
    bob = bob_uas(tmp, srv, "uas_reinvite_hang.xml")
    a = alice(tmp, srv, "uac_reinvite_stop.xml")
    wait_for(lambda: bob.messages().count("\nINVITE sip:") >= 2, 10, "the re-INVITE at bob")
    srv.stop()
    a.expect_ok()
    bob.stop()
    return True  # stopped here, with the call up on purpose


def flow_reinvite_488(tmp, srv):
    # a refused re-INVITE leaves the call up (RFC 3261 §14.1)
    bob = bob_uas(tmp, srv, "uas_reinvite_488.xml")
    alice(tmp, srv, "uac_reinvite_488.xml").expect_ok()
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))


def flow_cancel_race(tmp, srv):
    # bob's 2xx crosses alice's CANCEL: alice gets 487, bob's leg is ACKed
    # and ended with BYE (RFC 3261 §9.1 / §13.2.2.4)
    bob = bob_uas(tmp, srv, "uas_cancel_race.xml")
    alice(tmp, srv, "uac_cancel.xml").expect_ok()
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", False, "CANCEL", "caller"))


def flow_prack(tmp, srv):
    # RFC 3262 across the B2BUA: bob's reliable 183 reaches alice reliably
    # (Require: 100rel and cvoipd's own RSeq), her PRACK reaches bob with
    # bob's RAck (the scenarios check both), the call then completes
    bob = bob_uas(tmp, srv, "uas_prack.xml")
    a = alice(tmp, srv, "uac_prack.xml")
    a.expect_ok()
    bob.expect_ok()
    assert "PRACK sip:" in bob.messages(), "no PRACK at bob"
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))


def flow_refer(tmp, srv):
    # an in-dialog REFER (blind transfer) passed across: Refer-To and
    # Referred-By reach bob, his 202 and his NOTIFY (Event, Subscription-
    # State, message/sipfrag body) reach alice (the scenarios check them)
    bob = bob_uas(tmp, srv, "uas_refer.xml")
    alice(tmp, srv, "uac_refer.xml").expect_ok()
    bob.expect_ok()
    one_cdr(srv, ("alice", "bob", True, "BYE", "caller"))


FLOWS = {
    "call": (flow_call, ""),
    "404": (flow_404, ""),
    "480": (flow_480, ""),
    "486": (flow_486, ""),
    "cancel": (flow_cancel, ""),
    "noanswer": (flow_noanswer, "routing:\n  no_answer_timeout: 2s\n"),
    "reinvite": (flow_reinvite, ""),
    "info": (flow_info, ""),
    "update": (flow_update, ""),
    "bye_callee": (flow_bye_callee, ""),
    "fork": (flow_fork, ""),
    "reinvite_488": (flow_reinvite_488, ""),
    "cancel_race": (flow_cancel_race, ""),
    "late_offer": (flow_late_offer, ""),
    "stop_pending": (flow_stop_pending, ""),
    "prack": (flow_prack, ""),
    "refer": (flow_refer, ""),
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in FLOWS:
        print("usage: test_sipp.py {%s}" % "|".join(FLOWS))
        sys.exit(2)
    fn, extra = FLOWS[sys.argv[1]]

    def test(tmp):
        srv = start_cvoipd(tmp, TestDb(tmp), config=config(tmp, extra) if extra else None)
        try:
            stopped = fn(tmp, srv)
        except BaseException:
            stop_all()
            srv.kill()
            raise
        stop_all()
        if not stopped:
            srv.stop()
            # a call still up at shutdown was leaked by the B2BUA
            assert 'reason="shutdown"' not in srv.log(), "a call was left over at shutdown"

    run(test)


main()
