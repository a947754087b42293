"""Tests of generated server base classes and typed clients, and of Sink(T) streams in
both directions: two Python connections over a socketpair (a "host" side calling a
"worker" side, which calls back into the host).

Uses tests/generated/features_capnp.py and the plugin in tests/plugin_calc.py.
"""

import asyncio
import os
import socket
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (_HERE, os.path.join(_HERE, "generated"), os.path.dirname(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import features_capnp as F  # noqa: E402
import plugin_calc  # noqa: E402
from polyhost import rpc, streams  # noqa: E402


class HostLogger(F.Logger):
    """The host's callback: log() records, lines() produces a stream."""

    def __init__(self, n_lines=5, fail_after=None):
        self.logs = []
        self.n_lines = n_lines
        self.fail_after = fail_after

    async def log(self, params):
        self.logs.append((params.level, params.message))

    async def lines(self, params, sink):
        for i in range(self.n_lines):
            if self.fail_after is not None and i == self.fail_after:
                raise KeyError("no more lines")
            await sink.send("line %d" % i)
        return F.Logger_LinesResults(count=self.n_lines)


class Pair:
    """A worker-side and a host-side connection over a socketpair."""

    def __init__(self, worker_obj, host_obj=None):
        self.worker_obj = worker_obj
        self.host_obj = host_obj

    async def __aenter__(self):
        a, b = socket.socketpair()
        self.worker = await rpc.Connection.connect(a, bootstrap=self.worker_obj, name="worker")
        self.host = await rpc.Connection.connect(b, bootstrap=self.host_obj, name="host")
        return self

    async def __aexit__(self, *exc):
        await self.host.close()
        await self.worker.close()

    def client(self, cls):
        return self.host.bootstrap().cast_as(cls)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


class CallTest(unittest.TestCase):
    def test_calls_results_and_pipelining(self):
        async def main():
            async with Pair(plugin_calc.CalculatorImpl()) as p:
                calc = p.client(F.CalculatorClient)
                res = await calc.add(a=2, b=40)
                self.assertIsInstance(res, F.Calculator_AddResults)
                self.assertEqual(res.sum, 42)
                self.assertTrue((await calc.name()).name.startswith("calc pid="))
                shape = F.Shape(name="round", circle=2.0)
                d = await calc.describe(shape=shape)
                self.assertEqual((d.area, d.label), (12.0, "round"))
                # pipelining: call the returned capability before the call returns
                counter = calc.counter(start=5).counter
                self.assertIsInstance(counter, F.CounterClient)
                self.assertEqual((await counter.increment(by=3)).value, 8)
                self.assertEqual((await counter.read()).value, 8)      # a sync handler
                # capabilities in returned structs are typed clients
                h = (await calc.holder()).holder
                self.assertIsInstance(h.counter, F.CounterClient)
                self.assertEqual((await h.counter.read()).value, 7)
                # generic instantiation through a call
                e = await calc.echo(value=F.Pair(key="k", value=F.Point(x=1.0, y=2.0)))
                self.assertEqual((e.value.key, e.value.value), ("k", F.Point(x=1.0, y=2.0)))
        run(main())

    def test_stream_methods_and_unimplemented(self):
        async def main():
            impl = plugin_calc.CalculatorImpl()
            async with Pair(impl) as p:
                calc = p.client(F.CalculatorClient)
                for i in range(50):
                    await calc.tick(n=i)
                await calc.wait_streams()
                self.assertEqual(impl.ticks, list(range(50)))
                counter = p.client(F.CounterClient)     # the worker serves no Counter
                with self.assertRaises(rpc.RemoteError) as cm:
                    await counter.read()
                self.assertEqual(cm.exception.type, rpc.ExceptionType.UNIMPLEMENTED)
            async with Pair(F.Calculator()) as p:           # the bare base class
                with self.assertRaises(rpc.RemoteError) as cm:
                    await p.client(F.CalculatorClient).add(a=1, b=2)
                self.assertEqual(cm.exception.type, rpc.ExceptionType.UNIMPLEMENTED)
                self.assertIn("Calculator.add", cm.exception.reason)
        run(main())

    def test_handler_errors(self):
        class Bad(F.Calculator):
            async def add(self, params):
                raise ZeroDivisionError("nope")

            def describe(self, params):
                raise rpc.RpcError("busy", rpc.ExceptionType.OVERLOADED)

        async def main():
            async with Pair(Bad()) as p:
                calc = p.client(F.CalculatorClient)
                with self.assertRaises(rpc.RemoteError) as cm:
                    await calc.add()
                self.assertIn("ZeroDivisionError: nope", cm.exception.reason)
                self.assertIn("Traceback", cm.exception.trace)
                with self.assertRaises(rpc.RemoteError) as cm:
                    await calc.describe(shape=F.Shape())
                self.assertEqual(cm.exception.type, rpc.ExceptionType.OVERLOADED)
        run(main())


class StreamTest(unittest.TestCase):
    def test_worker_to_host(self):
        async def main():
            async with Pair(plugin_calc.CalculatorImpl()) as p:
                calc = p.client(F.CalculatorClient)
                points = calc.numbers(count=10)
                self.assertIsInstance(points, streams.Inbound)
                got = [pt async for pt in points]
                self.assertEqual(got, [F.Point(x=float(i), y=-float(i)) for i in range(10)])
                self.assertIsInstance(await points, F.Calculator_NumbersResults)
                # many items: batching and the bounded queue with a slow consumer
                n = 0
                async with calc.numbers(count=20000) as big:
                    async for pt in big:
                        if n % 2000 == 0:
                            await asyncio.sleep(0.001)
                        self.assertEqual(pt.x, float(n))
                        n += 1
                self.assertEqual(n, 20000)
                self.assertGreater(big.received, 0)
                # a sync handler producing from its thread
                summed = calc.sum()
                self.assertEqual([pt.x for pt in await summed.collect()], [0, 1, 2, 3, 4])
                self.assertEqual((await summed).total, F.Point(x=10.0, y=5.0))
                # nothing to stream
                self.assertEqual(await calc.numbers(count=0).collect(), [])
        run(main())

    def test_batches_grow_with_backlog(self):
        async def main():
            async with Pair(plugin_calc.CalculatorImpl()) as p:
                calc = p.client(F.CalculatorClient)
                sizes = []
                async for batch in calc.numbers(count=30000).batches():
                    sizes.append(len(batch))
                self.assertEqual(sum(sizes), 30000)
                self.assertLess(len(sizes), 1000)        # far fewer pushes than items
        run(main())

    def test_host_to_worker(self):
        # the worker calls its host's Logger.lines(): the host produces, the worker reads
        async def main():
            logger = HostLogger(n_lines=7)
            impl = plugin_calc.CalculatorImpl()
            async with Pair(impl, host_obj=logger) as p:
                calc = p.client(F.CalculatorClient)
                await calc.use_logger(logger=logger)
                self.assertEqual(impl.lines_seen, ["line %d" % i for i in range(7)])
                self.assertEqual(logger.logs, [(F.Color.BLUEISH, "got 7 lines, count=7")])
                # the same through the worker's bootstrap of the host
                host_logger = p.worker.bootstrap().cast_as(F.LoggerClient)
                lines = host_logger.lines()
                self.assertEqual(await lines.collect(), ["line %d" % i for i in range(7)])
                self.assertEqual((await lines).count, 7)
        run(main())

    def test_producer_failure_reaches_consumer(self):
        async def main():
            async with Pair(plugin_calc.CalculatorImpl(), host_obj=HostLogger(10, 4)) as p:
                calc = p.client(F.CalculatorClient)
                got = []
                stream = calc.numbers(count=13000)          # the plugin raises at item 13
                with self.assertRaises(streams.StreamError) as cm:
                    async for pt in stream:
                        got.append(pt)
                self.assertEqual(len(got), 13)
                self.assertEqual(cm.exception.remote_type, "ValueError")
                self.assertIn("unlucky", cm.exception.reason)
                self.assertIn("Traceback", cm.exception.trace)
                with self.assertRaises(rpc.RemoteError):
                    await stream.promise                   # the call fails too
                lines = p.worker.bootstrap().cast_as(F.LoggerClient).lines()
                with self.assertRaises(streams.StreamError) as cm:
                    await lines.collect()
                self.assertEqual(cm.exception.remote_type, "KeyError")
        run(main())

    def test_consumer_stops_early(self):
        class Endless(F.Calculator):
            def __init__(self):
                self.error = None

            def add(self, params):
                return {"sum": params.a + params.b}

            async def numbers(self, params, out):
                try:
                    i = 0
                    while True:
                        await out.send(F.Point(x=float(i)))
                        i += 1
                except BaseException as e:
                    self.error = e
                    raise

        async def main():
            impl = Endless()
            async with Pair(impl) as p:
                calc = p.client(F.CalculatorClient)
                async with calc.numbers() as stream:
                    async for pt in stream:
                        if pt.x >= 100:
                            break
                for _ in range(200):
                    if impl.error is not None:
                        break
                    await asyncio.sleep(0.01)
                self.assertIsNotNone(impl.error)         # cancelled or its push failed
                self.assertEqual((await calc.add(a=1, b=1)).sum, 2)    # still serving
        run(main())

    def test_call_failure_ends_iteration(self):
        class NoSink(F.Calculator):
            async def numbers(self, params, out):
                raise rpc.RpcError("refused", rpc.ExceptionType.OVERLOADED)

        async def main():
            async with Pair(NoSink()) as p:
                stream = p.client(F.CalculatorClient).numbers(count=3)
                with self.assertRaises(rpc.RpcError):
                    await stream.collect()
        run(main())


if __name__ == "__main__":
    unittest.main()
