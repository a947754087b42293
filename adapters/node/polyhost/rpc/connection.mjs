// The two-party RPC connection: message loop and protocol state machine.
//
// Owns reading frames (wire's FrameDecoder with the connection's limits) and writing
// them (the messages produced while handling one chunk go out in one write when it is
// handled; others produced in one turn of the event loop, in one write), the
// handling of every rpc Message (bootstrap, call, return, finish, resolve, release,
// disembargo, abort, unimplemented; anything else is answered with Unimplemented), the
// question / answer / export / import / embargo tables (capabilities, Resolve and
// Disembargo are its base class's, capabilities.mjs), and the connection's life: a
// malformed frame or a protocol violation is answered with Abort and closes the
// connection; EOF or the peer's Abort closes it; closing fails every outstanding call
// with DisconnectedError and aborts running handlers.
//
//   const conn = new Connection(socket, { bootstrap: new MyWorker(), maxConcurrency: 8 });
//   const peer = conn.bootstrap();        // Capability
//   ...
//   conn.close();  await conn.closed;
//
// Rules kept from the reference implementation (capnp-rpc rpc.rs): Return never sets
// releaseParamCaps (param capabilities are released with Release as they are dropped);
// a Return whose results hold no capability sets noFinishNeeded; Finish after a Return
// uses releaseResultCaps=false (we imported the result caps), a Finish that cancels uses
// true; a Return for a question we cancelled is dropped without importing its caps.

import { Buffer } from "node:buffer";

import * as wire from "../wire/index.mjs";
import {
  Bootstrap, Call, CapDescriptor, Exception, Exception_Type, Finish, Message, MessageTarget, Payload, Return,
} from "../rpc_capnp.mjs";
import { CapabilityTables } from "./capabilities.mjs";
import { CapContent, RawContent } from "./content.mjs";
import {
  CanceledError, DisconnectedError, ExceptionType, ProtocolError, RpcError, fromCapnpException,
  fromJsError, present, toCapnpException,
} from "./errors.mjs";
import { BrokenHook, Pending, factory, hookOf } from "./hooks.mjs";
import { Question } from "./remote.mjs";
import { Limiter } from "./server.mjs";
import { Answer, IdTable } from "./tables.mjs";

// capnp/rpc.capnp layout: Message's union discriminant is data bits 0-15 and its member
// pointer 0; Return's answerId is data bits 0-31, releaseParamCaps bit 32 (default
// true), noFinishNeeded bit 33, its union discriminant the 16 bits at 48 and `results`
// pointer 0; Payload.content is pointer 0, Payload.capTable pointer 1.
const MESSAGE_CALL = Message.$union.call;
const MESSAGE_RETURN = Message.$union.return;
const RETURN_RELEASE_PARAM_CAPS_BIT = 32;
const RETURN_NO_FINISH_NEEDED_BIT = 33;
const RETURN_WHICH = 3; // in 16-bit units
const RETURN_RESULTS = Return.$union.results;
const PAYLOAD_CONTENT = 0;
const PAYLOAD_CAP_TABLE = 1;
// Call: questionId data bits 0-31, methodId the 16 bits at 32, sendResultsTo's union
// discriminant the 16 bits at 48 (caller: 0), interfaceId the 64 bits at 64; target
// pointer 0, params pointer 1.
const CALL_QUESTION_ID = 0; // in 32-bit units
const CALL_METHOD_ID = 2; // in 16-bit units
const CALL_SEND_RESULTS_TO = 3; // in 16-bit units
const CALL_INTERFACE_ID = 1; // in 64-bit units
const CALL_TARGET = 0;
const CALL_PARAMS = 1;
const SEND_RESULTS_TO_CALLER = 0;

/** What the connection reads of a received Call (the message of every call: no
 *  generated Message / Call objects are made for it); target and params are decoded
 *  by the generated classes, in the order Call.$read decodes them. */
