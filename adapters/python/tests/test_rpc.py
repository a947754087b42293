"""Tests of polyhost.rpc: two Python connections over a socketpair talking to each other.

The test interfaces use small hand-made params/results classes in the generated shape
(see adapters/python/README.md).
"""

import asyncio
import gc
import socket
import threading
import unittest

import test_wire_support  # noqa: F401  (puts the adapter on sys.path)
from polyhost import rpc, wire
from polyhost import rpc_capnp as M
from polyhost.rpc import client as rpc_client
from polyhost.rpc import errors as rpc_errors

# ---------------------------------------------------------------------------------------
# Hand-made struct classes in the generated shape.


class Ints:
    """(a :Int32, b :Int32, c :Int32) -- used as params and results of several methods."""

    __slots__ = ("a", "b", "c")
    _polyhost_type_id = 0xA000000000000001
    _polyhost_data_words = 2
    _polyhost_ptr_count = 0

    def __init__(self, *, a=0, b=0, c=0):
        self.a = a
        self.b = b
        self.c = c

    def __eq__(self, other):
        return type(other) is Ints and (self.a, self.b, self.c) == (other.a, other.b, other.c)

    def __repr__(self):
        return "Ints(a=%r, b=%r, c=%r)" % (self.a, self.b, self.c)

    @classmethod
    def _polyhost_read(cls, r):
        self = cls.__new__(cls)
        self.a = r.get_int32(0, 0)
        self.b = r.get_int32(1, 0)
        self.c = r.get_int32(2, 0)
        return self

    def _polyhost_write(self, b):
        b.set_int32(0, self.a, 0)
        b.set_int32(1, self.b, 0)
        b.set_int32(2, self.c, 0)


class Text:
    """(text :Text)"""

    __slots__ = ("text",)
    _polyhost_type_id = 0xA000000000000002
    _polyhost_data_words = 0
    _polyhost_ptr_count = 1

    def __init__(self, *, text=""):
        self.text = text

    @classmethod
    def _polyhost_read(cls, r):
        self = cls.__new__(cls)
        self.text = r.get_text(0, "")
        return self

    def _polyhost_write(self, b):
        if self.text is not None:
            b.set_text(0, self.text)


class Cap:
    """(cap :SomeInterface, n :Int32)"""

    __slots__ = ("cap", "n")
    _polyhost_type_id = 0xA000000000000003
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1

    def __init__(self, *, cap=None, n=0):
        self.cap = cap
        self.n = n

    @classmethod
    def _polyhost_read(cls, r):
        self = cls.__new__(cls)
        self.cap = r.get_capability(0)
        self.n = r.get_int32(0, 0)
        return self

    def _polyhost_write(self, b):
        b.set_capability(0, self.cap)
        b.set_int32(0, self.n, 0)


class Nested:
    """(inner :Cap) -- a struct holding a struct holding a capability."""

    __slots__ = ("inner",)
    _polyhost_type_id = 0xA000000000000004
    _polyhost_data_words = 0
    _polyhost_ptr_count = 1

    def __init__(self, *, inner=None):
        self.inner = inner

    @classmethod
    def _polyhost_read(cls, r):
        self = cls.__new__(cls)
        self.inner = Cap._polyhost_read(r.get_struct(0))
        return self

    def _polyhost_write(self, b):
        if self.inner is not None:
            self.inner._polyhost_write(b.init_struct(0, Cap._polyhost_data_words,
                                                     Cap._polyhost_ptr_count))


class Empty:
    __slots__ = ()
    _polyhost_type_id = 0xA000000000000005
    _polyhost_data_words = 0
    _polyhost_ptr_count = 0

    @classmethod
    def _polyhost_read(cls, r):
        return cls()

    def _polyhost_write(self, b):
        pass


# ---------------------------------------------------------------------------------------
# Test interfaces.

ROOT = 0xB000000000000001
COUNTER = 0xB000000000000002
SINK = 0xB000000000000003

