// Payload contents: what a call carries as params or results.
//
// Three shapes, all with writeInto(structBuilder, pointerIndex) (copy into an outgoing
// message, capabilities going to the builder's cap table), struct() (a StructReader
// whose capability pointers read as Capability objects) and capHook(ops) (a new
// reference to the capability at a pointer path):
// - RawContent: read from a message (a PointerReader plus its cap table);
// - ObjContent: a generated struct instance (or null for an empty struct);
// - CapContent: a single capability as the root (Bootstrap results).

import * as wire from "../wire/index.mjs";
import { BrokenHook, factory, hookOf } from "./hooks.mjs";
import { RpcError } from "./errors.mjs";

export class RawContent {
  constructor(pointer, caps) {
    this.pointer = pointer;
    this.caps = caps;
  }

  struct() { return this.pointer.asStruct(); }

  writeInto(b, i) { b.copyPointer(i, this.pointer); }

  capHook(ops) {
    let p = this.pointer;
    for (const i of ops) p = p.asStruct().getPointer(i);
    const cap = p.asCapability();
    if (cap === null) return new BrokenHook(new RpcError("the pipelined capability is null"));
    return hookOf(cap).addRef();
  }

  /** Closes the capabilities received with this content (its message's cap table). */
  dispose() {
    const caps = this.caps;
    this.caps = null;
    if (caps) for (const c of caps) if (c !== null) c.close();
  }
}

export class ObjContent {
  constructor(obj) {
    this.obj = obj;
    this._raw = null;
  }

  writeInto(b, i) {
    const obj = this.obj;
    if (obj !== null && obj !== undefined) {
      const c = obj.constructor;
      obj.$write(b.initStruct(i, c.$dataWords, c.$ptrCount));
    }
  }

  /** This content encoded into its own message (capabilities as Capability objects). */
  raw() {
    if (this._raw === null) {
      const mb = new wire.MessageBuilder();
      const obj = this.obj;
      if (obj === null || obj === undefined) mb.initRoot(0, 0);
      else obj.$write(mb.initRoot(obj.constructor.$dataWords, obj.constructor.$ptrCount));
      const caps = mb.capTable.map((o) => (o == null ? null : factory.newCapability(hookOf(o).addRef())));
      const mr = new wire.MessageReader(mb.segments(), null, caps);
      this._raw = new RawContent(mr.rootPointer(), caps);
    }
    return this._raw;
  }

  struct() { return this.raw().struct(); }

  capHook(ops) { return this.raw().capHook(ops); }
}

export class CapContent {
  constructor(hook) {
    this.hook = hook;
  }

  writeInto(b, i) { b.setCapability(i, this.hook); }

  struct() { throw new RpcError("the content is a capability, not a struct"); }

  capHook(_ops) { return this.hook.addRef(); }
}