class CallReader {
  constructor(s) {
    this.questionId = s.getUint32(CALL_QUESTION_ID, 0);
    this.target = s.hasPointer(CALL_TARGET) ? MessageTarget.$read(s.getStruct(CALL_TARGET)) : null;
    this.interfaceId = s.getUint64(CALL_INTERFACE_ID, 0n);
    this.methodId = s.getUint16(CALL_METHOD_ID, 0);
    this.params = s.hasPointer(CALL_PARAMS) ? Payload.$read(s.getStruct(CALL_PARAMS)) : null;
    this.toCaller = s.getUint16(CALL_SEND_RESULTS_TO, 0) === SEND_RESULTS_TO_CALLER;
  }
}

/** Written in place of a Payload: the content first, then the cap table made from the
 *  capabilities the content put in the message's cap table. */
class OutPayload extends Payload {
  constructor(conn, content) {
    super();
    this.conn = conn;
    this.content = content;
    this.table = null;
    this.exports = [];
    this.ncaps = 0;
  }

  $write(b) {
    this.content.writeInto(b, PAYLOAD_CONTENT);
    const table = this.table;
    const n = this.ncaps = table.length;
    if (n) {
      const lb = b.initStructList(PAYLOAD_CAP_TABLE, n, CapDescriptor.$dataWords, CapDescriptor.$ptrCount);
      for (let i = 0; i < n; i++) this.conn._writeDescriptor(table[i], this.exports).$write(lb.getStruct(i));
    }
  }
}

/** Written in place of a Message holding a Return with results (releaseParamCaps
 *  false), straight into the builder (the answer of every successful call: no generated
 *  Message / Return objects are made for it); sets noFinishNeeded when the results
 *  turned out to hold no capability. */
class ResultsMessage {
  constructor(answerId, payload) {
    this.which = "return";
    this.answerId = answerId;
    this.payload = payload;
  }

  $write(b) {
    b.setUint16(0, MESSAGE_RETURN, 0);
    const r = b.initStruct(0, Return.$dataWords, Return.$ptrCount);
    r.setUint32(0, this.answerId, 0);
    r.setBool(RETURN_RELEASE_PARAM_CAPS_BIT, false, true);
    r.setUint16(RETURN_WHICH, RETURN_RESULTS, 0);
    this.payload.$write(r.initStruct(0, Payload.$dataWords, Payload.$ptrCount));
    if (this.payload.ncaps === 0) r.setBool(RETURN_NO_FINISH_NEEDED_BIT, true, false);
  }
}

/** Diagnostics go to stderr (a worker's stderr becomes the host's log). */
// The stats keys, made once.
const SENT = Object.fromEntries(Object.keys(Message.$union).map((k) => [k, `sent.${k}`]));
const RECV = Object.fromEntries(Object.keys(Message.$union).map((k) => [k, `recv.${k}`]));

// Message members that are structs (a null one is a protocol error).
const STRUCT_MEMBERS = new Set(["call", "return", "finish", "resolve", "release", "disembargo", "bootstrap", "abort"]);

function report(conn, what) {
  process.stderr.write(`polyhost rpc (${conn.name}): ${what}\n`);
}

/**
 * One end of a two-party RPC connection over a stream socket (a net.Socket, or any
 * Duplex with 'data' / 'end' / 'close' / 'error' events, write() and destroy()).
 * Options: `bootstrap` (the object served to the peer's Bootstrap: a Server or
 * Capability), `limits` (wire.Limits for incoming frames), `maxConcurrency` (most
 * handlers running at once for calls from this connection; default unlimited),
 * `name` (for diagnostics).
 */
