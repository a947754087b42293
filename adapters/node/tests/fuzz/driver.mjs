// Fuzz driver for the Node guest runtime (run by the polyhost-fuzz crate).
//
//   node driver.mjs KIND        // KIND: framing | reader | rpc
//
// Writes one byte ("R") once it is ready, then reads batches from stdin: a
// little-endian u32 count, then that many inputs, each a
// u32 length and its bytes. Answers each input with one record: a status byte (0:
// handled, 1: refused with a typed error, 2: failure), a u32 length and a UTF-8 detail
// (empty unless it failed). A failure is an exception that is not the runtime's typed
// error (wire.WireError; for RPC also ProtocolError / RpcError where the API promises
// them), an internal error the connection reported, an uncaught exception or unhandled
// rejection, or resident memory growing by more than MEMORY_SLACK. A hang is detected
// by the caller, which gives each input a time limit. The process stays alive across
// inputs.
//
// - framing: the input is a byte stream fed to a FrameDecoder whole and again in small
//   chunks, and passed to readMessage;
// - reader: the input is one framed message, read with the default limits: every
//   pointer followed (structs, lists of every element size, text), the root
//   canonicalized, and decoded as an rpc Message and as each struct of the worker
//   protocol;
// - rpc: the input is the bytes a peer sends: a fresh Connection serving a small
//   WorkerProcess (that returns capabilities and throws) with a bootstrap question and
//   a call of its own outstanding is fed them, runs until idle, and is closed.

import { EventEmitter } from "node:events";
import fs from "node:fs";

import * as wire from "../../polyhost/wire/index.mjs";
import * as rpc from "../../polyhost/rpc/index.mjs";
import * as proto from "../../polyhost/polyhost_capnp.mjs";
import * as rpcCapnp from "../../polyhost/rpc_capnp.mjs";

const OK = 0;
const TYPED = 1;
const FAILURE = 2;
const MEMORY_SLACK = 256 * 1024 * 1024;

class Failure extends Error {}

// -- framing ------------------------------------------------------------------------

const CHUNKS = [1, 3, 8, 13, 64];

function runFraming(data) {
  let typed = false;
  try {
    wire.readMessage(data);
  } catch (e) {
    if (!(e instanceof wire.WireError)) throw e;
    typed = true;
  }
  for (const size of [data.length || 1, CHUNKS[data.length % CHUNKS.length]]) {
    const decoder = new wire.FrameDecoder();
    const messages = [];
    try {
      for (let i = 0; i < data.length; i += size) messages.push(...decoder.feed(data.subarray(i, i + size)));
      decoder.atBoundary();
      void decoder.buffered;
    } catch (e) {
      if (!(e instanceof wire.WireError)) throw e;
      typed = true;
      // a failed decoder keeps failing, with a typed error
      let accepted = false;
      try {
        decoder.feed(new Uint8Array(8));
        accepted = true;
      } catch (e2) {
        if (!(e2 instanceof wire.WireError)) throw e2;
      }
      if (accepted) throw new Failure("a failed FrameDecoder accepted more bytes");
    }
    for (const mr of messages) {
      try {
        mr.rootPointer().isNull();
      } catch (e) {
        if (!(e instanceof wire.WireError)) throw e;
        typed = true;
      }
    }
  }
  return typed;
}

// -- reader -------------------------------------------------------------------------

function walkPointer(p) {
  const t = p.target();
  if (t === null || t instanceof wire.Capability) return;
  if (t instanceof wire.StructReader) walkStruct(t);
  else walkList(t, p);
}

function walkStruct(s) {
  s.dataSection();
  s.getBool(0);
  for (let i = 0; i < s.pointerCount; i++) walkPointer(s.getPointer(i));
}

function walkList(lr, p) {
  const es = lr.elementSize;
  const n = lr.length;
  if (es === wire.POINTER) {
    for (let i = 0; i < n; i++) walkPointer(lr.getPointer(i));
  } else if (es === wire.INLINE_COMPOSITE) {
    for (let i = 0; i < n; i++) walkStruct(lr.getStruct(i));
  } else if (es === wire.BIT) {
    lr.primitives("bool");
  } else if (es === wire.BYTE) {
    lr.primitives("uint8");
    try {
      p.asText();
    } catch (e) {
      if (!(e instanceof wire.MalformedText)) throw e;
    }
    p.asData();
  } else if (es === wire.TWO_BYTES) {
    lr.primitives("uint16");
  } else if (es === wire.FOUR_BYTES) {
    lr.primitives("uint32");
  } else if (es === wire.EIGHT_BYTES) {
    lr.primitives("uint64");
  }
}

// rpc.capnp's Message (its members' structs are read through it) and every struct of
// the worker protocol, each read from the root of a message.
const DECODERS = [rpcCapnp.Message, ...Object.values(proto)
  .filter((v) => typeof v === "function" && typeof v.$read === "function" && v.$dataWords !== undefined)];

function runReader(data) {
  let typed = false;
  const attempt = (fn) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof wire.WireError)) throw e;
      typed = true;
    }
  };
  let mr;
  try {
    mr = wire.readMessage(data);
  } catch (e) {
    if (!(e instanceof wire.WireError)) throw e;
    return true;
  }
  attempt(() => walkPointer(mr.rootPointer()));
  attempt(() => wire.canonicalize(wire.readMessage(data).root()));
  for (const Cls of DECODERS) attempt(() => Cls.$read(wire.readMessage(data).root()));
  return typed;
}

