#!/usr/bin/python3
"""Requests the parser rejects, against tp_server's stateless responder
(RFC 3261 §8.2.6.2, §21.4.1): answered with the parser's verdict when Via,
From, To, Call-ID and CSeq can be recovered, dropped otherwise (and never
for ACK or responses). Prints the number answered and dropped for
tp_badreq.sh to compare with the server's counters. Bounded in time.

usage: badreq_client.py UDP_PORT TCP_PORT
"""
import socket
import sys
import uuid

UDP, TCP = (int(x) for x in sys.argv[1:3])
HOST = "127.0.0.1"
answered = dropped = 0


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        sys.exit(1)


def req(tp, method="OPTIONS", cid=None, mf="70", cseq=None, extra="",
        via_extra="", version="SIP/2.0", drop=()):
    cid = cid or uuid.uuid4().hex
    lines = [f"{method} sip:bad@{HOST} {version}",
             f"Via: SIP/2.0/{tp} {HOST}:5999;branch=z9hG4bK{cid[:12]};rport{via_extra}",
             f"From: \"Bad\" <sip:bad@test.invalid>;tag={cid[:6]}",
             f"To: <sip:bad@{HOST}>",
             f"Call-ID: {cid}",
             f"CSeq: {cseq or ('7 ' + method)}",
             f"Max-Forwards: {mf}"]
    lines = [l for l in lines if not any(l.startswith(d) for d in drop)]
    return ("\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n").encode(), cid


def headers(resp):
    head = resp.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    return lines[0], lines[1:]


def hdr(lines, name):
    return [l.split(":", 1)[1].strip() for l in lines if l.split(":", 1)[0].lower() == name]


u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((HOST, 0))
uport = u.getsockname()[1]


def udp(msg, wait=2.0):
    u.settimeout(wait)
    u.sendto(msg, (HOST, UDP))
    try:
        return u.recv(65536)
    except socket.timeout:
        return None


def expect_answer(name, msg, cid, status, reason_part):
    global answered
    r = udp(msg)
    check(name + " answered", r is not None)
    first, lines = headers(r)
    check(name + " status", first.startswith(f"SIP/2.0 {status} ") and reason_part in first, first)
    check(name + " Call-ID", hdr(lines, "call-id") == [cid])
    to = hdr(lines, "to")
    check(name + " To tag", len(to) == 1 and ";tag=sl" in to[0], str(to))
    via = hdr(lines, "via")
    check(name + " Via received/rport",
          f"rport={uport}" in via[0] and f"received={HOST}" in via[0], via[0])
    answered += 1
    return lines


def expect_drop(name, msg):
    global dropped
    check(name + " dropped", udp(msg, 0.7) is None)
    dropped += 1


# 400 with the parser's reason; every header a response needs copied
m, cid = req("UDP", mf="abc")
lines = expect_answer("bad Max-Forwards", m, cid, 400, "Max-Forwards")
check("CSeq copied", hdr(lines, "cseq") == ["7 OPTIONS"])
check("From copied", hdr(lines, "from") == [f"\"Bad\" <sip:bad@test.invalid>;tag={cid[:6]}"])

# the same request again: the same To tag (a retransmission)
first_to = hdr(lines, "to")
r = udp(m)
check("retransmission gets the same To tag", hdr(headers(r)[1], "to") == first_to)
answered += 1

m, cid = req("UDP", method="INVITE", cseq="1 BYE")
expect_answer("CSeq method mismatch", m, cid, 400, "CSeq")

m, cid = req("UDP", version="SIP/3.0")
expect_answer("SIP/3.0", m, cid, 505, "Version")

# several Via lines and values: all of them, in order
m, cid = req("UDP", mf="x", extra="Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKb, "
             "SIP/2.0/TCP 10.0.0.3;branch=z9hG4bKc\r\n",
             via_extra=",SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa")
lines = expect_answer("three Via", m, cid, 400, "Max-Forwards")
via = hdr(lines, "via")
check("Via values in order", len(via) == 2 and "10.0.0.1:5070" in via[0] and
      via[1] == "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKb, SIP/2.0/TCP 10.0.0.3;branch=z9hG4bKc",
      str(via))

