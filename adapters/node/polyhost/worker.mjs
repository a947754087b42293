// The worker process: `node adapters/node/polyhost/worker.mjs module.mjs:factory`.
//
// Owns one worker's life. It installs the module search path (loader.mjs, folders from
// POLYHOST_NODE_PATH), imports the plugin module (an error there prints its stack to
// stderr and exits with status 3; bad usage exits 2), takes its end of the host's
// socketpair from the file descriptor in POLYHOST_FD (default 3; openSocket: Node reads
// it into one reused buffer) and serves the `WorkerProcess` bootstrap interface of
// polyhost.capnp on it:
// - `start(callbacks)` calls `factory(host)`: `host.client(LoggerClient)` is a typed
//   client of a callback the host passed; the factory returns (or resolves to) one
//   object or an array of objects extending generated server base classes. Answers the
//   WorkerInfo (language "node", runtime and adapter versions, pid, the fingerprints of
//   the generated modules involved) and one Service per object.
// - `scoped(context, interfaceId)`: a view of a service whose calls run with
//   `context.current()` (and `ctx.context`) set to `context`.
// - `ping(nonce)` answers the nonce; `shutdown()` lets running calls finish (at most
//   POLYHOST_SHUTDOWN_GRACE seconds, default 10) and exits with status 0, as does the
//   end of the connection.
// POLYHOST_CONCURRENCY bounds the handlers running at once (default: unlimited); the
// worker's own methods (ping above all) are not counted. With POLYHOST_PING_TIMEOUT_MS
// set (the host sets it), a handler that blocks the event loop for half that time gets a
// message on stderr saying what to write instead (loopwatch.mjs). The worker lowers
// V8's interrupt budget so that its hot path is optimized within ~1000 calls
// (tuneTierUp). Node
// cannot ask for a parent-death signal itself: the host's launcher sets it before exec,
// and the worker exits on socket EOF.

import { Buffer } from "node:buffer";
import { realpathSync } from "node:fs";
import * as nodeModule from "node:module";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";

import * as P from "./polyhost_capnp.mjs";
import { runWith } from "./context.mjs";
import { makeResolve } from "./loader.mjs";
import { watchLoop } from "./loopwatch.mjs";
import { Connection, RpcError, Server } from "./rpc/index.mjs";

export const ADAPTER_VERSION = "0.1.0";
export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
/** The plugin module (or its factory) could not be imported. */
export const EXIT_IMPORT = 3;

/** The host as the factory sees it: the callbacks it passed to `start`. */
export class Host {
  constructor(callbacks) {
    this._callbacks = new Map();
    for (const s of callbacks ?? []) {
      // The start call's message owns s.cap until start returns: keep a reference.
      this._callbacks.set(s.interfaceId, { name: s.name, cap: s.cap === null ? null : s.cap.dup() });
    }
    /** Client classes handed out (their schemas count among the worker's fingerprints). */
    this.clientClasses = [];
  }

  /** Interface id -> schema name of every callback the host passed. */
  get services() {
    return new Map([...this._callbacks].map(([iid, s]) => [iid, s.name]));
  }

  has(Cls) {
    return this._callbacks.has(Cls.$interfaceId);
  }

  /** A typed client (a generated `<Name>Client` class) of the host's callback
   *  implementing that interface; throws when the host passed none. */
  client(Cls) {
    const svc = Cls.$interfaceId !== undefined ? this._callbacks.get(Cls.$interfaceId) : undefined;
    if (svc === undefined || svc.cap === null) {
      const offered = [...this._callbacks].map(([iid, s]) => `${s.name} (0x${iid.toString(16).padStart(16, "0")})`).join(", ");
      throw new Error(`the host passed no ${Cls.$interfaceName ?? Cls.name} callback (it passed: ${offered || "none"})`);
    }
    this.clientClasses.push(Cls);
    return svc.cap.castAs(Cls);
  }
}

/** The generated server base classes `obj` implements, most derived first. */
function interfaceClasses(obj) {
  const out = [];
  const add = (c) => {
    if (out.includes(c)) return;
    out.push(c);
    for (const s of c.$superclasses ?? []) add(s);
  };
  for (let c = obj.constructor; c && c !== Server && c !== Object; c = Object.getPrototypeOf(c)) {
    if (Object.hasOwn(c, "$interfaceId") && c.prototype instanceof Server) add(c);
  }
  return out;
}