export class Connection extends CapabilityTables {
  constructor(socket, { bootstrap = null, limits = null, maxConcurrency = null, name = "rpc" } = {}) {
    super();
    this.socket = socket;
    this.name = name;
    this._decoder = new wire.FrameDecoder(limits ?? new wire.Limits());
    this._questions = new IdTable();
    this._answers = new Map();
    this._exports = new IdTable();
    this._exportsByHook = new Map();
    this._imports = new Map();
    this._embargoes = new IdTable();
    this._bootstrapHook = bootstrap !== null ? hookOf(bootstrap).addRef() : null;
    this._limiter = maxConcurrency ? new Limiter(maxConcurrency) : null;
    /** Messages sent and received by kind ("sent.call", "recv.return", ...). */
    this.stats = Object.create(null);
    this.closed = false;
    this.error = null;
    this._out = [];
    this._scratch = new wire.Scratch();
    this._flushScheduled = false;
    this._receiving = false; // in _receive: it flushes when done
    this._flush = () => this._flushNow();
    let resolveClosed;
    /** Resolves when the connection is closed (by either side or an error). */
    this.closed$ = new Promise((resolve) => { resolveClosed = resolve; });
    this._resolveClosed = resolveClosed;
    this._onData = (chunk) => this._receive(chunk);
    this._onEnd = () => {
      if (!this.closed && !this._decoder.atBoundary()) {
        report(this, `the peer closed the connection in the middle of a frame (${this._decoder.buffered} bytes of it received)`);
      }
      this._disconnect(new DisconnectedError("the peer closed the connection"));
    };
    this._onError = (e) => this._disconnect(new DisconnectedError(`connection lost: ${e.message}`));
    socket.on("data", this._onData);
    socket.on("end", this._onEnd);
    socket.on("close", this._onEnd);
    socket.on("error", this._onError);
  }

  /** Resolves when the connection is closed. */
  waitClosed() { return this.closed$; }

  /** Closes the connection: outstanding calls fail with DisconnectedError. */
  close() {
    this._disconnect(new DisconnectedError("connection closed"));
    return this.closed$;
  }

  /** The peer's bootstrap capability (usable at once: calls are pipelined). */
  bootstrap() {
    const q = new Question(this);
    if (this.closed) {
      q._complete(null, this.error);
    } else {
      q.id = this._questions.alloc(q);
      this._send(new Message({ bootstrap: new Bootstrap({ questionId: q.id }) }));
    }
    const cap = factory.newCapability(q.pipelinedHook([]));
    // Nothing but the capability above reads the answer: once it has its own reference,
    // the answer's message lets go of its cap table at once (not when collected).
    q.addListener((done) => done.content?.dispose?.());
    return cap;
  }

  /** Sizes of the protocol tables (for tests and diagnostics). */
  tableSizes() {
    return {
      questions: this._questions.size, answers: this._answers.size, exports: this._exports.size,
      imports: this._imports.size, embargoes: this._embargoes.size,
    };
  }

  toString() { return `<Connection ${this.name}${this.closed ? " closed" : ""}>`; }

  _count(key) {
    this.stats[key] = (this.stats[key] ?? 0) + 1;
  }

  // -- the loop ---------------------------------------------------------------------------

  _receive(chunk) {
    if (this.closed) return;
    // What the chunk's messages produce synchronously (the answers of synchronous
    // handlers above all) goes out in one write at the end, without waiting for a tick.
    this._receiving = true;
    try {
      this._receiveFrames(chunk);
    } finally {
      this._receiving = false;
    }
    if (this._out.length !== 0) this._flushNow();
  }

  _receiveFrames(chunk) {
    let messages;
    try {
      messages = this._decoder.feed(chunk);
    } catch (e) {
      if (e instanceof wire.WireError) {
        this._abort(`malformed frame: ${e.name}: ${e.message}`);
        return;
      }
      throw e;
    }
    for (const mr of messages) {
      if (this.closed) return;
      try {
        this._handle(mr);
      } catch (e) {
        if (e instanceof ProtocolError) this._abort(`protocol error: ${e.message}`);
        else if (e instanceof wire.WireError) this._abort(`malformed message: ${e.name}: ${e.message}`);
        else {
          report(this, `internal error handling a message: ${e?.stack ?? e}`);
          this._abort(`internal error: ${e?.name}: ${e?.message}`);
        }
        return;
      }
    }
  }