(ADD, FAIL, OVERLOAD, SLEEP, SYNC_ADD, GET_COUNTER, HOLD, CALL_HELD, DROP_HELD, ECHO_CAP,
 GET_NESTED, GET_SINK, NOT_THERE, BAD_RESULT) = range(14)
INC, GET = 0, 1
PUSH, END = 0, 1


class Counter(rpc.Server):
    _polyhost_methods = {
        (COUNTER, INC): ("inc", Ints, Ints, False),
        (COUNTER, GET): ("get", Empty, Ints, False),
    }

    def __init__(self, start=0):
        self.value = start
        self.seen = []

    async def inc(self, p):
        self.value += p.a
        self.seen.append(p.b)
        return Ints(a=self.value)

    async def get(self, p):
        return {"a": self.value}


class Sink(rpc.Server):
    _polyhost_methods = {
        (SINK, PUSH): ("push", Ints, Empty, True),
        (SINK, END): ("end", Empty, Ints, False),
    }

    def __init__(self, delay=0.0, fail_at=None):
        self.items = []
        self.delay = delay
        self.fail_at = fail_at
        self.running = 0
        self.max_running = 0
        self.ended_after = None

    async def push(self, p):
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if p.a == self.fail_at:
                raise ValueError("bad item %d" % p.a)
            self.items.append(p.a)
        finally:
            self.running -= 1

    async def end(self, p):
        self.ended_after = len(self.items)
        return Ints(a=len(self.items))


class Root(rpc.Server):
    _polyhost_methods = {
        (ROOT, ADD): ("add", Ints, Ints, False),
        (ROOT, FAIL): ("fail", Text, Empty, False),
        (ROOT, OVERLOAD): ("overload", Empty, Empty, False),
        (ROOT, SLEEP): ("sleep", Ints, Ints, False),
        (ROOT, SYNC_ADD): ("sync_add", Ints, Ints, False),
        (ROOT, GET_COUNTER): ("get_counter", Ints, Cap, False),
        (ROOT, HOLD): ("hold", Cap, Empty, False),
        (ROOT, CALL_HELD): ("call_held", Ints, Ints, False),
        (ROOT, DROP_HELD): ("drop_held", Empty, Empty, False),
        (ROOT, ECHO_CAP): ("echo_cap", Cap, Cap, False),
        (ROOT, GET_NESTED): ("get_nested", Ints, Nested, False),
        (ROOT, GET_SINK): ("get_sink", Ints, Cap, False),
        (ROOT, NOT_THERE): ("not_there", Empty, Empty, False),
        (ROOT, BAD_RESULT): ("bad_result", Empty, Ints, False),
    }

    def __init__(self):
        self.counter = Counter(100)
        self.held = None
        self.sleep_started = asyncio.Event()
        self.sleep_cancelled = asyncio.Event()
        self.running = 0
        self.max_running = 0
        self.sync_threads = []
        self.sink = None

    async def add(self, p):
        return Ints(a=p.a + p.b)

    async def fail(self, p):
        def inner_helper():
            raise ValueError(p.text)
        inner_helper()

    async def overload(self, p):
        raise rpc.RpcError("too busy", rpc.ExceptionType.OVERLOADED)

    async def sleep(self, p):
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.sleep_started.set()
        try:
            await asyncio.sleep(p.a / 1000.0)
        except asyncio.CancelledError:
            self.sleep_cancelled.set()
            raise
        finally:
            self.running -= 1
        return Ints(a=p.a)

    def sync_add(self, p):
        self.sync_threads.append(threading.current_thread())
        return Ints(a=p.a + p.b)

    async def get_counter(self, p):
        if p.a:
            return Cap(cap=Counter(p.a))
        return Cap(cap=self.counter)

    async def hold(self, p):
        self.held = p.cap

    async def call_held(self, p):
        r = await self.held.call(COUNTER, INC, Ints(a=p.a), Ints)
        return Ints(a=r.a)

    async def drop_held(self, p):
        self.held.close()
        self.held = None

    async def echo_cap(self, p):
        return Cap(cap=p.cap, n=p.n)

    async def get_nested(self, p):
        return Nested(inner=Cap(cap=Counter(p.a), n=7))

    async def get_sink(self, p):
        self.sink = Sink(delay=p.a / 1000.0, fail_at=p.b or None)
        return Cap(cap=self.sink)

    async def bad_result(self, p):
        return "not a struct"


