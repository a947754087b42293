"""The Python guest of the adapter conformance suite: implements `Conformance` of
tests/conformance/schema/conformance.capnp (entry point ``conformance_guest:make``).

Each method does what the schema's comment says, with the adapter's ordinary API only:
generated classes from ``conformance_capnp``, ``polyhost.wire`` for the canonical form,
``polyhost.streams`` producers and inbound streams, asyncio cancellation.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import weakref
from typing import Any, List, Optional

import conformance_capnp as C
from polyhost import wire
from polyhost.streams import Producer
from polyhost.worker import Host


class ConformanceError(Exception):
    """The exception `fail` raises: its type name is what the host must see."""


def _raise_for(kind: str) -> None:
    # A function of its own, so the traceback names this file and this function.
    raise ConformanceError("failure: %s" % kind)


_serials = itertools.count(1)
_live_things: "weakref.WeakSet[Thing]" = weakref.WeakSet()


class Thing(C.Thing):
    def __init__(self, label: str, log: List[str]) -> None:
        self.label = label
        self.serial = next(_serials)
        self.log = log
        _live_things.add(self)

    async def get(self, params: C.Thing_GetParams) -> C.Thing_GetResults:
        self.log.append("get:%s" % self.label)
        return C.Thing_GetResults(label=self.label, serial=self.serial)


def _pattern(size: int) -> bytes:
    """Byte i is (i * 7 + 3) mod 256 (period 256)."""
    block = bytes((i * 7 + 3) & 0xFF for i in range(256))
    whole, rest = divmod(size, 256)
    return block * whole + block[:rest]


class Conformance(C.Conformance):
    def __init__(self, callback: Optional[C.CallbackClient]) -> None:
        self.callback = callback
        self.cancelled = 0
        self.log: List[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def echo(self, params: C.Conformance_EchoParams) -> C.Conformance_EchoResults:
        return C.Conformance_EchoResults(value=params.value)

    async def canonical(self, params: C.Conformance_CanonicalParams) -> C.Conformance_CanonicalResults:
        value = params.value if params.value is not None else C.Everything()
        mb = wire.MessageBuilder()
        value._polyhost_write(mb.init_root(C.Everything._polyhost_data_words,
                                           C.Everything._polyhost_ptr_count))
        fresh = wire.MessageReader(mb.segments())
        return C.Conformance_CanonicalResults(bytes_=wire.canonicalize(fresh.root()))

    async def fail(self, params: C.Conformance_FailParams) -> None:
        _raise_for(params.kind)

    async def sleep(self, params: C.Conformance_SleepParams) -> C.Conformance_SleepResults:
        self.log.append("sleep:%d:start" % params.ms)
        try:
            await asyncio.sleep(params.ms / 1000.0)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return C.Conformance_SleepResults(completed=True)

    async def cancelled_count(self, params: C.Conformance_CancelledCountParams) -> Any:
        return C.Conformance_CancelledCountResults(count=self.cancelled)

    async def call_host(self, params: C.Conformance_CallHostParams) -> C.Conformance_CallHostResults:
        if self.callback is None:
            raise LookupError("the host passed no Callback at start")
        r = await self.callback.call(x=params.x)
        return C.Conformance_CallHostResults(y=r.y)

    async def apply_to(self, params: C.Conformance_ApplyToParams) -> C.Conformance_ApplyToResults:
        if params.callback is None:
            raise ValueError("applyTo needs a callback")
        r = await params.callback.call(x=params.x)
        return C.Conformance_ApplyToResults(y=r.y)

    async def make(self, params: C.Conformance_MakeParams) -> C.Conformance_MakeResults:
        self.log.append("make:%s:start" % params.label)
        await self.gate.wait()
        self.log.append("make:%s:return" % params.label)
        return C.Conformance_MakeResults(thing=Thing(params.label, self.log))

    async def live_things(self, params: C.Conformance_LiveThingsParams) -> Any:
        gc.collect()
        return C.Conformance_LiveThingsResults(count=len(_live_things))

    async def close_gate(self, params: C.Conformance_CloseGateParams) -> None:
        self.log.clear()
        self.gate.clear()

    async def open_gate(self, params: C.Conformance_OpenGateParams) -> None:
        self.log.append("gate:open")
        self.gate.set()

    async def events(self, params: C.Conformance_EventsParams) -> C.Conformance_EventsResults:
        return C.Conformance_EventsResults(log=list(self.log))

    async def big(self, params: C.Conformance_BigParams) -> C.Conformance_BigResults:
        return C.Conformance_BigResults(data=_pattern(params.size))

    async def measure(self, params: C.Conformance_MeasureParams) -> C.Conformance_MeasureResults:
        data = params.data
        return C.Conformance_MeasureResults(size=len(data), checksum=sum(data))

    async def numbers(self, params: C.Conformance_NumbersParams,
                      out: Producer[C.Point]) -> C.Conformance_NumbersResults:
        for i in range(params.count):
            await out.send(C.Point(x=float(i), y=-float(i)))
        return C.Conformance_NumbersResults(sent=params.count)

    async def drain(self, params: C.Conformance_DrainParams) -> C.Conformance_DrainResults:
        if self.callback is None:
            raise LookupError("the host passed no Callback at start")
        received, sum_x = 0, 0.0
        points = self.callback.produce(count=params.count)
        async for p in points:
            received += 1
            sum_x += p.x
        await points
        return C.Conformance_DrainResults(received=received, sum_x=sum_x)


def make(host: Host) -> Conformance:
    """The entry point: ``conformance_guest:make``."""
    return Conformance(host.client(C.CallbackClient) if host.has(C.CallbackClient) else None)