  /** Encodes one Message and queues it; returns its size in bytes. */
  _send(msg, payload = null) {
    // The bytes are copied out at once, so one zeroed first segment serves every
    // message (a fresh one only if encoding re-enters _send).
    const scratch = this._scratch.take();
    const mb = new wire.MessageBuilder({ scratch });
    let data;
    try {
      if (payload !== null) payload.table = mb.capTable;
      msg.$write(mb.initRoot(Message.$dataWords, Message.$ptrCount));
      data = mb.toBytes();
    } finally {
      if (scratch !== null) scratch.release(mb);
    }
    this._out.push(data);
    if (!this._flushScheduled && !this._receiving) {
      this._flushScheduled = true;
      process.nextTick(this._flush);
    }
    this._count(SENT[msg.which] ?? `sent.${msg.which}`);
    return data.length;
  }

  _flushNow() {
    this._flushScheduled = false;
    const out = this._out;
    if (out.length === 0) return;
    this._out = [];
    if (this.socket.destroyed) return;
    this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
  }

  _abort(reason) {
    if (this.closed) return;
    report(this, `aborting the connection: ${reason}`);
    try {
      this._send(new Message({ abort: new Exception({ reason, type: Exception_Type.FAILED }) }));
      this._flushNow();
    } catch (e) {
      report(this, `could not send Abort: ${e?.stack ?? e}`);
    }
    this._disconnect(new DisconnectedError(`connection aborted: ${reason}`));
  }

  _disconnect(error) {
    if (this.closed) return;
    this.closed = true;
    this.error = error;
    const questions = this._questions.values();
    this._questions.clear();
    for (const q of questions) q._complete(null, error);
    const answers = [...this._answers.values()];
    this._answers.clear();
    for (const a of answers) if (a.pending !== null) a.pending.cancel();
    const embargoes = this._embargoes.values();
    this._embargoes.clear();
    for (const cb of embargoes) cb(error);
    for (const imp of this._imports.values()) {
      if (imp.promise !== null && !imp.promise.isResolved) imp.promise.resolve(new BrokenHook(error));
    }
    this._imports.clear();
    const exports = this._exports.values();
    this._exports.clear();
    this._exportsByHook.clear();
    for (const e of exports) e.hook.release();
    if (this._bootstrapHook !== null) {
      this._bootstrapHook.release();
      this._bootstrapHook = null;
    }
    const s = this.socket;
    s.off("data", this._onData);
    try {
      this._flushNow();
      if (typeof s.end === "function") s.end();
      setImmediate(() => s.destroy());
    } catch {
      // already gone
    }
    this._resolveClosed();
  }

  // -- dispatch ---------------------------------------------------------------------------

  _handle(mr) {
    const root = mr.root();
    if (root.getUint16(0, 0) === MESSAGE_CALL) { // (so `call` is not among the cases below)
      this._count(RECV.call);
      this._onCall(new CallReader(present(root.hasPointer(0) ? root.getStruct(0) : null, "Message.call")), mr);
      return;
    }
    const msg = Message.$read(root);
    const w = msg.which;
    this._count(RECV[w] ?? `recv.${w}`);
    if (STRUCT_MEMBERS.has(w)) present(msg[w], `Message.${w}`);
    switch (w) {
      case "return": this._onReturn(msg.return, mr, msg); break;
      case "finish": this._onFinish(msg.finish); break;
      case "resolve": this._onResolve(msg.resolve); break;
      case "release": this._releaseExport(msg.release.id, msg.release.referenceCount); break;
      case "disembargo": this._onDisembargo(msg.disembargo, root); break;
      case "bootstrap": this._onBootstrap(msg.bootstrap); break;
      case "abort": {
        const a = fromCapnpException(msg.abort);
        report(this, `the peer aborted the connection: ${a.reason}`);
        this._disconnect(new DisconnectedError(`connection aborted by the peer: ${a.reason}`, a.trace));
        break;
      }
      case "unimplemented":
        // A null root reads as an empty `unimplemented`: nothing to act on.
        if (msg.unimplemented === null) {
          throw new ProtocolError("an Unimplemented message that holds no message (a null root, or a null unimplemented field)");
        }
        this._onUnimplemented(msg.unimplemented);
        break;
      default: this._sendUnimplemented(root);
    }
  }

