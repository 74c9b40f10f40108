#!/usr/bin/python3
"""ws_echo.py — Python websockets echo server for bench/ (Debian's
python3-websockets, run with /usr/bin/python3): `ws_echo.py HOST PORT`.
asyncio's default loop, no compression (permessage-deflate off), each
message echoed as it came; asyncio sets TCP_NODELAY on its sockets."""
import asyncio
import sys

import websockets


async def echo(ws, path=None):  # websockets < 10.1 also passes the path
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main(host, port):
    async with websockets.serve(echo, host, port, compression=None):
        await asyncio.Future()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: ws_echo.py HOST PORT")
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