# compact header names, folded value
cid = uuid.uuid4().hex
m = (f"MESSAGE sip:bad@{HOST} SIP/2.0\r\nv: SIP/2.0/UDP {HOST}:5999;branch=z9hG4bK{cid[:10]};rport\r\n"
     f"f: <sip:a@test.invalid>\r\n ;tag=ff1\r\nt: <sip:bad@{HOST}>\r\ni: {cid}\r\n"
     f"CSeq: 3 MESSAGE\r\nl: zz\r\n\r\n").encode()
lines = expect_answer("compact forms, bad Content-Length", m, cid, 400, "Content-Length")
frm = hdr(lines, "from")
check("folded From unfolded", len(frm) == 1 and "\r" not in frm[0] and
      " ".join(frm[0].split()) == "<sip:a@test.invalid> ;tag=ff1", str(frm))

# a To tag already present is kept (no second tag)
m, cid = req("UDP", mf="-1", drop=("To:",), extra=f"To: <sip:bad@{HOST}>;tag=abc\r\n")
r = udp(m)
check("To tag kept", r is not None and hdr(headers(r)[1], "to") == [f"<sip:bad@{HOST}>;tag=abc"])
answered += 1

# cannot be answered: dropped and counted
m, _ = req("UDP", mf="abc", drop=("Call-ID",))
expect_drop("no Call-ID", m)
m, _ = req("UDP", drop=("Via",))
expect_drop("no Via", m)
m, cid = req("UDP", mf="abc")
expect_drop("malformed Via", m.replace(b"Via: SIP/2.0/UDP", b"Via: SIP/2.0/UDP ;;"))
m, _ = req("UDP", method="ACK", mf="abc")
expect_drop("ACK", m)
m, _ = req("UDP", mf="abc", cseq="1 ACK", method="ACK", version="SIP/3.0")
expect_drop("ACK with a bad version", m)
expect_drop("response", b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4\r\nCSeq: x\r\n\r\n")
expect_drop("control bytes", req("UDP", mf="abc", cseq="1\x01 OPTIONS")[0])

# CR/LF-only datagrams (RFC 3261 §7.5, RFC 5626 keep-alives): ignored and
# not counted as garbage (the shell compares rej_garbage with `dropped`)
u.sendto(b"\r\n" * 5, (HOST, UDP))
u.sendto(b"\r\n\r\n", (HOST, UDP))

# RFC 5626 §4.4.2 STUN keep-alive on the SIP port: a Binding success
# response whose XOR-MAPPED-ADDRESS is our address (RFC 5389 §15.2)
import os
import struct
tid = os.urandom(12)
u.settimeout(2)
u.sendto(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid, (HOST, UDP))
r = u.recv(2048)
typ, alen, cookie = struct.unpack("!HHI", r[:8])
check("STUN Binding success", typ == 0x0101 and cookie == 0x2112A442 and r[8:20] == tid
      and alen + 20 == len(r))
atype, l2 = struct.unpack("!HH", r[20:24])
fam, xport = struct.unpack("!xBH", r[24:28])
xaddr = bytes(a ^ c for a, c in zip(r[28:32], struct.pack("!I", 0x2112A442)))
check("STUN XOR-MAPPED-ADDRESS", atype == 0x0020 and fam == 1 and
      xport ^ 0x2112 == uport and socket.inet_ntoa(xaddr) == HOST)
# a STUN message that is not a Binding request is absorbed silently
u.sendto(struct.pack("!HHI", 0x0111, 0, 0x2112A442) + tid, (HOST, UDP))

# the service goes on
m, _ = req("UDP")
r = udp(m)
check("good OPTIONS still 200", r is not None and r.startswith(b"SIP/2.0 200"))

# TCP: the verdict goes back on the connection, which stays open
s = socket.create_connection((HOST, TCP), timeout=3)
m, cid = req("TCP", mf="300")
s.sendall(m)
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65536)
    check("TCP connection open", bool(d))
    buf += d
first, lines = headers(buf)
check("TCP 400", first.startswith("SIP/2.0 400") and hdr(lines, "call-id") == [cid], first)
answered += 1
m, _ = req("TCP")
s.sendall(m)
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65536)
    check("TCP connection still open", bool(d))
    buf += d
check("TCP OPTIONS after a 400", buf.startswith(b"SIP/2.0 200"))
s.close()
print(f"answered={answered} dropped={dropped}", flush=True)