/** A service seen through a call context: handlers run with the context set. */
class Scoped extends Server {
  constructor(target, context) {
    super();
    this.$callContext = context;
    Object.defineProperty(this, "$methods", { value: target.$methods });
    for (const entries of target.$methods.values()) {
      for (const e of entries) {
        if (e === undefined || typeof target[e.name] !== "function" || Object.hasOwn(this, e.name)) continue;
        const name = e.name;
        this[name] = (...args) => runWith(context, () => target[name](...args));
      }
    }
  }
}

/** The bootstrap capability of the worker process. Its calls (ping above all) are not
 *  held back by POLYHOST_CONCURRENCY: a worker whose handlers fill every slot still
 *  answers the host's health checks. */
export class WorkerService extends P.WorkerProcess {
  constructor(factory) {
    super();
    this.$unlimited = true;
    this._factory = factory;
    this._started = false;
    this._services = new Map();
    this.host = null;
    this._stop = null;
    /** Resolves when shutdown() was called. */
    this.stopping = new Promise((resolve) => { this._stop = resolve; });
  }

  async start(params) {
    if (this._started) throw new RpcError("start() was already called on this worker");
    this._started = true;
    const host = this.host = new Host(params.callbacks);
    const made = await this._factory(host);
    const objects = Array.isArray(made) ? made : [made];
    const services = [];
    const classes = [];
    for (const obj of objects) {
      const ifaces = obj instanceof Server ? interfaceClasses(obj) : [];
      if (ifaces.length === 0) {
        throw new TypeError(`the factory returned ${String(obj)}, which extends no generated server base class`);
      }
      for (const c of ifaces) if (!this._services.has(c.$interfaceId)) this._services.set(c.$interfaceId, obj);
      classes.push(...ifaces);
      services.push(new P.Service({ interfaceId: ifaces[0].$interfaceId, name: ifaces[0].$interfaceName, cap: obj }));
    }
    const info = new P.WorkerInfo({
      language: "node",
      runtimeVersion: `Node.js ${process.versions.node}`,
      adapterVersion: ADAPTER_VERSION,
      pid: process.pid,
      fingerprints: fingerprints([P.WorkerProcess, ...classes, ...host.clientClasses]),
    });
    return { info, services };
  }

  scoped(params) {
    const target = this._services.get(params.interfaceId);
    if (target === undefined) {
      throw new RpcError(`this worker serves no interface 0x${params.interfaceId.toString(16).padStart(16, "0")}`);
    }
    return { service: new Scoped(target, params.context ?? new P.CallContext()) };
  }

  ping(params) {
    return { nonce: params.nonce };
  }

  shutdown() {
    this._stop();
  }
}

function fingerprints(classes) {
  const seen = new Map();
  for (const c of classes) {
    if (typeof c.$schema === "string" && typeof c.$fingerprint === "string" && !seen.has(c.$schema)) {
      seen.set(c.$schema, c.$fingerprint);
    }
  }
  return [...seen].map(([schema, fingerprint]) => new P.SchemaFingerprint({ schema, fingerprint }));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

function running(conn) {
  let n = 0;
  for (const a of conn._answers.values()) if (a.pending !== null && !a.pending.done) n++;
  return n;
}

/** Serves the worker protocol on `socket` until shutdown() or EOF; resolves to the exit
 *  status. */
export async function serve(socket, factory, { concurrency = null, shutdownGrace = 10 } = {}) {
  const service = new WorkerService(factory);
  const conn = new Connection(socket, { bootstrap: service, maxConcurrency: concurrency, name: "worker" });
  const stopWatch = watchLoop();
  const how = await Promise.race([conn.closed$.then(() => "closed"), service.stopping.then(() => "stopping")]);
  if (how === "stopping" && !conn.closed) {
    // Let the calls in progress finish, for at most the grace period.
    const deadline = Date.now() + shutdownGrace * 1000;
    await sleep(0); // the shutdown() Return goes out first
    while (!conn.closed && running(conn) > 0 && Date.now() < deadline) await sleep(10);
  }
  if (stopWatch !== null) stopWatch();
  conn.close();
  await Promise.race([new Promise((resolve) => socket.once("close", resolve)), sleep(500)]);
  return EXIT_OK;
}

/** Read buffer of the host's socket: a read takes whatever the host has written. */
const READ_BUFFER_BYTES = 64 * 1024;

/** The host's socket on `fd`. Node reads into one buffer reused for every read (a plain
 *  net.Socket allocates 64 KiB per read and routes the bytes through the stream's
 *  buffering); what a read got is copied out (the Connection keeps views of it) and
 *  delivered as a 'data' event, which is where the Connection listens. 'end', 'close'
 *  and 'error' are the socket's own. */
export function openSocket(fd) {
  const socket = new net.Socket({
    fd,
    readable: true,
    writable: true,
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (n, buf) => { socket.emit("data", Buffer.from(buf.subarray(0, n))); },
    },
  });
  return socket;
}

