#!/usr/bin/env python3
"""cvoip as transferee (`cvoip answer`) between scripted peers on raw UDP
(RFC 3515, RFC 3892): a REFER with an unparseable Refer-To gets 400, a
NOTIFY with no subscription 481; a good REFER gets 202 and a NOTIFY
"SIP/2.0 100 Trying" (Event: refer, message/sipfrag); cvoip calls the
Refer-To target with Referred-By, reports its 180 and 200 in NOTIFYs (the
last one terminating the subscription), then hangs up the transferor."""
import re

from sipwire import Peer, free_port, log, run, sdp
from test_cli_call import Answerer


def test(tmp):
    port = free_port()
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "440",
                         "--max-calls", "1"])
    ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
    b = ("127.0.0.1", port)
    a = Peer("alice")
    c = Peer("carol")
    ruri = "sip:bob@127.0.0.1:%d" % port
    a.request(b, "INVITE", ruri, "xfer-1", "atag", 1, ruri, body=sdp(a.rtp_port))
    ok = a.expect(5, lambda m: m.status == 200 and m.cseq_method == "INVITE", "200")
    a.in_dialog(b, "ACK", ok, 1)
    resp = lambda meth: (lambda m: m.status and m.cseq_method == meth)

    a.in_dialog(b, "REFER", ok, 2, extra="Refer-To: <not a uri>\r\n")
    r = a.expect(3, resp("REFER"), "400 to REFER")
    assert r.status == 400, r
    a.in_dialog(b, "NOTIFY", ok, 3, body="SIP/2.0 200 OK\r\n", ctype="message/sipfrag",
                extra="Event: refer\r\nSubscription-State: terminated\r\n")
    r = a.expect(3, resp("NOTIFY"), "481 to NOTIFY")
    assert r.status == 481, r
    log("bad REFER 400, stray NOTIFY 481: ok")

    a.in_dialog(b, "REFER", ok, 4, extra="Refer-To: <%s>\r\nReferred-By: <sip:alice@127.0.0.1>\r\n"
                % c.uri())
    r = a.expect(3, resp("REFER"), "202 to REFER")
    assert r.status == 202, r
    notes = []

    def notify(status):
        n = a.expect(5, lambda m: m.method == "NOTIFY", "NOTIFY %d" % status)
        a.respond(n, 200, "OK")
        assert re.match(r"refer(;id=4)?$", n.h("event").replace(" ", "")), n
        assert n.h("content-type").startswith("message/sipfrag"), n
        assert n.body.startswith("SIP/2.0 %d" % status), n
        notes.append(n.h("subscription-state"))
        return n
    notify(100)
    inv = c.expect(5, lambda m: m.method == "INVITE", "INVITE at the target")
    assert inv.h("referred-by") == "<sip:alice@127.0.0.1>", inv
    c.respond(inv, 180, "Ringing", to_tag="ctag")
    notify(180)
    c.respond(inv, 200, "OK", to_tag="ctag", body=sdp(c.rtp_port))
    c.expect(3, lambda m: m.method == "ACK", "ACK at the target")
    notify(200)
    assert notes[0].startswith("active") and notes[-1].startswith("terminated"), notes
    bye = a.expect(5, lambda m: m.method == "BYE", "BYE to the transferor")
    a.respond(bye, 200, "OK")
    log("REFER 202, NOTIFY 100/180/200, BYE to the transferor: ok")

    # the transfer target hangs up: the answerer's call is over
    c.in_dialog(b, "BYE", inv, 1, ours_is_from=False, local_tag="ctag")
    r = c.expect(3, lambda m: m.status and m.cseq_method == "BYE", "200 to BYE")
    assert r.status == 200, r
    assert ans.finish(10) == 0, open(ans.out).read()
    assert [e for e in ans.events() if e.get("event") == "transferred"], ans.events()


if __name__ == "__main__":
    run(test)