  // rpc.capnp: Unimplemented echoes the message received, exactly as received (a kind
  // this side cannot decode included), so it is copied as raw words.
  _sendUnimplemented(root) {
    try {
      this._send(new Echo(root));
    } catch (e) {
      // Capability pointers of a kind we do not know have no table to copy from; any
      // other wire error makes the message malformed, and the connection aborts.
      if (e instanceof wire.WireError && !(e instanceof wire.InvalidCapability)) throw e;
      report(this, `could not echo an unimplemented message (discriminant ${root.getUint16(0, 0)}): ${e.message}`);
    }
  }

  // -- calls we answer --------------------------------------------------------------------

  _onBootstrap(b) {
    const qid = b.questionId;
    if (this._answers.has(qid)) throw new ProtocolError(`Bootstrap reuses question id ${qid} still in use`);
    const a = new Answer(qid);
    this._answers.set(qid, a);
    const p = new Pending();
    if (this._bootstrapHook === null) p._complete(null, new RpcError("this peer serves no bootstrap capability"));
    else p._complete(new CapContent(this._bootstrapHook));
    a.pending = p;
    this._onAnswerDone(a, p);
  }

  _onCall(c, mr) {
    const qid = c.questionId;
    if (this._answers.has(qid)) throw new ProtocolError(`Call reuses question id ${qid} still in use`);
    if (!c.toCaller) {
      this._sendUnimplemented(mr.root());
      return;
    }
    const target = this._targetHook(c.target);
    let a;
    let p;
    try {
      const caps = this._receiveCaps(present(c.params, "Call.params").capTable);
      mr.capTable = caps;
      a = new Answer(qid);
      this._answers.set(qid, a);
      const content = new RawContent(c.params.content, caps);
      a.paramCaps = content;
      p = target.call(c.interfaceId, c.methodId, content, this);
    } finally {
      target.release();
    }
    a.pending = p;
    p.addListener((done) => this._onAnswerDone(a, done));
  }

  _onAnswerDone(a, p) {
    if (this.closed || this._answers.get(a.id) !== a || a.returnSent) return;
    if (a.finishReceived || p.error instanceof CanceledError) {
      this._send(new Message({ return: new Return({ answerId: a.id, releaseParamCaps: false, which: "canceled" }) }));
    } else if (p.error !== null) {
      this._sendExceptionReturn(a, p.error);
    } else {
      const payload = new OutPayload(this, p.content);
      try {
        this._send(new ResultsMessage(a.id, payload), payload);
      } catch (e) {
        this._releaseExports(payload.exports);
        report(this, `could not encode the results of answer ${a.id}: ${e.message}`);
        this._sendExceptionReturn(a, fromJsError(e));
        payload.ncaps = 0;
      }
      if (payload.ncaps > 0) a.resultExports = payload.exports;
      else a.finishReceived = true; // we said noFinishNeeded
    }
    a.returnSent = true;
    if (a.paramCaps !== null) {
      a.paramCaps.dispose();
      a.paramCaps = null;
    }
    if (a.finishReceived) this._answers.delete(a.id);
  }

  _sendExceptionReturn(a, err) {
    this._send(new Message({ return: new Return({ answerId: a.id, releaseParamCaps: false, exception: toCapnpException(err) }) }));
  }

