// The capability side of a Connection: exports, imports, descriptors, targets, Resolve
// and Disembargo (CapabilityTables, the base class of connection.mjs's Connection).
//
// Owns what a capability becomes on the wire (_writeDescriptor: an export, or the
// peer's own import / promised answer handed back), what a received CapDescriptor and
// MessageTarget name (_receiveCap, _targetHook), the export and import tables'
// reference counts (Release), promise resolution both ways (Resolve) and embargoes
// (Disembargo). Its methods use the connection's tables and _send.

import {
  CapDescriptor, Disembargo, Disembargo_Context, Message, Release, Resolve,
} from "../rpc_capnp.mjs";
import { ProtocolError, RpcError, fromCapnpException, present, toCapnpException } from "./errors.mjs";
import { BrokenHook, PromiseHook, factory, hookOf, innermost } from "./hooks.mjs";
import { ImportHook, PipelineTargetHook } from "./remote.mjs";
import { Export } from "./tables.mjs";

export class CapabilityTables {
  // -- capabilities -----------------------------------------------------------------------

  /** The CapDescriptor for a capability being sent (exporting it if needed). */
  _writeDescriptor(obj, exports) {
    if (obj === null || obj === undefined) return new CapDescriptor({ which: "none" });
    let h = hookOf(obj);
    while (h instanceof PromiseHook && h._inner !== null) {
      h.markReceivedCall();
      h = h._inner;
    }
    if (h.conn === this) {
      if (h instanceof ImportHook) return new CapDescriptor({ receiverHosted: h.importId });
      if (h instanceof PipelineTargetHook) return new CapDescriptor({ receiverAnswer: h.promisedAnswer() });
    }
    let e;
    let eid = this._exportsByHook.get(h);
    if (eid !== undefined) {
      e = this._exports.get(eid);
      e.refcount++;
    } else {
      e = new Export(h.addRef(), h instanceof PromiseHook && !h.isResolved);
      eid = this._exports.alloc(e);
      this._exportsByHook.set(h, eid);
      if (e.isPromise) {
        const id = eid;
        h.whenResolved((promise) => this._resolveExport(id, e, promise));
      }
    }
    exports.push(eid);
    return e.isPromise ? new CapDescriptor({ senderPromise: eid }) : new CapDescriptor({ senderHosted: eid });
  }

  /** A promise we exported resolved: send Resolve, retarget the export. */
  _resolveExport(eid, e, promise) {
    if (this.closed || this._exports.get(eid) !== e) return;
    const target = innermost(promise);
    if (this._exportsByHook.get(promise) === eid) this._exportsByHook.delete(promise);
    let msg;
    if (target instanceof BrokenHook) {
      msg = new Resolve({ promiseId: eid, exception: toCapnpException(target.error) });
    } else {
      msg = new Resolve({ promiseId: eid, cap: this._writeDescriptor(promise, []) });
    }
    e.hook = target.addRef();
    e.isPromise = false;
    promise.release();
    this._send(new Message({ resolve: msg }));
  }

  _releaseExport(eid, count) {
    const e = this._exports.get(eid);
    if (e === undefined) throw new ProtocolError(`Release of unknown export id ${eid}`);
    if (count > e.refcount) {
      throw new ProtocolError(`Release of export ${eid} by ${count} exceeds its reference count ${e.refcount}`);
    }
    e.refcount -= count;
    if (e.refcount === 0) {
      this._exports.pop(eid);
      if (this._exportsByHook.get(e.hook) === eid) this._exportsByHook.delete(e.hook);
      e.hook.release();
    }
  }

  _releaseExports(eids) {
    for (const eid of eids) if (this._exports.get(eid) !== undefined) this._releaseExport(eid, 1);
  }

  _import(importId, isPromise) {
    let imp = this._imports.get(importId);
    if (imp === undefined) {
      imp = new ImportHook(this, importId);
      this._imports.set(importId, imp);
    }
    imp.remoteRefs++;
    if (isPromise) {
      let ph = imp.promise;
      if (ph === null || ph._dead) {
        ph = imp.promise = new PromiseHook(imp.addRef());
        return ph;
      }
      return ph.addRef();
    }
    return imp.addRef();
  }

  _releaseImport(imp) {
    if (this._imports.get(imp.importId) === imp) this._imports.delete(imp.importId);
    const n = imp.remoteRefs;
    imp.remoteRefs = 0;
    if (n && !this.closed) this._send(new Message({ release: new Release({ id: imp.importId, referenceCount: n }) }));
  }

