"""Test plugin for the pool's supervision tests (tests/schema/pool_lab.capnp)."""

import asyncio
import os
import signal
import time

import pool_lab_capnp as api


class Lab(api.Lab):
    def __init__(self) -> None:
        self.value = ""

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


def make(host):
    return Lab()
