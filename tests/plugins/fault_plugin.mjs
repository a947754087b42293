// The fault-injection plugin (tests/schema/faults.capnp), Node side. The pool names it
// `fault_plugin.mjs:make`.

import { spawnSync } from "node:child_process";
import { writeSync } from "node:fs";

import * as api from "faults_capnp.mjs";

class Nest extends api.Nest {
  constructor(depth) {
    super();
    this.level = depth;
  }

  child() {
    return { nest: new Nest(this.level + 1) };
  }

  depth() {
    return { depth: this.level };
  }

  async sleep({ ms }) {
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}

class Faults extends api.Faults {
  constructor(host) {
    super();
    this.gate = host.has(api.HostGateClient) ? host.client(api.HostGateClient) : null;
  }

  async flood({ calls, settled }) {
    let ok = 0;
    let overloaded = 0;
    let other = "";
    let ended = 0;
    let wake = null;
    const count = (outcome) => {
      if (outcome === null) ok++;
      else if (outcome?.type === "overloaded") overloaded++;
      else if (!other) other = String(outcome?.stack ?? outcome);
      ended++;
      if (wake !== null && ended >= settled) wake();
    };
    for (let i = 0; i < calls; i++) this.gate.hold().then(() => count(null), count);
    if (ended < settled) await new Promise((resolve) => { wake = resolve; });
    return { ok, overloaded, other };
  }

  async hostPanic() {
    try {
      await this.gate.panic();
    } catch (e) {
      return { message: String(e.message ?? e) };
    }
    return { message: "" };
  }

  ignoreTerm({ ms }) {
    process.on("SIGTERM", () => {});
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); // blocks the loop
  }

  async sleepTimed({ ms }) {
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  pid() {
    // Node has no getpgrp(): read it from /proc (field 5 of stat, after the command).
    const stat = spawnSync("/bin/cat", [`/proc/${process.pid}/stat`]).stdout.toString();
    const pgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    return { pid: process.pid, pgid };
  }

  async sleep({ ms }) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { pid: process.pid };
  }

  async block({ ms }) {
    // Deliberately blocks the event loop.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  }

  write({ stream, data }) {
    const fd = { stdout: 1, stderr: 2 }[stream];
    let at = 0;
    while (at < data.length) {
      try {
        at += writeSync(fd, data, at);
      } catch (e) {
        if (e.code !== "EAGAIN") throw e; // a non-blocking pipe that is full: wait a bit
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  }

  shell({ command }) {
    // stdio "inherit" for stdin/stderr, a pipe for stdout: what any spawned child gets.
    const done = spawnSync("/bin/sh", ["-c", command], { stdio: ["ignore", "pipe", "inherit"] });
    return { status: done.status ?? -1, output: done.stdout.toString() };
  }

  exit({ code }) {
    process.exit(code);
  }

  nest({ depth }) {
    return { nest: new Nest(depth) };
  }
}

export function make(host) {
  return new Faults(host);
}
