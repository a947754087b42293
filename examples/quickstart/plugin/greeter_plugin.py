"""The quickstart's Python plugin: implements `Greeter` and `Counter` from
schema/greeter.capnp, and calls the host's `HostLog` callback."""

import os

import greeter_capnp as api


class Counter(api.Counter):
    """A capability that lives in this worker; the host holds a handle to it."""

    def __init__(self, start: int) -> None:
        self.value = start

    def next(self, params: api.Counter_NextParams) -> api.Counter_NextResults:
        self.value += 1
        return api.Counter_NextResults(value=self.value)


class Greeter(api.Greeter):
    def __init__(self, host) -> None:
        self.log = host.client(api.HostLogClient)

    async def greet(self, params: api.Greeter_GreetParams) -> api.Greeter_GreetResults:
        return api.Greeter_GreetResults(greeting=f"Hello, {params.name}! (from Python pid {os.getpid()})")

    async def counter(self, params: api.Greeter_CounterParams) -> api.Greeter_CounterResults:
        return api.Greeter_CounterResults(counter=Counter(params.start))

    async def shout(self, params: api.Greeter_ShoutParams) -> api.Greeter_ShoutResults:
        loud = params.text.upper()
        logged = await self.log.log(line=f"worker {os.getpid()} shouts {loud!r}")
        return api.Greeter_ShoutResults(echoed=loud if logged.accepted else "(the host refused)")


def make(host):
    """The entry point the pool names: `greeter_plugin:make`."""
    return Greeter(host)
