"""Tests of ``python3 -m polyhost.worker``: the worker protocol over a socketpair with a
Python host side (start / ping / scoped / shutdown, callbacks, EOF, import errors, the
parent-death signal), plus ``polyhost.worker.serve`` in-process.

The plugin is tests/plugin_calc.py (features.capnp's Calculator and Counter).
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
_ADAPTER = os.path.dirname(_HERE)
_GENERATED = os.path.join(_HERE, "generated")
for _p in (_HERE, _GENERATED, _ADAPTER):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import features_capnp as F  # noqa: E402
import plugin_calc  # noqa: E402
import polyhost  # noqa: E402
from polyhost import polyhost_capnp as P  # noqa: E402
from polyhost import rpc, worker  # noqa: E402

WORKER_ID = P.WorkerProcess._polyhost_interface_id


class HostLogger(F.Logger):
    def __init__(self):
        self.logs = []

    async def log(self, params):
        self.logs.append(params.message)

    async def lines(self, params, sink):
        for i in range(3):
            await sink.send("l%d" % i)
        return {"count": 3}


#: the runtime, the test plugins and the generated test modules
MODULE_PATH = [_ADAPTER, _HERE, _GENERATED]


def spawn(spec, extra_env=None, module="polyhost.worker", kind=socket.SOCK_STREAM):
    """Start ``python3 -m <module> <spec>`` with its end of a socketpair of ``kind`` on
    fd 3 (as the host does); returns (process, our end of the socketpair)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, kind)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(MODULE_PATH)
    env.pop("POLYHOST_FD", None)
    env.update(extra_env or {})
    fd = theirs.fileno()
    cmd = ["sh", "-c", 'exec "$0" -m "$2" "$1" 3<&%d %d<&-' % (fd, fd),
           sys.executable, spec, module]
    proc = subprocess.Popen(cmd, pass_fds=(fd,), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    theirs.close()
    return proc, ours


def wait_exit(proc, timeout=20):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("the worker did not exit; stderr: %s" % err.decode())
    return proc.returncode, out.decode(), err.decode()


class WorkerProcessTest(unittest.TestCase):
    def test_handshake_calls_and_shutdown(self):
        proc, sock = spawn("plugin_calc:factory")
        logger = HostLogger()

        async def main():
            conn = await rpc.Connection.connect(sock, bootstrap=logger, name="host")
            w = conn.bootstrap().cast_as(P.WorkerProcessClient)
            start = await w.start(callbacks=[P.Service(
                interface_id=F.Logger._polyhost_interface_id, name="Logger", cap=logger)])
            info = start.info
            self.assertEqual(info.language, "python")
            self.assertEqual(info.pid, proc.pid)
            self.assertEqual(info.adapter_version, polyhost.__version__)
            self.assertTrue(info.runtime_version.startswith("CPython 3."))
            fps = {f.schema: f.fingerprint for f in info.fingerprints}
            self.assertEqual(fps, {"polyhost.capnp": P.FINGERPRINT,
                                   "features.capnp": F.FINGERPRINT})
            self.assertEqual([(s.interface_id, s.name) for s in start.services],
                             [(F.Calculator._polyhost_interface_id, "Calculator"),
                              (F.Counter._polyhost_interface_id, "Counter")])
            calc = start.services[0].cap.cast_as(F.CalculatorClient)
            counter = start.services[1].cap.cast_as(F.CounterClient)
            self.assertEqual((await calc.add(a=20, b=22)).sum, 42)
            self.assertEqual((await counter.increment(by=1)).value, 101)
            points = await calc.numbers(count=500).collect()
            self.assertEqual(len(points), 500)
            # the worker calls back into the host (log) and consumes a host stream
            await calc.use_logger()
            self.assertEqual(logger.logs, ["got 3 lines, count=3"])
            self.assertEqual((await w.ping(nonce=0xDEADBEEF)).nonce, 0xDEADBEEF)
            # a context-scoped view, pipelined
            scoped = w.scoped(context=P.CallContext(session="s-42", trace_parent="00-aa"),
                              interface_id=F.Calculator._polyhost_interface_id)
            view = scoped.service.cast_as(F.CalculatorClient)
            self.assertTrue((await view.name()).name.endswith("session=s-42"))
            self.assertTrue((await calc.name()).name.endswith("session="))   # no context
            with self.assertRaises(rpc.RemoteError):
                await w.scoped(interface_id=0x1234).service.cast_as(F.CalculatorClient).add()
            with self.assertRaises(rpc.RemoteError):
                await w.start()                          # only once
            await w.shutdown()
            await conn.wait_closed()

        asyncio.run(asyncio.wait_for(main(), 30))
        code, out, err = wait_exit(proc)
        self.assertEqual(code, 0, err)

    def test_eof_exits_zero(self):
        proc, sock = spawn("plugin_calc:factory")

        async def main():
            conn = await rpc.Connection.connect(sock)
            w = conn.bootstrap().cast_as(P.WorkerProcessClient)
            self.assertEqual((await w.ping(nonce=1)).nonce, 1)
            await conn.close()

        asyncio.run(asyncio.wait_for(main(), 30))
        code, _, err = wait_exit(proc)
        self.assertEqual(code, 0, err)

    def test_import_error_exits_3_with_traceback(self):
        proc, sock = spawn("plugin_broken:factory")
        code, _, err = wait_exit(proc)
        sock.close()
        self.assertEqual(code, worker.EXIT_IMPORT)
        self.assertIn("Traceback", err)
        self.assertIn("RuntimeError: this plugin is broken on purpose", err)
        proc, sock = spawn("plugin_calc:no_such_factory")
        code, _, err = wait_exit(proc)
        sock.close()
        self.assertEqual(code, worker.EXIT_IMPORT)
        self.assertIn("AttributeError", err)

    def test_usage(self):
        proc = subprocess.run([sys.executable, "-m", "polyhost.worker"], cwd=_ADAPTER,
                              capture_output=True, timeout=20)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"usage", proc.stderr)

    @unittest.skipUnless(sys.platform.startswith("linux"), "PR_SET_PDEATHSIG is Linux-only")
    def test_dies_with_its_parent(self):
        ours, theirs = socket.socketpair()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([_ADAPTER, _HERE, _GENERATED]),
                   POLYHOST_FD=str(theirs.fileno()))
        # a parent process that starts the worker, prints its pid and waits
        parent_code = (
            "import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-m', 'polyhost.worker', "
            "'plugin_calc:factory'], pass_fds=(%d,))\n"
            "print(p.pid, flush=True)\n"
            "time.sleep(60)\n" % theirs.fileno())
        parent = subprocess.Popen([sys.executable, "-c", parent_code], env=env,
                                  pass_fds=(theirs.fileno(),), stdout=subprocess.PIPE)
        theirs.close()
        try:
            child = int(parent.stdout.readline())

            async def ping():
                conn = await rpc.Connection.connect(ours)
                w = conn.bootstrap().cast_as(P.WorkerProcessClient)
                self.assertEqual((await w.ping(nonce=5)).nonce, 5)   # the worker is up

            asyncio.run(asyncio.wait_for(ping(), 30))
            parent.send_signal(signal.SIGKILL)
            parent.wait()
            deadline = time.monotonic() + 20
            while _alive(child) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertFalse(_alive(child), "the worker outlived its parent")
        finally:
            parent.kill()
            parent.wait()
            parent.stdout.close()
            ours.close()


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class ServeInProcessTest(unittest.TestCase):
    def test_serve_until_shutdown(self):
        async def main():
            a, b = socket.socketpair()
            served = asyncio.ensure_future(worker.serve(a, plugin_calc.slow_factory))
            conn = await rpc.Connection.connect(b)
            w = conn.bootstrap().cast_as(P.WorkerProcessClient)
            start = await w.start()
            self.assertEqual(len(start.services), 1)
            calc = start.services[0].cap.cast_as(F.CalculatorClient)
            self.assertEqual((await calc.add(a=1, b=2)).sum, 3)
            await w.shutdown()
            self.assertEqual(await served, 0)
            await conn.close()

        asyncio.run(asyncio.wait_for(main(), 30))

    def test_shutdown_lets_running_calls_finish(self):
        release = None

        class Slow(F.Calculator):
            async def add(self, params):
                await release.wait()
                return {"sum": 1}

        async def main():
            nonlocal release
            release = asyncio.Event()
            a, b = socket.socketpair()
            served = asyncio.ensure_future(worker.serve(a, lambda host: Slow()))
            conn = await rpc.Connection.connect(b)
            w = conn.bootstrap().cast_as(P.WorkerProcessClient)
            calc = (await w.start()).services[0].cap.cast_as(F.CalculatorClient)
            pending = calc.add()
            await w.ping(nonce=1)             # the add call has started
            await w.shutdown()
            await asyncio.sleep(0.05)
            self.assertFalse(served.done())   # still waiting for add()
            release.set()
            self.assertEqual((await pending).sum, 1)
            self.assertEqual(await served, 0)
            await conn.close()

        asyncio.run(asyncio.wait_for(main(), 30))

    def test_concurrency_limit(self):
        started = []
        gate = None

        class Gated(F.Calculator):
            async def add(self, params):
                started.append(params.a)
                await gate.wait()
                return {"sum": params.a}

        async def main():
            nonlocal gate
            gate = asyncio.Event()
            a, b = socket.socketpair()
            served = asyncio.ensure_future(worker.serve(a, lambda host: Gated(), concurrency=1))
            conn = await rpc.Connection.connect(b)
            w = conn.bootstrap().cast_as(P.WorkerProcessClient)
            calc = (await w.start()).services[0].cap.cast_as(F.CalculatorClient)
            first, second = calc.add(a=1), calc.add(a=2)
            for _ in range(20):
                await asyncio.sleep(0.005)
            self.assertEqual(started, [1])        # the second waits for a slot
            gate.set()
            self.assertEqual([(await first).sum, (await second).sum], [1, 2])
            await w.shutdown()
            await served
            await conn.close()

        asyncio.run(asyncio.wait_for(main(), 30))

    def test_factory_errors(self):
        async def main():
            a, b = socket.socketpair()
            served = asyncio.ensure_future(worker.serve(a, lambda host: object()))
            conn = await rpc.Connection.connect(b)
            w = conn.bootstrap().cast_as(P.WorkerProcessClient)
            with self.assertRaises(rpc.RemoteError) as cm:
                await w.start()
            self.assertIn("no generated server base class", cm.exception.reason)
            await conn.close()
            self.assertEqual(await served, 0)      # EOF ends the worker

            host = worker.Host([])
            with self.assertRaises(LookupError):
                host.client(F.LoggerClient)

        asyncio.run(asyncio.wait_for(main(), 30))


if __name__ == "__main__":
    unittest.main()
