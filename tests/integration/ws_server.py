#!/usr/bin/env python3
"""A real WebSocket server (Debian's python3-websockets) for ballast's integration tests.

Echoes every message back. A text message "close CODE REASON" makes it close the connection with
that code and reason; "headers" answers with the request headers it saw, as JSON. Prints
"listening" once it accepts connections.

Usage: ws_server.py PORT
"""

import asyncio
import json
import sys

import websockets


async def handle(socket):
    async for message in socket:
        if isinstance(message, str) and message.startswith("close "):
            _, code, reason = message.split(" ", 2)
            await socket.close(int(code), reason)
            return
        if message == "headers":
            await socket.send(json.dumps(list(socket.request_headers.raw_items())))
            continue
        await socket.send(message)


async def main(port):
    async with websockets.serve(handle, "127.0.0.1", port, max_size=None, ping_interval=None):
        print("listening", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
