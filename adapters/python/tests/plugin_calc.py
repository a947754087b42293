"""A test plugin: implements features.capnp's Calculator (and Counter) for the worker
and stream tests. Run as ``python3 -m polyhost.worker plugin_calc:factory`` with
``tests/`` and ``tests/generated/`` on PYTHONPATH; ``plugin_broken`` fails at import.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, List, Optional

import features_capnp as F
from polyhost import context
from polyhost.streams import Producer
from polyhost.worker import Host


class CounterImpl(F.Counter):
    def __init__(self, start: int) -> None:
        self.value = start

    async def increment(self, params: F.Counter_IncrementParams) -> F.Counter_IncrementResults:
        self.value += params.by
        return F.Counter_IncrementResults(value=self.value)

    def read(self, params: F.Counter_ReadParams) -> F.Counter_ReadResults:   # sync: a thread
        return F.Counter_ReadResults(value=self.value)


class CalculatorImpl(F.Calculator):
    def __init__(self, logger: Optional[F.LoggerClient] = None) -> None:
        self.logger = logger
        self.ticks: List[int] = []
        self.lines_seen: List[str] = []

    async def name(self, params: F.Named_NameParams) -> F.Named_NameResults:
        ctx = context.current()
        session = ctx.session if ctx is not None else ""
        return F.Named_NameResults(name="calc pid=%d session=%s" % (os.getpid(), session))

    async def add(self, params: F.Calculator_AddParams) -> Any:
        return {"sum": params.a + params.b}

    async def describe(self, params: F.Calculator_DescribeParams) -> F.Calculator_DescribeResults:
        s = params.shape
        assert s is not None
        area = 3.0 * s.circle * s.circle if s.which == "circle" and s.circle is not None else 0.0
        return F.Calculator_DescribeResults(area=area, label=s.name)

    async def counter(self, params: F.Calculator_CounterParams) -> F.Calculator_CounterResults:
        return F.Calculator_CounterResults(counter=CounterImpl(params.start))

    async def use_logger(self, params: F.Calculator_UseLoggerParams) -> None:
        logger = params.logger if params.logger is not None else self.logger
        assert logger is not None
        lines = logger.lines()                      # the host produces, we consume
        self.lines_seen = [line async for line in lines]
        res = await lines
        await logger.log(level=F.Color.BLUEISH,
                         message="got %d lines, count=%d" % (len(self.lines_seen), res.count))

    async def numbers(self, params: F.Calculator_NumbersParams, out: Producer[F.Point]) -> None:
        for i in range(params.count):
            if i == 13 and params.count == 13_000:
                raise ValueError("unlucky")
            await out.send(F.Point(x=float(i), y=-float(i)))

    def sum(self, params: F.Calculator_SumParams, input: Producer[F.Point]) -> F.Calculator_SumResults:
        # a sync handler producing from its thread
        for i in range(5):
            input.send_blocking(F.Point(x=i, y=1))
        return F.Calculator_SumResults(total=F.Point(x=10, y=5))

    async def tick(self, params: F.Calculator_TickParams) -> None:
        self.ticks.append(params.n)

    async def echo(self, params: F.Calculator_EchoParams) -> F.Calculator_EchoResults:
        return F.Calculator_EchoResults(value=params.value)

    async def holder(self, params: F.Calculator_HolderParams) -> F.Calculator_HolderResults:
        return F.Calculator_HolderResults(holder=F.Holder(counter=CounterImpl(7)))


def factory(host: Host) -> Any:
    logger = host.client(F.LoggerClient) if host.has(F.LoggerClient) else None
    return [CalculatorImpl(logger), CounterImpl(100)]


async def slow_factory(host: Host) -> Any:
    await asyncio.sleep(0)
    return CalculatorImpl()
