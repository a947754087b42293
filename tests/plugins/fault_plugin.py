"""The fault-injection plugin (tests/schema/faults.capnp), Python side."""

import asyncio
import os
import signal
import socket
import struct
import subprocess
import time

import faults_capnp as api
from polyhost import polyhost_capnp as P
from polyhost import rpc_capnp, streams, wire
from polyhost.rpc import ExceptionType, RpcError, current_connection


class Nest(api.Nest):
    def __init__(self, depth):
        self.level = depth

    async def child(self, params):
        return api.Nest_ChildResults(nest=Nest(self.level + 1))

    async def depth(self, params):
        return api.Nest_DepthResults(depth=self.level)

    async def sleep(self, params):
        await asyncio.sleep(params.ms / 1000)


async def _wait(promise):
    try:
        await promise
    except Exception as e:  # noqa: BLE001 - counted by the caller
        return e
    return None


class Faults(api.Faults):
    def __init__(self, host):
        self.gate = host.client(api.HostGateClient) if host.has(api.HostGateClient) else None
        self.refused = asyncio.Event()

    async def spray(self, params, out):
        # Raw calls on the sink, not stream calls: nothing waits for the window.
        sink, codec = out._sink, out._codec
        calls = [sink.call(P.Sink._polyhost_interface_id, 0,
                           P.Sink_PushParams(batch=streams._Batch(codec, [str(i)])))
                 for i in range(params.pushes)]
        ok = refused = 0
        for c in asyncio.as_completed([asyncio.ensure_future(_wait(c)) for c in calls]):
            e = await c
            if e is None:
                ok += 1
            elif isinstance(e, RpcError) and e.type == ExceptionType.OVERLOADED:
                refused += 1
                self.refused.set()
        return api.Faults_SprayResults(ok=ok, refused=refused)

    async def spray_refused(self, params):
        await self.refused.wait()
        return api.Faults_SprayRefusedResults(refused=1)

    async def flood(self, params):
        calls = [asyncio.ensure_future(self.gate.hold()) for _ in range(params.calls)]
        ended = []
        pending = set(calls)
        while len(ended) < params.settled and pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            ended.extend(done)
        ok = overloaded = 0
        other = ""
        for c in ended:
            e = c.exception()
            if e is None:
                ok += 1
            elif isinstance(e, RpcError) and e.type == ExceptionType.OVERLOADED:
                overloaded += 1
            elif not other:
                other = repr(e)
        return api.Faults_FloodResults(ok=ok, overloaded=overloaded, other=other)

    async def host_panic(self, params):
        try:
            await self.gate.panic()
        except RpcError as e:
            return api.Faults_HostPanicResults(message=str(e))
        return api.Faults_HostPanicResults(message="")

    async def ignore_term(self, params):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(params.ms / 1000)  # deliberately blocks the event loop

    async def socket(self, params):
        if params.action == "deaf":
            # Stop reading the RPC socket (the host's writes back up); answer this call.
            current_connection()._writer._proto.transport.pause_reading()
            return
        sock = socket.socket(fileno=os.dup(int(os.environ.get("POLYHOST_FD", "3"))))
        if params.action == "half-close":
            sock.shutdown(socket.SHUT_WR)
        elif params.action == "bad-return":
            # A well-framed Return for a question the host never asked.
            mb = wire.MessageBuilder()
            rpc_capnp.Message(return_=rpc_capnp.Return(answer_id=0x7FFFFFF0, which="canceled"))._polyhost_write(
                mb.init_root(rpc_capnp.Message._polyhost_data_words,
                             rpc_capnp.Message._polyhost_ptr_count))
            sock.sendall(wire.framing.frame(mb.segments()))
        elif params.action == "oversize":
            # One segment of 2^31 - 1 words, and no more bytes.
            sock.sendall(struct.pack("<II", 0, 0x7FFFFFFF))
        else:
            raise ValueError("unknown action %r" % params.action)
        await asyncio.sleep(60)  # stays alive: the host must deal with it

    async def sleep_timed(self, params):
        await asyncio.sleep(params.ms / 1000)

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
    return Faults(host)