// -- rpc ----------------------------------------------------------------------------

/** Answers every method: with results, a capability (itself or a new one), or an
 *  exception, so received calls reach every path of the connection. */
class FuzzWorker extends proto.WorkerProcess {
  constructor(depth = 0) {
    super();
    this.depth = depth;
  }

  async start(params) {
    for (const s of params.callbacks) void (s.name, s.interfaceId);
    return {
      info: new proto.WorkerInfo({ language: "fuzz" }),
      services: [new proto.Service({ interfaceId: 1n, name: "self", cap: this })],
    };
  }

  async scoped(params) {
    if (params.interfaceId & 1n) throw new Error("odd interface id");
    return { service: this.depth < 4 ? new FuzzWorker(this.depth + 1) : this };
  }

  async ping(params) {
    if (params.nonce & 1n) throw new rpc.RpcError("odd nonce");
    if (params.nonce & 2n) await null;
    return { nonce: params.nonce };
  }

  async shutdown() {
    return {};
  }
}

class NullSocket extends EventEmitter {
  constructor() {
    super();
    this.destroyed = false;
  }

  write() { return true; }

  end() {}

  destroy() { this.destroyed = true; }
}

const problems = [];
const realStderrWrite = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  const text = String(chunk);
  // The connection reports a non-typed exception while handling a message this way.
  if (text.includes("internal error")) problems.push(text);
  return true;
};
process.on("uncaughtException", (e) => problems.push(`uncaught: ${e?.stack ?? e}`));
process.on("unhandledRejection", (e) => problems.push(`unhandled rejection: ${e?.stack ?? e}`));

const turn = () => new Promise((resolve) => setImmediate(resolve));
async function settle(turns = 4) {
  for (let i = 0; i < turns; i++) await turn();
}

async function runRpc(data) {
  const socket = new NullSocket();
  const conn = new rpc.Connection(socket, { bootstrap: new FuzzWorker(), limits: new wire.Limits() });
  const peer = conn.bootstrap(); // question 0
  const client = peer.castAs(proto.WorkerProcessClient);
  const call = client.ping({ nonce: 4n }); // question 1
  call.then(() => {}, (e) => {
    // Our own call fails when the peer's bytes are bad: with an RpcError or, when the
    // results do not decode, a WireError.
    if (!(e instanceof rpc.RpcError) && !(e instanceof wire.WireError)) {
      problems.push(`our call failed with ${e?.stack ?? e}`);
    }
  });
  const cut = data.length % 3 === 0 ? data.length >> 1 : data.length;
  for (const chunk of [data.subarray(0, cut), data.subarray(cut)]) {
    if (chunk.length && !conn.closed) {
      socket.emit("data", chunk);
      await settle();
    }
  }
  const typed = conn.closed;
  await settle();
  conn.close();
  await settle();
  call.cancel();
  client.close();
  peer.close();
  await settle(2);
  return typed;
}

// -- the loop -----------------------------------------------------------------------

let stdinBuf = Buffer.alloc(0);
function readExactly(n) {
  while (stdinBuf.length < n) {
    const chunk = Buffer.alloc(Math.max(1 << 16, n - stdinBuf.length));
    let got;
    try {
      got = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === "EAGAIN") continue;
      if (e.code === "EOF") return null;
      throw e;
    }
    if (got === 0) return null;
    stdinBuf = Buffer.concat([stdinBuf, chunk.subarray(0, got)]);
  }
  const out = stdinBuf.subarray(0, n);
  stdinBuf = stdinBuf.subarray(n);
  return out;
}

async function main() {
  const kind = process.argv[2];
  const run = { framing: runFraming, reader: runReader, rpc: runRpc }[kind];
  if (run === undefined) {
    realStderrWrite(`unknown kind ${kind}: framing, reader or rpc\n`);
    process.exit(2);
  }
  let peak = process.memoryUsage.rss();
  fs.writeSync(1, "R");
  for (;;) {
    const head = readExactly(4);
    if (head === null) return;
    const count = head.readUInt32LE(0);
    const out = [];
    for (let k = 0; k < count; k++) {
      const n = readExactly(4).readUInt32LE(0);
      // a copy: the runtime's readers keep views of the bytes
      const data = new Uint8Array(readExactly(n));
      let status = OK;
      let detail = "";
      try {
        status = (await run(data)) ? TYPED : OK;
      } catch (e) {
        status = FAILURE;
        detail = `${e?.stack ?? e}`;
      }
      if (problems.length) {
        status = FAILURE;
        detail += problems.join("\n");
        problems.length = 0;
      }
      const now = process.memoryUsage.rss();
      if (now > peak + MEMORY_SLACK) {
        status = FAILURE;
        detail += `resident memory grew by ${(now - peak) >> 20} MiB on this input`;
      }
      peak = Math.max(peak, now);
      const d = Buffer.from(detail);
      const rec = Buffer.alloc(5);
      rec[0] = status;
      rec.writeUInt32LE(d.length, 1);
      out.push(rec, d);
    }
    const all = Buffer.concat(out);
    let off = 0;
    while (off < all.length) off += fs.writeSync(1, all, off);
  }
}

await main();
