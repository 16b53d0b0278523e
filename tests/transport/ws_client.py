#!/usr/bin/python3
"""SIP over WebSocket (RFC 7118) checks against tp_server with python3-websockets.

usage: ws_client.py ws://127.0.0.1:PORT [--ca ca.pem]
Checks: subprotocol "sip" negotiated; OPTIONS -> 200 (one message per
frame); INVITE -> 501; ping -> pong; oversized frame -> close 1009;
no "sip" subprotocol on an unknown path -> 404; /echo is the
application WebSocket on the same listener; clean close handshake (1000).
Exits non-zero on the first failure. Bounded: every wait has a timeout.
"""
import asyncio
import ssl
import sys
import uuid

import websockets

URL = sys.argv[1]
CA = sys.argv[sys.argv.index("--ca") + 1] if "--ca" in sys.argv else None


def ctx():
    if not URL.startswith("wss:"):
        return None
    c = ssl.create_default_context(cafile=CA)
    return c


def request(method):
    cid = uuid.uuid4().hex
    return cid, (
        f"{method} sip:ping@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK{cid[:10]};rport\r\n"
        f"From: <sip:ws@test.invalid>;tag={cid[:8]}\r\n"
        f"To: <sip:ping@127.0.0.1>\r\n"
        f"Call-ID: {cid}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Max-Forwards: 70\r\n"
        f"Content-Length: 0\r\n\r\n")


async def expect(ws, cid, status):
    msg = await asyncio.wait_for(ws.recv(), 5)
    if isinstance(msg, bytes):
        msg = msg.decode()
    first = msg.split("\r\n", 1)[0]
    assert first.startswith(f"SIP/2.0 {status}"), first
    assert f"Call-ID: {cid}" in msg, msg
    if status == 200:
        assert "Allow:" in msg
    assert "received=" in msg, msg  # RFC 3581 on the response Via
    return msg


async def main():
    async with websockets.connect(URL, subprotocols=["sip"], ssl=ctx(),
                                  open_timeout=5, close_timeout=5,
                                  max_size=2**20) as ws:
        assert ws.subprotocol == "sip", ws.subprotocol
        for _ in range(20):
            cid, m = request("OPTIONS")
            await ws.send(m)
            await expect(ws, cid, 200)
        cid, m = request("INVITE")
        await ws.send(m)
        await expect(ws, cid, 501)
        # binary frame carries a message too
        cid, m = request("OPTIONS")
        await ws.send(m.encode())
        await expect(ws, cid, 200)
        pong = await ws.ping(b"hi")
        await asyncio.wait_for(pong, 5)
        await ws.close()
        assert ws.close_code == 1000, ws.close_code
    print("ok: options, invite, binary, ping, close")

    # oversized frame -> 1009
    async with websockets.connect(URL, subprotocols=["sip"], ssl=ctx(),
                                  open_timeout=5, close_timeout=5) as ws:
        await ws.send("x" * 200000)
        try:
            await asyncio.wait_for(ws.recv(), 5)
            raise AssertionError("oversized frame was accepted")
        except websockets.ConnectionClosed as e:
            assert e.rcvd is None or e.rcvd.code == 1009, e
    print("ok: oversized frame closed")

    # no sip subprotocol, unknown path -> refused by the application hook
    try:
        async with websockets.connect(URL, ssl=ctx(), open_timeout=5) as ws:
            raise AssertionError("upgrade without 'sip' accepted")
    except websockets.InvalidStatusCode as e:
        assert e.status_code == 404, e.status_code
    print("ok: no subprotocol rejected")

    # the same listener serves an application WebSocket (/echo)
    base = URL.rstrip("/")
    async with websockets.connect(base + "/echo", ssl=ctx(), open_timeout=5,
                                  close_timeout=5) as ws:
        assert ws.subprotocol is None
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 5) == "hello"
        await ws.send(b"\x00\xff")
        assert await asyncio.wait_for(ws.recv(), 5) == b"\x00\xff"
    async with websockets.connect(base + "/echo", subprotocols=["echo"],
                                  ssl=ctx(), open_timeout=5) as ws:
        assert ws.subprotocol == "echo"
    print("ok: application websocket on the same listener")


asyncio.run(asyncio.wait_for(main(), 25))
