#!/usr/bin/python3
"""Bad-input and flood checks against tp_server (see tp_limits.sh for the
limits it runs with). Every step is bounded in count and time.

usage: limits_client.py TCP_PORT TLS_PORT WS_PORT UDP_PORT
"""
import socket
import ssl
import sys
import time
import uuid

TCP, TLS, WS, UDP = (int(x) for x in sys.argv[1:5])
HOST = "127.0.0.1"


def options(transport="TCP", cid=None):
    cid = cid or uuid.uuid4().hex
    return (f"OPTIONS sip:ping@{HOST} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} {HOST}:5999;branch=z9hG4bK{cid[:12]};rport\r\n"
            f"From: <sip:lim@test.invalid>;tag={cid[:6]}\r\n"
            f"To: <sip:ping@{HOST}>\r\nCall-ID: {cid}\r\nCSeq: 1 OPTIONS\r\n"
            f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


def conn(port, src=HOST, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((HOST, port))
    return s


def closed_within(s, secs):
    """True when the peer closes s within secs (reads and drops data)."""
    end = time.time() + secs
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not d:
            return True
    return False


def answered(s, expect=b"SIP/2.0 200"):
    s.settimeout(3)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return False
        buf += d
    return buf.startswith(expect)


def check(name, ok):
    print(("ok   " if ok else "FAIL ") + name, flush=True)
    if not ok:
        sys.exit(1)


# keep-alive: RFC 5626 §4.4.1 CRLFCRLF ping -> CRLF pong
s = conn(TCP)
s.sendall(b"\r\n\r\n")
s.settimeout(3)
check("crlf ping -> pong", s.recv(16) == b"\r\n")
s.sendall(options())
check("message after ping answered", answered(s))
s.close()

# a message split into single bytes still frames
s = conn(TCP)
for b in options():
    s.send(bytes([b]))
check("byte-by-byte message answered", answered(s))
s.close()

# partial message that stalls -> closed after the partial timeout
s = conn(TCP)
s.sendall(options()[:60])
t0 = time.time()
check("stalled partial message dropped", closed_within(s, 3))
print(f"     closed after {time.time() - t0:.2f}s")
s.close()

# oversized (Content-Length beyond the limit) -> closed
s = conn(TCP)
s.sendall(options().replace(b"Content-Length: 0", b"Content-Length: 100000"))
check("oversized message closes", closed_within(s, 2))
s.close()

# garbage that can never frame -> closed
s = conn(TCP)
s.sendall(b"HELLO\r\nContent-Length: x\r\n\r\n")
check("garbage closes", closed_within(s, 2))
s.close()

# idle -> closed after the idle timeout
s = conn(TCP)
check("idle connection closed", closed_within(s, 4))
s.close()

# truncated TLS handshake -> closed after the handshake timeout
s = conn(TLS)
s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
check("truncated TLS handshake closed", closed_within(s, 3))
s.close()

# TLS garbage -> closed at once
s = conn(TLS)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
check("TLS garbage closed", closed_within(s, 2))
s.close()

# WebSocket frame that never finishes -> closed after the partial timeout
s = conn(WS)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
s.settimeout(3)
head = s.recv(4096)
check("ws upgrade 101", head.startswith(b"HTTP/1.1 101"))
s.sendall(bytes([0x81, 0x80 | 100]) + b"\x01\x02\x03\x04" + b"0123456789")
check("unfinished ws frame closed", closed_within(s, 3))
s.close()

# oversized HTTP upgrade head -> rejected
s = conn(WS)
s.sendall(b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n")
check("oversized upgrade rejected", closed_within(s, 2))
s.close()

# connection flood from one address: bounded by max_conns_per_ip
socks, t0 = [], time.time()
for i in range(200):
    try:
        socks.append(conn(TCP, timeout=1))
    except OSError:
        pass
time.sleep(0.5)
alive = 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(1)
        alive += 0 if d == b"" else 1
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print(f"     flood: {len(socks)} connects, {alive} kept, {time.time() - t0:.2f}s")
check("per-address limit holds", 0 < alive <= 20)
# another address is not affected
o = conn(TCP, src="127.0.0.2")
o.sendall(options())
check("other client unaffected during flood", answered(o))
o.close()
# total limit across addresses
more = []
for a in range(3, 8):
    for i in range(20):
        try:
            more.append(conn(TCP, src=f"127.0.0.{a}", timeout=1))
        except OSError:
            pass
time.sleep(0.5)
alive2 = 0
for s in more:
    s.setblocking(False)
    try:
        d = s.recv(1)
        alive2 += 0 if d == b"" else 1
    except BlockingIOError:
        alive2 += 1
    except OSError:
        pass
print(f"     total: {alive + alive2} kept of {len(socks) + len(more)}")
check("max_conns holds", alive + alive2 <= 50)
for s in socks + more:
    s.close()
time.sleep(0.3)

# slow reader: pipelined requests, never read -> closed when the send
# queue bound is hit; bounded to 20000 requests
for attempt in range(20):  # the flood's slots are released asynchronously
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # before connect
    s.connect((HOST, TCP))
    s.sendall(options())
    try:
        if answered(s):
            break
    except OSError:
        pass
    s.close()
    time.sleep(0.2)
s.settimeout(3)
# Responses copy every Via: a 2.8 KB second Via makes each answer ~3 KB, so
# the kernel buffers (MBs on loopback) fill after a few thousand requests.
pad = (b"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKpad;x=" + b"a" * 2800
       + b"\r\n")
batch = b"".join(options().replace(b"From:", pad + b"From:", 1)
                 for _ in range(100))
closed = False
t0 = time.time()
for i in range(200):
    try:
        s.sendall(batch)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
        break
    except socket.timeout:
        pass
    if time.time() - t0 > 15:
        break
if not closed:
    closed = closed_within(s, 3)
check("slow reader closed at the send-queue bound", closed)
s.close()

# UDP: oversized datagram and garbage are dropped; service goes on
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
u.sendto(options("UDP") + b"x" * 5000, (HOST, UDP))
u.sendto(b"\x00\x01garbage" * 10, (HOST, UDP))
u.sendto(options("UDP"), (HOST, UDP))
d, _ = u.recvfrom(65536)
check("udp served after oversized and garbage", d.startswith(b"SIP/2.0 200"))

s = conn(TCP)
s.sendall(options())
check("service fine at the end", answered(s))
s.close()