async def settle(*conns, rounds=20):
    """Let messages in flight arrive and deferred releases run."""
    for _ in range(3):
        gc.collect()
        for _ in range(rounds):
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)


class RpcTestCase(unittest.IsolatedAsyncioTestCase):
    server_kwargs = {}

    async def asyncSetUp(self):
        a, b = socket.socketpair()
        self.root = Root()
        self.server = await rpc.Connection.connect(b, bootstrap=self.root, name="server",
                                                   **self.server_kwargs)
        self.client = await rpc.Connection.connect(a, name="client")
        self.cap = self.client.bootstrap()

    async def asyncTearDown(self):
        await self.client.close()
        await self.server.close()

    async def assert_tables_empty(self):
        self.cap.close()
        await settle()
        self.assertEqual(self.client.table_sizes(),
                         {"questions": 0, "answers": 0, "exports": 0, "imports": 0,
                          "embargoes": 0})
        self.assertEqual(self.server.table_sizes(),
                         {"questions": 0, "answers": 0, "exports": 0, "imports": 0,
                          "embargoes": 0})


class BasicTest(RpcTestCase):
    async def test_bootstrap_and_call(self):
        r = await self.cap.call(ROOT, ADD, Ints(a=2, b=40), Ints)
        self.assertEqual(r.a, 42)
        self.assertEqual(self.client.stats["sent.bootstrap"], 1)
        self.assertEqual(self.server.stats["recv.call"], 1)

    async def test_results_without_caps_need_no_finish(self):
        await self.cap.call(ROOT, ADD, Ints(a=1, b=1), Ints)
        await settle()
        # the bootstrap Return carries a capability (Finish needed), the add Return not
        self.assertEqual(self.client.stats["sent.finish"], 1)
        self.assertEqual(self.server.stats["recv.finish"], 1)
        self.assertEqual(self.server.table_sizes()["answers"], 0)

    async def test_sync_handler_runs_off_loop(self):
        r = await self.cap.call(ROOT, SYNC_ADD, Ints(a=3, b=4), Ints)
        self.assertEqual(r.a, 7)
        self.assertIsNot(self.root.sync_threads[0], threading.main_thread())

    async def test_call_from_thread(self):
        loop = asyncio.get_running_loop()

        def in_thread():
            return self.cap.call(ROOT, ADD, Ints(a=5, b=6), Ints).wait(5)
        r = await loop.run_in_executor(None, in_thread)
        self.assertEqual(r.a, 11)

    async def test_local_capability_calls(self):
        c = rpc.Capability(Counter(1))
        r = await c.call(COUNTER, INC, Ints(a=2), Ints)
        self.assertEqual(r.a, 3)
        p = self.cap.call(ROOT, GET_COUNTER, Ints(a=0), Cap)
        self.assertEqual((await p.pipeline(0).call(COUNTER, GET, None, Ints)).a, 100)


class CounterClient(rpc.Capability):
    """A typed client in the shape the generator will emit."""

    __slots__ = ()

    def inc(self, a):
        return self.call(COUNTER, INC, Ints(a=a), Ints, promise_cls=IncPromise)


class IncPromise(rpc.Promise):
    __slots__ = ()


class TypedClientTest(RpcTestCase):
    async def test_cast_and_promise_class(self):
        r = await self.cap.call(ROOT, GET_COUNTER, Ints(a=1), Cap)
        typed = r.cap.cast_as(CounterClient)
        p = typed.inc(2)
        self.assertIsInstance(p, IncPromise)
        self.assertEqual((await p).a, 3)
        typed2 = CounterClient(typed)
        self.assertIs(typed2._hook, r.cap._hook)
        for c in (typed, typed2, r.cap):
            c.close()
        self.assertTrue(typed.is_closed)
        with self.assertRaises(rpc.RpcError):
            typed.inc(1)
        del r
        await self.assert_tables_empty()

    async def test_server_wrapped_directly(self):
        c = CounterClient(Counter(5))
        self.assertEqual((await c.inc(1)).a, 6)
        with c:
            pass
        self.assertTrue(c.is_closed)


