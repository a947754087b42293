// Schema-coverage round trip, Node side (tests/tests/coverage.rs).
//
// Usage: node coverage_roundtrip.mjs ADAPTER_DIR MODULE_DIR STRUCT < framed > framed
//
// Installs the adapter's module resolution (as a worker does), imports the generated
// modules of the coverage corpus, reads one framed message, decodes its root as STRUCT
// of coverage_capnp into objects and encodes those into a fresh message on stdout.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [adapterDir, moduleDir, structName] = process.argv.slice(2);
const runtime = (p) => import(pathToFileURL(path.join(adapterDir, "polyhost", p)).href);
const { installSearchPath } = await runtime("worker.mjs");
installSearchPath([moduleDir]);
const wire = await runtime("wire/index.mjs");
const coverage = await import(pathToFileURL(path.join(moduleDir, "coverage_capnp.mjs")).href);
await import(pathToFileURL(path.join(moduleDir, "units_capnp.mjs")).href);

const Cls = coverage[structName];
const value = Cls.$read(wire.readMessage(fs.readFileSync(0)).root());
const mb = new wire.MessageBuilder();
value.$write(mb.initRoot(Cls.$dataWords, Cls.$ptrCount));
fs.writeSync(1, mb.toBytes());
