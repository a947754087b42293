// Helpers shared by the tests: hand-encoding of pointer words, socket pairs, a worker
// launcher. Holds no tests itself.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import v8 from "node:v8";
import vm from "node:vm";

import * as wire from "../polyhost/wire/index.mjs";

// Garbage collection on demand: capabilities dropped without close() are released when
// collected (FinalizationRegistry).
v8.setFlagsFromString("--expose-gc");
/** Runs a full garbage collection. */
export const gc = vm.runInNewContext("gc");

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ADAPTER = path.dirname(HERE);

/** One word from its two little-endian 32-bit halves (lo may be negative). */
export function word(lo, hi) {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, lo >>> 0, true);
  dv.setUint32(4, hi >>> 0, true);
  return b;
}

export function u64(v) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
  return b;
}

export const structPtr = (offset, dataWords, ptrCount) => word(offset << 2, dataWords | (ptrCount << 16));
export const listPtr = (offset, es, count) => word((offset << 2) | 1, count * 8 + es);
export const farPtr = (position, segment, double = false) => word((position << 3) | (double ? 4 : 0) | 2, segment);
export const capPtr = (index) => word(3, index);
export const tag = (count, dataWords, ptrCount) => word(count << 2, dataWords | (ptrCount << 16));

/** Concatenated byte arrays (a segment from words). */
export function seg(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export const bytes = (...values) => Uint8Array.from(values);
export const ascii = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));
export const zeros = (n) => new Uint8Array(n);

export function msg(segments, limits = null, capTable = null) {
  return new wire.MessageReader(segments, limits, capTable);
}

/** `fn()` must throw an instance of `Cls` (with a message) within `seconds`. */
export function throwsQuickly(Cls, fn, seconds = 1) {
  const t0 = performance.now();
  let err = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  const elapsed = (performance.now() - t0) / 1000;
  assert.ok(err !== null, `expected ${Cls.name}, nothing was thrown`);
  assert.ok(err instanceof Cls, `expected ${Cls.name}, got ${err?.name}: ${err?.message}`);
  assert.ok(err.message, "the error message must not be empty");
  assert.ok(elapsed < seconds, `took ${elapsed.toFixed(3)}s to throw ${Cls.name}`);
  return err;
}

/** Two connected stream sockets (a Unix socket in a temporary folder). */
export async function socketPair() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "polyhost-node-"));
  const file = path.join(dir, "s");
  const server = net.createServer();
  await new Promise((resolve) => server.listen(file, resolve));
  const accepted = new Promise((resolve) => server.once("connection", resolve));
  const a = net.connect(file);
  const b = await accepted;
  await new Promise((resolve) => (a.connecting ? a.once("connect", resolve) : resolve()));
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return [a, b];
}

/** Starts `node polyhost/worker.mjs <entry>` with a socketpair end as fd 3; returns
 *  the child and the host's end. */
export function startWorker(entry, { env = {}, paths = [] } = {}) {
  const searchPath = [ADAPTER, path.join(HERE, "generated"), HERE, ...paths].join(path.delimiter);
  const child = spawn(process.execPath, [path.join(ADAPTER, "polyhost/worker.mjs"), ...(entry === null ? [] : [entry])], {
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    env: { ...process.env, POLYHOST_NODE_PATH: searchPath, POLYHOST_FD: "3", ...env },
  });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  child.stdout.resume();
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stderr })));
  return { child, socket: child.stdio[3], exited, stderr: () => stderr };
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value (at most `ms`); returns it. */
export async function eventually(check, ms = 2000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v || Date.now() > until) return v;
    await sleep(5);
  }
}
