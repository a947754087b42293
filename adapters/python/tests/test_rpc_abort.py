"""Tests of polyhost.rpc at its edges: a connection that must abort on what a raw peer
sends, and a call cancelled before its handler ran.
"""

import asyncio
import socket
import unittest

import test_wire_support  # noqa: F401  (puts the adapter on sys.path)
from polyhost import rpc, wire
from polyhost import rpc_capnp as M
from test_rpc import Root


class AbortTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.raw, b = socket.socketpair()
        self.raw.setblocking(False)
        self.conn = await rpc.Connection.connect(b, bootstrap=Root(), name="victim")

    async def asyncTearDown(self):
        await self.conn.close()
        self.raw.close()

    async def read_messages(self):
        loop = asyncio.get_running_loop()
        dec = wire.FrameDecoder()
        out = []
        while True:
            data = await asyncio.wait_for(loop.sock_recv(self.raw, 65536), 5)
            if not data:
                return out
            out.extend(M.Message._polyhost_read(m.root()) for m in dec.feed(data))

    async def send(self, msg):
        mb = wire.MessageBuilder()
        msg._polyhost_write(mb.init_root(1, 1))
        await asyncio.get_running_loop().sock_sendall(self.raw, mb.to_bytes())

    async def expect_abort(self, text):
        msgs = await self.read_messages()
        self.assertEqual(msgs[-1].which, "abort")
        self.assertIn(text, msgs[-1].abort.reason)
        await asyncio.wait_for(self.conn.wait_closed(), 5)
        self.assertIsInstance(self.conn.error, rpc.DisconnectedError)

    async def test_frame_over_size_limit(self):
        await self.conn.close()
        self.raw.close()
        self.raw, b = socket.socketpair()
        self.raw.setblocking(False)
        self.conn = await rpc.Connection.connect(
            b, bootstrap=Root(), limits=wire.Limits(max_message_bytes=1024))
        big = M.Message(abort=M.Exception_(reason="x" * 4000))
        with self.assertLogs("polyhost.rpc", "ERROR"):
            await self.send(big)
            await self.expect_abort("malformed frame")

class CancelBeforeStartTest(unittest.IsolatedAsyncioTestCase):
    """A call cancelled before its handler task took its first step still completes
    (as canceled), so the connection sends its Return."""

    async def test_cancel_before_the_task_starts(self):
        from polyhost.rpc.server import LocalCall

        async def never_started():
            raise AssertionError("must not run")

        p = LocalCall()
        p.task = asyncio.get_running_loop().create_task(never_started())
        p.cancel()  # before the loop ran the task once
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.assertTrue(p.done, "the call completed")


if __name__ == "__main__":
    unittest.main()