  _onFinish(f) {
    const a = this._answers.get(f.questionId);
    if (a === undefined) return; // we said noFinishNeeded, or the Finish crossed our Return
    a.finishReceived = true;
    if (f.releaseResultCaps) {
      const exports = a.resultExports;
      a.resultExports = [];
      this._releaseExports(exports);
    }
    if (a.returnSent) this._answers.delete(a.id);
    else if (a.pending !== null) a.pending.cancel();
  }

  // -- calls we ask -----------------------------------------------------------------------

  _sendCall(target, interfaceId, methodId, content) {
    const q = new Question(this);
    if (this.closed) {
      q._complete(null, this.error);
      return q;
    }
    q.id = this._questions.alloc(q);
    const payload = new OutPayload(this, content);
    const msg = new Message({ call: new Call({ questionId: q.id, target, interfaceId, methodId, params: payload }) });
    try {
      q.size = this._send(msg, payload);
    } catch (e) {
      this._questions.pop(q.id);
      this._releaseExports(payload.exports);
      q._complete(null, fromJsError(e));
      return q;
    }
    q.paramExports = payload.exports;
    return q;
  }

  _cancelQuestion(q) {
    if (q.done || q.returned) return;
    if (!this.closed && !q.finishSent) {
      q.finishSent = true;
      this._send(new Message({ finish: new Finish({ questionId: q.id, releaseResultCaps: true }) }));
    }
    q._complete(null, new CanceledError());
  }

  _onReturn(r, mr, msg) {
    const q = this._questions.get(r.answerId);
    if (q === undefined) throw new ProtocolError(`Return for unknown question id ${r.answerId}`);
    q.returned = true;
    if (r.releaseParamCaps && q.paramExports.length) this._releaseExports(q.paramExports);
    q.paramExports = [];
    if (q.done) { // cancelled: Finish (releaseResultCaps) already sent
      this._questions.pop(q.id);
      return;
    }
    switch (r.which) {
      case "results": {
        const results = present(r.results, "Return.results");
        const caps = this._receiveCaps(results.capTable);
        mr.capTable = caps;
        q._complete(new RawContent(results.content, caps));
        break;
      }
      case "exception":
        q._complete(null, fromCapnpException(present(r.exception, "Return.exception")));
        break;
      case "canceled":
        q._complete(null, new RpcError("the call was canceled by the callee"));
        break;
      default:
        q._complete(null, new RpcError(`unsupported Return kind ${r.which}`, ExceptionType.UNIMPLEMENTED));
        this._sendUnimplemented(mr.root());
    }
    if (!q.finishSent && !r.noFinishNeeded && !this.closed) {
      q.finishSent = true;
      this._send(new Message({ finish: new Finish({ questionId: q.id, releaseResultCaps: false }) }));
    }
    this._questions.pop(q.id);
  }

  _onUnimplemented(m) {
    const w = m.which;
    if (STRUCT_MEMBERS.has(w)) present(m[w], `Unimplemented.${w}`);
    if (w === "resolve" && m.resolve.which === "cap") {
      const d = present(m.resolve.cap, "Unimplemented.resolve.cap");
      if (d.which === "senderHosted" || d.which === "senderPromise") this._releaseExports([d[d.which]]);
    } else if (w === "call" || w === "bootstrap") {
      const q = this._questions.pop(m[w].questionId);
      if (q !== undefined) {
        q._complete(null, new RpcError(`the peer does not implement this ${w}`, ExceptionType.UNIMPLEMENTED));
      }
    } else {
      report(this, `the peer does not implement ${w} messages`);
    }
  }
}

/** An Unimplemented message whose content is a received message's root, copied word
 *  for word (so a kind this side does not know is echoed as it arrived). */
class Echo {
  constructor(root) {
    this.root = root;
    this.which = "unimplemented";
  }

  $write(b) {
    // Message's union discriminant is its first 16 bits; `unimplemented` is 0 and its
    // Message is pointer 0.
    b.setUint16(0, 0, 0);
    b.copyPointer(0, this.root);
  }
}
