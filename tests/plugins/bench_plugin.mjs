// The benchmark's Node plugin (tests/schema/bench.capnp, driven by tests/src/bin/bench.rs):
// the same methods as bench_plugin.py. The pool names it `bench_plugin.mjs:make`.

import * as api from "bench_capnp.mjs";

class Bench extends api.Bench {
  constructor(host) {
    super();
    this.feeder = host.has(api.FeederClient) ? host.client(api.FeederClient) : null;
  }

  echoBytes({ data }) { // synchronous: answered without a promise
    return { data };
  }

  async produce({ count }, out) {
    for (let i = 0; i < count; i++) await out.send(new api.Item({ seq: i, value: i }));
  }

  async consume({ count }) {
    if (this.feeder === null) throw new Error("the host passed no Feeder at start");
    let received = 0;
    const items = this.feeder.feed({ count });
    for await (const batch of items.batches()) received += batch.length;
    await items.results();
    return { received };
  }
}

export function make(host) {
  return new Bench(host);
}