/** V8's --interrupt-budget while serving: a quarter of its default (66 KiB in Node 20). */
const INTERRUPT_BUDGET = 16 * 1024;

/** Lets V8 optimize the worker's hot path sooner. V8 compiles a function with its
 *  optimizing compiler once it has run an "interrupt budget" of bytecode; with the
 *  default, the RPC loop (decode, dispatch, encode: many small functions run once per
 *  call) runs unoptimized, 2-3x slower, for the first ~4000 calls. A quarter of the
 *  budget brings that down to ~1000, which also cuts the start-up work per call of a
 *  short-lived worker. An --interrupt-budget given on the command line or in
 *  NODE_OPTIONS is left alone. */
export function tuneTierUp(execArgv = process.execArgv, env = process.env) {
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)]
    .some((a) => /^--interrupt[-_]budget(=|$)/.test(a));
  if (!given) v8.setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  return !given;
}

/** Imports `module.mjs:factory` (the module: a path, or a file name looked up on the
 *  search path) and returns the factory. */
export async function loadFactory(spec, searchPath = []) {
  const at = spec.lastIndexOf(":");
  const moduleName = at > 0 ? spec.slice(0, at) : "";
  const attr = at > 0 ? spec.slice(at + 1) : "";
  if (!moduleName || !attr) throw new Error(`expected module.mjs:factory, got ${JSON.stringify(spec)}`);
  let url = null;
  if (path.isAbsolute(moduleName) || moduleName.startsWith("./") || moduleName.startsWith("../")) {
    url = pathToFileURL(path.resolve(moduleName)).href;
  }
  const mod = await import(url ?? moduleName);
  let obj = mod;
  for (const part of attr.split(".")) obj = obj?.[part];
  if (typeof obj !== "function") throw new TypeError(`${spec} is not a function`);
  return obj;
}

function envInt(name) {
  const raw = (process.env[name] ?? "").trim();
  if (!raw) return null;
  const v = Number.parseInt(raw, 10);
  if (!Number.isFinite(v)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return v > 0 ? v : null;
}

/** The search path: POLYHOST_NODE_PATH (`:`-separated folders). */
export function searchPath() {
  return (process.env.POLYHOST_NODE_PATH ?? "").split(path.delimiter).filter(Boolean).map((d) => path.resolve(d));
}

/** Installs loader.mjs's resolve hook for `paths`: in-thread where Node has
 *  module.registerHooks, else on the loader thread (module.register, Node 18.19+). */
export function installSearchPath(paths) {
  if (typeof nodeModule.registerHooks === "function") {
    nodeModule.registerHooks({ resolve: makeResolve(paths) });
  } else {
    nodeModule.register(new URL("./loader.mjs", import.meta.url), { data: { paths } });
  }
}

export async function main(argv = process.argv.slice(2)) {
  if (argv.length !== 1 || !argv[0].includes(":")) {
    process.stderr.write("usage: node polyhost/worker.mjs module.mjs:factory\n");
    return EXIT_USAGE;
  }
  const paths = searchPath();
  installSearchPath(paths);
  let factory;
  try {
    factory = await loadFactory(argv[0], paths);
  } catch (e) {
    process.stderr.write(`polyhost worker: cannot load ${argv[0]}:\n${e?.stack ?? e}\n`);
    return EXIT_IMPORT;
  }
  let socket;
  let concurrency;
  let grace;
  try {
    const fd = Number.parseInt(process.env.POLYHOST_FD ?? "3", 10);
    concurrency = envInt("POLYHOST_CONCURRENCY");
    grace = Number.parseFloat(process.env.POLYHOST_SHUTDOWN_GRACE ?? "10");
    if (!Number.isInteger(fd) || fd < 0 || !Number.isFinite(grace)) throw new Error("bad POLYHOST_FD or POLYHOST_SHUTDOWN_GRACE");
    socket = openSocket(fd);
  } catch (e) {
    process.stderr.write(`polyhost worker: bad environment: ${e.message}\n`);
    return EXIT_USAGE;
  }
  tuneTierUp();
  process.on("unhandledRejection", (e) => {
    process.stderr.write(`polyhost worker: unhandled rejection: ${e?.stack ?? e}\n`);
  });
  return serve(socket, factory, { concurrency, shutdownGrace: grace });
}

function isMain() {
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1] ?? "")).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  main().then((code) => process.exit(code), (e) => {
    process.stderr.write(`polyhost worker: ${e?.stack ?? e}\n`);
    process.exit(1);
  });
}
