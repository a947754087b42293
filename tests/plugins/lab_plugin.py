"""Test plugin for the pool's supervision tests (tests/schema/pool_lab.capnp)."""

import asyncio
import os
import signal
import time

import polyhost.context
import pool_lab_capnp as api
from polyhost.rpc import current_connection


class Counter(api.Counter):
    def __init__(self, start):
        self.value = start

    async def next(self, params):
        self.value += 1
        return api.Counter_NextResults(value=self.value)


class Lab(api.Lab):
    def __init__(self) -> None:
        self.value = ""
        self.saw = False

    async def echo(self, params):
        return api.Lab_EchoResults(n=params.n)

    async def pid(self, params):
        return api.Lab_PidResults(pid=os.getpid())

    async def slow(self, params):
        await asyncio.sleep(params.ms / 1000)
        return api.Lab_SlowResults(pid=os.getpid())

    async def hang(self, params):
        time.sleep(params.ms / 1000)  # deliberately blocks the event loop

    async def crash_once(self, params):
        if not os.path.exists(params.marker):
            with open(params.marker, "w") as f:
                f.write(str(os.getpid()))
            print("crashing on purpose", flush=True, file=__import__("sys").stderr)
            os.kill(os.getpid(), signal.SIGKILL)
        return api.Lab_CrashOnceResults(pid=os.getpid())

    async def remember(self, params):
        self.value = params.value

    async def recall(self, params):
        return api.Lab_RecallResults(value=self.value)


    async def counter_when_piped(self, params):
        conn = current_connection()
        calls_before = conn.stats["recv.call"]
        deadline = time.monotonic() + params.wait_ms / 1000
        while conn.stats["recv.call"] == calls_before and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        self.saw = conn.stats["recv.call"] > calls_before
        return api.Lab_CounterWhenPipedResults(counter=Counter(params.start))

    async def saw_pipelined_call(self, params):
        return api.Lab_SawPipelinedCallResults(saw=self.saw)


    async def spew(self, params):
        fd = int(os.environ.get("POLYHOST_FD", "3"))
        os.write(fd, b"\xff\xff\xff\x7f" + b"garbage" * 64)
        await asyncio.sleep(60)  # keeps running: the host must cut it off


    async def context(self, params):
        ctx = polyhost.context.current()
        if ctx is None:
            return api.Lab_ContextResults()
        return api.Lab_ContextResults(
            session=ctx.session, deadline_unix_ms=ctx.deadline_unix_ms,
            trace_parent=ctx.trace_parent, child_trace_parent=polyhost.context.child_trace_parent() or "")


def make(host):
    return Lab()