class ErrorTest(RpcTestCase):
    def test_reason_carries_the_traceback_after_the_marker(self):
        # polyhost's convention (the Rust runtime reads it: capnp-rpc drops `trace`)
        try:
            raise ValueError("boom")
        except ValueError as e:
            exc = rpc_errors.to_capnp_exception(e)
        head, marker, tail = exc.reason.partition(rpc_errors.TRACEBACK_MARKER)
        self.assertEqual((head, marker), ("ValueError: boom", "\n--- polyhost traceback ---\n"))
        self.assertEqual(tail, exc.trace)
        self.assertIn("test_reason_carries_the_traceback", tail)
        back = rpc_errors.from_capnp_exception(exc)
        self.assertEqual((back.reason, back.trace), ("ValueError: boom", exc.trace))
        # a peer that drops `trace` still gets it from the reason
        only_reason = M.Exception_(reason=exc.reason, type=exc.type)
        self.assertEqual(rpc_errors.from_capnp_exception(only_reason).trace, exc.trace)
        # no traceback: the reason is left as it is
        plain = rpc_errors.to_capnp_exception(rpc.RpcError("too busy", rpc.ExceptionType.OVERLOADED))
        self.assertEqual((plain.reason, plain.trace), ("too busy", ""))

    async def test_rpc_error_type_is_kept(self):
        with self.assertRaises(rpc.RemoteError) as cm:
            await self.cap.call(ROOT, OVERLOAD, None, Empty)
        self.assertEqual(cm.exception.type, rpc.ExceptionType.OVERLOADED)
        self.assertEqual(cm.exception.reason, "too busy")

    async def test_bad_handler_result(self):
        with self.assertRaises(rpc.RemoteError) as cm:
            await self.cap.call(ROOT, BAD_RESULT, None, Ints)
        self.assertTrue(cm.exception.reason.startswith("TypeError:"))

    async def test_pipelined_call_on_failed_call_fails(self):
        p = self.cap.call(ROOT, FAIL, Text(text="x"), Cap)
        c = p.pipeline(0)
        with self.assertRaises(rpc.RemoteError):
            await c.call(COUNTER, GET, None, Ints)
        with self.assertRaises(rpc.RemoteError):
            await p

    async def test_disconnect_fails_outstanding_calls(self):
        p = self.cap.call(ROOT, SLEEP, Ints(a=10000), Ints)
        await self.root.sleep_started.wait()
        await self.server.close()
        with self.assertRaises(rpc.DisconnectedError):
            await p
        with self.assertRaises(rpc.DisconnectedError):
            await self.cap.call(ROOT, ADD, Ints(), Ints)
        await asyncio.wait_for(self.root.sleep_cancelled.wait(), 5)


class CancellationTest(RpcTestCase):
    async def test_timeout_of_awaiting_task_cancels_call(self):
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(self.cap.call(ROOT, SLEEP, Ints(a=10000), Ints), 0.05)
        await asyncio.wait_for(self.root.sleep_cancelled.wait(), 5)
        await self.assert_tables_empty()


class ConcurrencyTest(RpcTestCase):
    server_kwargs = {"max_concurrency": 2}

    async def test_concurrency_limit(self):
        ps = [self.cap.call(ROOT, SLEEP, Ints(a=20), Ints) for _ in range(6)]
        await asyncio.gather(*ps)
        self.assertEqual(self.root.max_running, 2)


