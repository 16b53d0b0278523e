#!/usr/bin/python3
"""A minimal SIP-over-WebSocket server (RFC 7118) written with
python3-websockets, as a third-party peer for cvoip's WebSocket client.

usage: ws_sip_server.py PORT REPORT_FILE [SECONDS]
Accepts only the "sip" subprotocol; answers every SIP request (one per
WebSocket message) with 200 OK; appends one JSON line per connection to
REPORT_FILE: the path, the offered subprotocols, the methods received,
the pings answered and the close code the client sent. websockets itself fails a connection
whose client frames are not masked (RFC 6455 §5.1). Exits after SECONDS
(default 60)."""
import asyncio
import json
import sys

import websockets

PORT = int(sys.argv[1])
REPORT = sys.argv[2]
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 60


def answer(req):
    head = req.split("\r\n\r\n", 1)[0].split("\r\n")
    keep = [h for h in head[1:] if h.split(":", 1)[0].strip().lower() in
            ("via", "v", "from", "f", "call-id", "i", "cseq")]
    to = [h for h in head[1:] if h.split(":", 1)[0].strip().lower() in ("to", "t")]
    to = [t if ";tag=" in t else t + ";tag=wsserver" for t in to]
    if head[0].startswith("REGISTER"):
        keep += [h for h in head[1:] if h.split(":", 1)[0].strip().lower() in ("contact", "m")]
        keep += [h for h in head[1:] if h.split(":", 1)[0].strip().lower() == "expires"]
    return "SIP/2.0 200 OK\r\n" + "\r\n".join(keep + to) + "\r\nContent-Length: 0\r\n\r\n"


class Protocol(websockets.WebSocketServerProtocol):
    """Counts the pings it answers (keep-alives of the client)."""
    ka_pings = 0

    async def pong(self, data=b""):
        self.ka_pings += 1
        await super().pong(data)


async def handler(ws, path=None):
    info = {"path": path if path is not None else getattr(ws, "path", ""),
            "subprotocol": ws.subprotocol, "methods": []}
    try:
        async for msg in ws:
            if isinstance(msg, bytes):
                msg = msg.decode(errors="replace")
            first = msg.split("\r\n", 1)[0]
            if first.startswith("SIP/2.0"):
                continue
            info["methods"].append(first.split(" ", 1)[0])
            await ws.send(answer(msg))
    except websockets.ConnectionClosed:
        pass
    info["close_code"] = ws.close_code
    info["pings"] = ws.ka_pings
    with open(REPORT, "a") as f:
        f.write(json.dumps(info) + "\n")


async def main():
    async with websockets.serve(handler, "127.0.0.1", PORT, subprotocols=["sip"],
                                create_protocol=Protocol):
        print("ready", flush=True)
        await asyncio.sleep(SECONDS)


asyncio.run(main())
