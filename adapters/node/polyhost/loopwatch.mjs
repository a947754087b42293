// Tells the plugin's author when a handler blocks the worker's event loop.
//
// A worker answers calls and the host's health pings on its event loop. A handler that
// runs synchronous blocking or CPU-bound code (a long loop, a *Sync fs or child_process
// call, Atomics.wait) stops the loop: the worker answers nothing, and the host kills it
// once a health ping goes unanswered for POLYHOST_PING_TIMEOUT_MS.
//
// `watchLoop` starts a worker thread (its own event loop) that notices a main loop that
// has not turned for half that time, and writes to stderr what is happening and what to
// write instead. The host forwards stderr and puts its last lines in the crash report of
// the calls that were running, so the author sees the reason instead of a bare SIGKILL.
// The message is written once per stall.

import { Worker } from "node:worker_threads";

// The watcher: ticks[0] counts the main loop's turns; it checks every `period` ms.
const WATCHER = `
const { workerData } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const { ticks, period, warnAfter, pingTimeout } = workerData;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let seen = Atomics.load(ticks, 0);
let since = Date.now();
let warned = false;
for (;;) {
  Atomics.wait(sleeper, 0, 0, period);
  const now = Atomics.load(ticks, 0);
  if (now !== seen) {
    seen = now;
    since = Date.now();
    warned = false;
    continue;
  }
  const blocked = Date.now() - since;
  if (blocked >= warnAfter && !warned) {
    warned = true;
    const s = (ms) => (ms / 1000).toFixed(1);
    const text =
      "polyhost worker: the event loop has been blocked for " + s(blocked) + " s, so this worker " +
      "answers no calls and no health pings; the host kills a worker that leaves a ping " +
      "unanswered for " + s(pingTimeout) + " s. A handler is running synchronous blocking or " +
      "CPU-bound code (a long loop, a *Sync call, Atomics.wait).\\n" +
      "polyhost worker: move that work off the loop (a worker_threads Worker, a child " +
      "process, or async APIs), or split it into slices with " +
      "\`await new Promise(setImmediate)\` between them.\\n";
    try { writeSync(2, text); } catch {}
  }
}
`;

/** Starts the watch when the host named its ping timeout (POLYHOST_PING_TIMEOUT_MS);
 *  returns a function that stops it, or null. */
export function watchLoop(env = process.env) {
  const pingTimeout = Number.parseInt((env.POLYHOST_PING_TIMEOUT_MS ?? "").trim(), 10);
  if (!Number.isFinite(pingTimeout) || pingTimeout <= 0) return null;
  const warnAfter = pingTimeout / 2;
  const period = Math.max(Math.floor(warnAfter / 4), 5);
  const ticks = new Int32Array(new SharedArrayBuffer(4));
  const timer = setInterval(() => Atomics.add(ticks, 0, 1), period);
  timer.unref();
  const watcher = new Worker(WATCHER, {
    eval: true,
    workerData: { ticks, period, warnAfter, pingTimeout },
    stdout: false,
    stderr: false,
  });
  watcher.unref();
  watcher.on("error", () => {});
  return () => {
    clearInterval(timer);
    watcher.terminate();
  };
}