class PipelineTest(RpcTestCase):
    async def test_pipelining_on_bootstrap(self):
        cap = self.client.bootstrap()
        p = cap.call(ROOT, ADD, Ints(a=1, b=2), Ints)
        self.assertEqual(self.client.stats["recv.return_"], 0)
        self.assertEqual((await p).a, 3)
        cap.close()

    async def test_nested_pointer_path(self):
        p = self.cap.call(ROOT, GET_NESTED, Ints(a=9), Nested)
        c = p.pipeline(0, 0)
        self.assertEqual((await c.call(COUNTER, GET, None, Ints)).a, 9)
        r = await p
        self.assertEqual(r.inner.n, 7)
        self.assertEqual((await r.inner.cap.call(COUNTER, GET, None, Ints)).a, 9)

    async def test_e_order_on_pipelined_cap(self):
        p = self.cap.call(ROOT, GET_COUNTER, Ints(a=1), Cap)
        c = p.pipeline(0)
        ps = [c.call(COUNTER, INC, Ints(a=1, b=i), Ints) for i in range(50)]
        rs = await asyncio.gather(*ps)
        self.assertEqual([r.a for r in rs], list(range(2, 52)))

    async def test_embargo_when_pipelined_cap_resolves_to_local(self):
        local = Counter(0)
        p = self.cap.call(ROOT, ECHO_CAP, Cap(cap=local), Cap)
        echoed = p.pipeline(0)
        # Before the Return: this call goes to the server, which reflects it back to us.
        first = [echoed.call(COUNTER, INC, Ints(a=1, b=i), Ints) for i in range(3)]
        await p     # resolves to our own `local`: embargo until the Disembargo echoes
        later = [echoed.call(COUNTER, INC, Ints(a=1, b=i), Ints) for i in range(3, 6)]
        await asyncio.gather(*first, *later)
        self.assertEqual(local.seen, list(range(6)))
        self.assertEqual(self.client.stats["sent.disembargo"], 1)
        self.assertEqual(self.client.stats["recv.disembargo"], 1)
        echoed.close()
        del p
        await self.assert_tables_empty()


class CapabilityPassingTest(RpcTestCase):
    async def test_same_capability_twice_refcounts(self):
        rs = [await self.cap.call(ROOT, GET_COUNTER, Ints(a=0), Cap) for _ in range(3)]
        self.assertEqual(self.server.table_sizes()["exports"], 2)     # root + counter
        imports = self.client._imports
        counter_imp = [i for i in imports.values() if i.import_id != 0][0]
        self.assertEqual(counter_imp.remote_refs, 3)
        rs[0].cap.close()
        rs[1].cap.close()
        await settle()
        self.assertEqual(self.server.table_sizes()["exports"], 2)
        rs[2].cap.close()
        del rs
        await settle()
        self.assertEqual(self.server.table_sizes()["exports"], 1)
        await self.assert_tables_empty()

    async def test_dropping_python_reference_releases(self):
        r = await self.cap.call(ROOT, GET_COUNTER, Ints(a=3), Cap)
        self.assertEqual(self.server.table_sizes()["exports"], 2)
        del r
        await settle()
        self.assertEqual(self.server.table_sizes()["exports"], 1)

    async def test_capability_sent_back_is_receiver_hosted(self):
        r = await self.cap.call(ROOT, GET_COUNTER, Ints(a=1), Cap)
        back = await self.cap.call(ROOT, ECHO_CAP, Cap(cap=r.cap, n=3), Cap)
        self.assertEqual(back.n, 3)
        self.assertIs(back.cap._hook, r.cap._hook)
        self.assertEqual(self.client.table_sizes()["exports"], 0)
        r.cap.close()
        back.cap.close()
        del r, back
        await self.assert_tables_empty()

    async def test_pipelined_cap_passed_as_param(self):
        p = self.cap.call(ROOT, GET_COUNTER, Ints(a=5), Cap)
        c = p.pipeline(0)
        await self.cap.call(ROOT, HOLD, Cap(cap=c), Empty)    # receiverAnswer
        r = await self.cap.call(ROOT, CALL_HELD, Ints(a=1), Ints)
        self.assertEqual(r.a, 6)
        await self.cap.call(ROOT, DROP_HELD, None, Empty)
        c.close()
        del p
        await self.assert_tables_empty()


