"""The fault-injection plugin (tests/schema/faults.capnp), Python side."""

import asyncio
import os
import subprocess
import time

import faults_capnp as api


class Nest(api.Nest):
    def __init__(self, depth):
        self.level = depth

    async def child(self, params):
        return api.Nest_ChildResults(nest=Nest(self.level + 1))

    async def depth(self, params):
        return api.Nest_DepthResults(depth=self.level)

    async def sleep(self, params):
        await asyncio.sleep(params.ms / 1000)


class Faults(api.Faults):
    async def pid(self, params):
        return api.Faults_PidResults(pid=os.getpid(), pgid=os.getpgrp())

    async def sleep(self, params):
        await asyncio.sleep(params.ms / 1000)
        return api.Faults_SleepResults(pid=os.getpid())

    async def block(self, params):
        time.sleep(params.ms / 1000)  # deliberately blocks the event loop

    async def write(self, params):
        fd = {"stdout": 1, "stderr": 2}[params.stream]
        view = memoryview(params.data)
        while view:
            view = view[os.write(fd, view):]

    async def shell(self, params):
        # close_fds=False: the child inherits what os.system's child would.
        done = subprocess.run(["/bin/sh", "-c", params.command], close_fds=False,
                              stdout=subprocess.PIPE)
        return api.Faults_ShellResults(status=done.returncode,
                                       output=done.stdout.decode(errors="replace"))

    async def exit(self, params):
        os._exit(params.code)

    async def nest(self, params):
        return api.Faults_NestResults(nest=Nest(params.depth))


def make(host):
    return Faults()