  _receiveCap(d) {
    switch (d.which) {
      case "none": return null;
      case "senderHosted": return this._import(d.senderHosted, false);
      case "senderPromise": return this._import(d.senderPromise, true);
      case "receiverHosted": {
        const e = this._exports.get(d.receiverHosted);
        if (e === undefined) return new BrokenHook(new RpcError(`invalid receiverHosted export id ${d.receiverHosted}`));
        return e.hook.addRef();
      }
      case "receiverAnswer": {
        const pa = present(d.receiverAnswer, "CapDescriptor.receiverAnswer");
        const a = this._answers.get(pa.questionId);
        if (a === undefined || a.pending === null) {
          return new BrokenHook(new RpcError(`invalid receiverAnswer question id ${pa.questionId}`));
        }
        return a.pending.pipelinedHook(ops(pa.transform));
      }
      default:
        throw new ProtocolError(`unsupported CapDescriptor kind ${d.which}`);
    }
  }

  _receiveCaps(descriptors) {
    const caps = [];
    try {
      for (const d of descriptors) {
        const h = this._receiveCap(d);
        caps.push(h === null ? null : factory.newCapability(h));
      }
    } catch (e) {
      for (const c of caps) if (c !== null) c.close();
      throw e;
    }
    return caps;
  }

  /** A new reference to the hook a MessageTarget names. */
  _targetHook(t) {
    present(t, "MessageTarget");
    if (t.which === "importedCap") {
      const e = this._exports.get(t.importedCap);
      if (e === undefined) throw new ProtocolError(`message target ${t.importedCap} is not a current export id`);
      return e.hook.addRef();
    }
    if (t.which === "promisedAnswer") {
      const pa = present(t.promisedAnswer, "MessageTarget.promisedAnswer");
      const a = this._answers.get(pa.questionId);
      if (a === undefined || a.pending === null) {
        return new BrokenHook(new RpcError(
          `pipelined call on question ${pa.questionId}, which returned no capabilities or was already finished`));
      }
      return a.pending.pipelinedHook(ops(pa.transform));
    }
    throw new ProtocolError("unknown MessageTarget kind");
  }

  // -- resolve and embargoes --------------------------------------------------------------

  _onResolve(r) {
    const pid = r.promiseId;
    let next;
    if (r.which === "cap") {
      next = this._receiveCap(present(r.cap, "Resolve.cap"));
      if (next === null) throw new ProtocolError("Resolve to CapDescriptor.none");
    } else if (r.which === "exception") {
      next = new BrokenHook(fromCapnpException(present(r.exception, "Resolve.exception")));
    } else {
      throw new ProtocolError("unknown Resolve kind");
    }
    const imp = this._imports.get(pid);
    if (imp !== undefined && imp.promise === null) {
      next.release();
      throw new ProtocolError(`Resolve for import ${pid}, which is not a promise`);
    }
    if (imp === undefined || imp.promise.isResolved) {
      next.release(); // we released the promise already
      return;
    }
    imp.promise.resolve(next);
  }

  /** Sends Disembargo(senderLoopback) to `old`'s target; cb(null) runs when it echoes
   *  back (cb(error) if the connection dies first). */
  _startEmbargo(old, cb) {
    const eid = this._embargoes.alloc(cb);
    this._send(new Message({
      disembargo: new Disembargo({ target: old.writeTarget(), context: new Disembargo_Context({ senderLoopback: eid }) }),
    }));
  }

  _onDisembargo(d, root) {
    const ctx = d.context;
    if (ctx.which === "senderLoopback") {
      const target = this._targetHook(d.target);
      try {
        const h = innermost(target);
        if (h.conn !== this || !(h instanceof ImportHook || h instanceof PipelineTargetHook)) {
          throw new ProtocolError("Disembargo senderLoopback target does not resolve to a capability of the sender");
        }
        this._send(new Message({
          disembargo: new Disembargo({
            target: h.writeTarget(), context: new Disembargo_Context({ receiverLoopback: ctx.senderLoopback }),
          }),
        }));
      } finally {
        target.release();
      }
    } else if (ctx.which === "receiverLoopback") {
      const cb = this._embargoes.pop(ctx.receiverLoopback);
      if (cb === undefined) throw new ProtocolError(`Disembargo receiverLoopback with unknown embargo id ${ctx.receiverLoopback}`);
      cb(null);
    } else {
      this._sendUnimplemented(root);
    }
  }
}

function ops(transform) {
  const out = [];
  for (const op of transform) {
    if (op.which === "getPointerField") out.push(op.getPointerField);
    else if (op.which !== "noop") throw new ProtocolError("unknown PromisedAnswer.Op");
  }
  return out;
}
