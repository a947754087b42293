// The Node guest of the adapter conformance suite: implements `Conformance` of
// tests/conformance/schema/conformance.capnp (entry point `conformance_guest.mjs:make`).
//
// Each method does what the schema's comment says, with the adapter's ordinary API only:
// generated classes from conformance_capnp.mjs, polyhost/wire for the canonical form,
// polyhost/streams producers and inbound streams, AbortSignal cancellation.

import { setTimeout as delay } from "node:timers/promises";
import v8 from "node:v8";
import vm from "node:vm";

import * as C from "conformance_capnp.mjs";
import * as wire from "polyhost/wire";

/** The error `fail` throws: its type name is what the host must see. */
class ConformanceError extends Error {}

function raiseFor(kind) {
  // A function of its own, so the stack names this file and this function.
  throw new ConformanceError(`failure: ${kind}`);
}

// A garbage collection on demand (liveThings), without starting node with --expose-gc.
v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc");

let serials = 0;
const liveThings = new Set(); // WeakRefs of the Things made

class Thing extends C.Thing {
  constructor(label, log) {
    super();
    this.label = label;
    this.serial = ++serials;
    this.log = log;
    liveThings.add(new WeakRef(this));
  }

  get() {
    this.log.push(`get:${this.label}`);
    return { label: this.label, serial: this.serial };
  }
}

/** Byte i is (i * 7 + 3) mod 256. */
function pattern(size) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + 3) & 0xFF;
  return out;
}

class Gate {
  constructor() {
    this.open = true;
    this.waiters = [];
  }

  close() { this.open = false; }

  set() {
    this.open = true;
    for (const w of this.waiters.splice(0)) w();
  }

  wait() {
    return this.open ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

class Conformance extends C.Conformance {
  constructor(callback) {
    super();
    this.callback = callback;
    this.cancelled = 0;
    this.log = [];
    this.gate = new Gate();
  }

  echo({ value }) {
    return { value };
  }

  canonical({ value }) {
    const mb = new wire.MessageBuilder();
    (value ?? new C.Everything()).$write(mb.initRoot(C.Everything.$dataWords, C.Everything.$ptrCount));
    const fresh = new wire.MessageReader(mb.segments());
    return { bytes: wire.canonicalize(fresh.root()) };
  }

  fail({ kind }) {
    raiseFor(kind);
  }

  async sleep({ ms }, { signal }) {
    this.log.push(`sleep:${ms}:start`);
    try {
      await delay(ms, undefined, { signal });
    } catch (e) {
      if (signal.aborted) this.cancelled++;
      throw e;
    }
    return { completed: true };
  }

  cancelledCount() {
    return { count: this.cancelled };
  }

  async callHost({ x }) {
    if (this.callback === null) throw new Error("the host passed no Callback at start");
    const r = await this.callback.call({ x });
    return { y: r.y };
  }

  async applyTo({ callback, x }) {
    if (callback === null) throw new TypeError("applyTo needs a callback");
    try {
      const r = await callback.call({ x });
      return { y: r.y };
    } finally {
      callback.close(); // done with it: the host may release its object now
    }
  }

  async make({ label }) {
    this.log.push(`make:${label}:start`);
    await this.gate.wait();
    this.log.push(`make:${label}:return`);
    return { thing: new Thing(label, this.log) };
  }

  async liveThings() {
    // Collect, then let finalizers run (they release dropped capabilities).
    collectGarbage();
    await delay(1);
    collectGarbage();
    let count = 0;
    for (const ref of liveThings) {
      if (ref.deref() === undefined) liveThings.delete(ref);
      else count++;
    }
    return { count };
  }

  closeGate() {
    this.log.length = 0;
    this.gate.close();
  }

  openGate() {
    this.log.push("gate:open");
    this.gate.set();
  }

  events() {
    return { log: [...this.log] };
  }

  big({ size }) {
    return { data: pattern(size) };
  }

  measure({ data }) {
    let checksum = 0;
    for (let i = 0; i < data.length; i++) checksum += data[i];
    return { size: BigInt(data.length), checksum: BigInt(checksum) };
  }

  async numbers({ count }, out) {
    for (let i = 0; i < count; i++) await out.send(new C.Point({ x: i, y: -i }));
    return { sent: count };
  }

  async drain({ count }) {
    if (this.callback === null) throw new Error("the host passed no Callback at start");
    let received = 0;
    let sumX = 0;
    const points = this.callback.produce({ count });
    for await (const p of points) {
      received++;
      sumX += p.x;
    }
    await points.results();
    return { received, sumX };
  }
}

/** The entry point: `conformance_guest.mjs:make`. */
export function make(host) {
  return new Conformance(host.has(C.CallbackClient) ? host.client(C.CallbackClient) : null);
}
