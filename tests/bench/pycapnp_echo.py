"""The peer row: pycapnp (the C++ Cap'n Proto implementation inside Python) serving
the bench's `Bench.echoBytes` on the socket at fd 3, for the bench's bare capnp-rpc
client (tests/src/bin/bench/bare.rs).

    python pycapnp_echo.py SCHEMA_DIR POLYHOST_SCHEMA_DIR
"""

import asyncio
import os
import socket
import sys

import capnp

# `/capnp/stream.capnp` (for `-> stream`) ships inside the pycapnp package.
IMPORTS = [sys.argv[2], os.path.dirname(os.path.dirname(capnp.__file__))]
bench = capnp.load(os.path.join(sys.argv[1], "bench.capnp"), imports=IMPORTS)


class Bench(bench.Bench.Server):
    async def echoBytes(self, data, **kwargs):
        return data


async def serve():
    sock = socket.socket(fileno=3)
    stream = await capnp.AsyncIoStream.create_connection(sock=sock)
    server = capnp.TwoPartyServer(stream, bootstrap=Bench())
    await server.on_disconnect()


asyncio.run(capnp.run(serve()))
