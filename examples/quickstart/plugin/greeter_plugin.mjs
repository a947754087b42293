// The quickstart's Node plugin: implements `Greeter` and `Counter` from
// schema/greeter.capnp, and calls the host's `HostLog` callback. The same interface as
// greeter_plugin.py; the pool names it `greeter_plugin.mjs:make`.

import * as api from "greeter_capnp.mjs";

/** A capability that lives in this worker; the host holds a handle to it. */
class Counter extends api.Counter {
  constructor(start) {
    super();
    this.value = start;
  }

  next() {
    this.value += 1n;
    return { value: this.value };
  }
}

class Greeter extends api.Greeter {
  constructor(host) {
    super();
    this.log = host.client(api.HostLogClient);
  }

  greet({ name }) {
    return { greeting: `Hello, ${name}! (from Node pid ${process.pid})` };
  }

  counter({ start }) {
    return { counter: new Counter(start) };
  }

  async shout({ text }) {
    const loud = text.toUpperCase();
    const { accepted } = await this.log.log({ line: `worker ${process.pid} shouts '${loud}'` });
    return { echoed: accepted ? loud : "(the host refused)" };
  }
}

/** The entry point the pool names: `greeter_plugin.mjs:make`. */
export function make(host) {
  return new Greeter(host);
}
