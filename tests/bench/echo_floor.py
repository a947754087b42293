"""The benchmark's floor (tests/src/bin/bench.rs): a raw length-prefixed echo on the
socket the host passed as fd ``POLYHOST_FD`` (default 3), with asyncio streams and the
standard library only.

A frame is a 4-byte little-endian length and that many payload bytes; every frame is
answered with itself. Exits at EOF.
"""

import asyncio
import os
import socket
import struct

_LEN = struct.Struct("<I")


async def main() -> None:
    sock = socket.socket(fileno=int(os.environ.get("POLYHOST_FD", "3")))
    reader, writer = await asyncio.open_connection(sock=sock)
    readexactly = reader.readexactly
    write = writer.write
    unpack = _LEN.unpack
    try:
        while True:
            head = await readexactly(4)
            body = await readexactly(unpack(head)[0])
            write(head + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


if __name__ == "__main__":
    asyncio.run(main())
