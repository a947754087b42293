"""A call's handler takes its first step in the event-loop pass that read the Call
(polyhost/rpc/server.py, LocalHook.call): what asyncio offers a handler inside a task
must work there too (asyncio.current_task(), asyncio.timeout(), TaskGroup), before and
after the handler suspends."""

import asyncio
import socket
import sys
import unittest

import test_wire_support  # noqa: F401  (puts the adapter on sys.path)
from test_rpc import Ints
from polyhost import rpc

IFACE = 0xB0000000000000E1
[NOW, TIMED, EXPIRES, GROUP, TASKS, LATER, DICT, RAISES, CONN] = range(9)


async def suspend():
    """Suspends the caller for one pass of the event loop (what the handlers below
    test: code after a suspension runs in a task)."""
    fut = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(fut.set_result, None)
    await fut


class Handlers(rpc.Server):
    _polyhost_methods = {
        (IFACE, NOW): ("now", Ints, Ints, False),
        (IFACE, TIMED): ("timed", Ints, Ints, False),
        (IFACE, EXPIRES): ("expires", Ints, Ints, False),
        (IFACE, GROUP): ("group", Ints, Ints, False),
        (IFACE, TASKS): ("tasks", Ints, Ints, False),
        (IFACE, LATER): ("later", Ints, Ints, False),
        (IFACE, DICT): ("as_dict", Ints, Ints, False),
        (IFACE, RAISES): ("raises", Ints, Ints, False),
        (IFACE, CONN): ("conn", Ints, Ints, False),
    }

    def __init__(self):
        self.never = asyncio.Event()    # nobody sets it: a wait that only a cancel ends

    async def now(self, p):
        return Ints(a=p.a + 1)

    async def timed(self, p):
        async with asyncio.timeout(30):
            first = p.a
        async with asyncio.timeout(30):
            await suspend()             # the rest runs in a task
            return Ints(a=first + 2)

    async def expires(self, p):
        async with asyncio.timeout(0):
            await self.never.wait()
        return Ints(a=p.a)

    async def group(self, p):
        async def child(n):
            await suspend()
            return n * 2
        async with asyncio.TaskGroup() as tg:
            t = tg.create_task(child(p.a))
        return Ints(a=t.result())

    async def tasks(self, p):
        before = asyncio.current_task()
        await suspend()
        after = asyncio.current_task()
        return Ints(a=int(before is not None) + 2 * int(after is not None))

    async def later(self, p):
        # an awaitable result (completed in a later pass), awaited by the engine
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_result, Ints(a=p.a * 3))
        return fut

    async def as_dict(self, p):
        return {"a": p.a - 1}

    async def raises(self, p):
        raise ValueError("no %d" % p.a)

    async def conn(self, p):
        return Ints(a=int(rpc.server.current_connection() is not None))


class EagerStepBase(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        a, b = socket.socketpair()
        self.server = await rpc.Connection.connect(b, bootstrap=Handlers(), name="server")
        self.client = await rpc.Connection.connect(a, name="client")
        self.cap = self.client.bootstrap()

    async def asyncTearDown(self):
        self.cap.close()
        await self.client.close()
        await self.server.close()

    async def call(self, method, a):
        return (await self.cap.call(IFACE, method, Ints(a=a), Ints)).a


class ResultsTest(EagerStepBase):
    async def test_an_awaitable_result_is_awaited(self):
        self.assertEqual(await self.call(LATER, 5), 15)

    async def test_a_dict_result(self):
        self.assertEqual(await self.call(DICT, 5), 4)

    async def test_an_exception_in_the_first_step(self):
        with self.assertRaises(rpc.RemoteError) as cm:
            await self.call(RAISES, 3)
        self.assertIn("no 3", str(cm.exception))
        self.assertEqual(await self.call(NOW, 1), 2)    # the connection is still fine

    async def test_the_handler_sees_its_connection(self):
        self.assertEqual(await self.call(CONN, 0), 1)


@unittest.skipIf(sys.version_info < (3, 11), "asyncio.timeout and TaskGroup are 3.11+")
class EagerStepTest(EagerStepBase):
    async def test_a_handler_that_does_not_suspend_answers(self):
        self.assertEqual(await self.call(NOW, 1), 2)

    async def test_asyncio_timeout_before_and_after_suspending(self):
        self.assertEqual(await self.call(TIMED, 5), 7)

    async def test_an_expired_timeout_cancels_the_task_that_continues_the_handler(self):
        with self.assertRaises(rpc.RemoteError) as cm:
            await self.call(EXPIRES, 1)
        self.assertIn("TimeoutError", str(cm.exception))

    async def test_task_group(self):
        self.assertEqual(await self.call(GROUP, 21), 42)

    async def test_current_task_is_there_before_and_after_suspending(self):
        self.assertEqual(await self.call(TASKS, 0), 3)


if __name__ == "__main__":
    unittest.main()
