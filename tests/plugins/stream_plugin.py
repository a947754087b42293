"""Test plugin for streams (tests/schema/stream_lab.capnp)."""

import asyncio
import resource

import stream_lab_capnp as api
from polyhost.rpc import current_connection


class StreamLab(api.StreamLab):
    def __init__(self, host) -> None:
        self.feed = host.client(api.HostFeedClient)
        self.produced = 0
        self.cancelled = 0

    async def produce(self, params, out):
        for i in range(params.count):
            if params.fail_after and i == params.fail_after:
                raise ValueError(f"failed after {i} items")
            await out.send(api.Item(seq=i, payload=i * 3))
            self.produced += 1
        return api.StreamLab_ProduceResults(produced=params.count)

    async def produce_forever(self, params, out):
        i = 0
        try:
            while True:
                await out.send(api.Item(seq=i, payload=0))
                self.produced += 1
                i += 1
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    async def progress(self, params):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        return api.StreamLab_ProgressResults(produced=self.produced, cancelled=self.cancelled, peak_rss_kb=peak)

    async def pull_from_host(self, params):
        received = 0
        total = 0
        async with self.feed.feed(count=params.count) as items:
            async for item in items:
                received += 1
                total += item.payload
        return api.StreamLab_PullFromHostResults(received=received, sum=total)

    async def cancel_host_call(self, params):
        try:
            await asyncio.wait_for(self.feed.stall(), params.after_ms / 1000)
        except asyncio.TimeoutError:
            pass


    async def pipeline_on_host(self, params):
        conn = current_connection()
        before = conn.stats["sent.call"]
        first = self.feed.counter(start=params.start)
        second = first.counter.next()  # on the promised answer: no waiting
        sent = conn.stats["sent.call"] - before
        assert not first.done(), "nothing was awaited, so the first call cannot have returned"
        value = (await second).value
        return api.StreamLab_PipelineOnHostResults(value=value, calls_sent_before_first_returned=sent)


def make(host):
    return StreamLab(host)