class StreamTest(RpcTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self._saved = rpc_client.STREAM_WINDOW_CALLS
        rpc_client.STREAM_WINDOW_CALLS = 8

    async def asyncTearDown(self):
        rpc_client.STREAM_WINDOW_CALLS = self._saved
        await super().asyncTearDown()

    async def test_stream_in_order_with_flow_control(self):
        r = await self.cap.call(ROOT, GET_SINK, Ints(a=1), Cap)
        sink = r.cap
        max_in_flight = 0
        for i in range(60):
            await sink.stream(SINK, PUSH, Ints(a=i))
            max_in_flight = max(max_in_flight, sink._hook._flow.calls)
        self.assertLessEqual(max_in_flight, 8)
        self.assertGreater(max_in_flight, 1)
        end = await sink.call(SINK, END, None, Ints)
        self.assertEqual(end.a, 60)
        self.assertEqual(self.root.sink.items, list(range(60)))
        self.assertEqual(self.root.sink.max_running, 1)
        await sink.wait_streams()

    async def test_stream_failure_is_reported(self):
        r = await self.cap.call(ROOT, GET_SINK, Ints(a=0, b=5), Cap)
        sink = r.cap
        with self.assertRaises(rpc.RemoteError) as cm:
            for i in range(1, 1000):
                await sink.stream(SINK, PUSH, Ints(a=i))
                await asyncio.sleep(0)
        self.assertIn("bad item 5", cm.exception.reason)
        with self.assertRaises(rpc.RemoteError):
            await sink.wait_streams()

    async def test_local_stream(self):
        s = Sink()
        cap = rpc.Capability(s)
        for i in range(20):
            await cap.stream(SINK, PUSH, Ints(a=i))
        self.assertEqual((await cap.call(SINK, END, None, Ints)).a, 20)
        self.assertEqual(s.ended_after, 20)


FACTORY = 0xB000000000000004


class Factory(rpc.Server):
    """Makes a Counter once `go` is set (a local call that stays unresolved a while)."""

    _polyhost_methods = {(FACTORY, 0): ("make", Ints, Cap, False)}

    def __init__(self):
        self.go = asyncio.Event()

    async def make(self, p):
        await self.go.wait()
        if p.b:
            raise ValueError("no counter today")
        return Cap(cap=Counter(p.a))


class PromiseExportTest(RpcTestCase):
    async def test_local_promise_exported_then_resolved(self):
        f = Factory()
        lp = rpc.Capability(f).call(FACTORY, 0, Ints(a=50), Cap)
        promised = lp.pipeline(0)           # a local promise: exported as senderPromise
        await self.cap.call(ROOT, HOLD, Cap(cap=promised), Empty)
        held_call = self.cap.call(ROOT, CALL_HELD, Ints(a=1), Ints)
        await settle()
        self.assertFalse(held_call.done())  # queued at our export until it resolves
        f.go.set()
        self.assertEqual((await held_call).a, 51)
        self.assertEqual(self.client.stats["sent.resolve"], 1)
        self.assertEqual(self.server.stats["sent.disembargo"], 0)
        self.assertEqual((await self.cap.call(ROOT, CALL_HELD, Ints(a=1), Ints)).a, 52)
        await self.cap.call(ROOT, DROP_HELD, None, Empty)
        promised.close()
        del lp
        await self.assert_tables_empty()

    async def test_local_promise_resolved_to_error(self):
        f = Factory()
        lp = rpc.Capability(f).call(FACTORY, 0, Ints(a=1, b=1), Cap)
        await self.cap.call(ROOT, HOLD, Cap(cap=lp.pipeline(0)), Empty)
        held_call = self.cap.call(ROOT, CALL_HELD, Ints(a=1), Ints)
        f.go.set()
        with self.assertRaises(rpc.RemoteError) as cm:
            await held_call
        self.assertIn("no counter today", cm.exception.reason)
        self.assertEqual(self.client.stats["sent.resolve"], 1)
        with self.assertRaises(rpc.RemoteError):
            await self.cap.call(ROOT, CALL_HELD, Ints(a=1), Ints)
        await self.cap.call(ROOT, DROP_HELD, None, Empty)
        del lp
        await self.assert_tables_empty()


if __name__ == "__main__":
    unittest.main()
