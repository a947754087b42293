"""The benchmark's plugin (tests/schema/bench.capnp, driven by tests/src/bin/bench.rs)."""

import bench_capnp as api


class Bench(api.Bench):
    def __init__(self, host) -> None:
        self.feeder = host.client(api.FeederClient) if host.has(api.FeederClient) else None

    async def echo_bytes(self, params):
        return api.Bench_EchoBytesResults(data=params.data)

    async def produce(self, params, out):
        item = api.Item
        send = out.send
        for i in range(params.count):
            await send(item(seq=i, value=float(i)))

    async def consume(self, params):
        if self.feeder is None:
            raise LookupError("the host passed no Feeder at start")
        received = 0
        items = self.feeder.feed(count=params.count)
        async for batch in items.batches():
            received += len(batch)
        await items
        return api.Bench_ConsumeResults(received=received)


def make(host):
    return Bench(host)
