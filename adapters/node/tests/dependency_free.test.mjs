// The runtime imports nothing but its own files and Node's built-in modules, so a
// plugin author needs nothing but `node` (no npm install); nor does anything else in
// adapters/node (tests, generated modules, the TypeScript check's sources); every
// runtime module has a top comment saying what it owns.

import assert from "node:assert/strict";
import fs from "node:fs";
import { isBuiltin } from "node:module";
import path from "node:path";
import { test } from "node:test";

import { ADAPTER } from "./support.mjs";

function modules(dir, exts = [".mjs"]) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : modules(p, exts);
    return exts.some((x) => p.endsWith(x)) ? [p] : [];
  });
}

// Static imports and re-exports, bare imports, dynamic import() and require() of a string
// literal, in any quote style.
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+(["'`])([^"'`]+)\1|(?:^|\n)\s*import\s+(["'`])([^"'`]+)\3|\b(?:import|require)\(\s*(["'`])([^"'`]+)\5\s*\)/g;

function specifiers(file) {
  return [...fs.readFileSync(file, "utf8").matchAll(IMPORT)].map((m) => m[2] ?? m[4] ?? m[6]);
}

const builtinOrOwn = (spec) => spec.startsWith("./") || spec.startsWith("../")
  || (spec.startsWith("node:") && isBuiltin(spec)) || spec === "polyhost" || spec.startsWith("polyhost/");

test("the runtime imports only its own files and node: built-ins", () => {
  const files = modules(path.join(ADAPTER, "polyhost"));
  assert.ok(files.length > 15);
  for (const file of files) {
    for (const spec of specifiers(file)) {
      assert.ok(builtinOrOwn(spec), `${path.relative(ADAPTER, file)} imports ${spec}`);
    }
  }
});

test("nothing in adapters/node imports a package: tests, generated modules, TypeScript sources", () => {
  const files = modules(ADAPTER, [".mjs", ".js", ".cjs", ".ts", ".mts"]).filter((f) => !f.endsWith(".d.ts"));
  // Bare names the worker's search path resolves (`features_capnp.mjs`): files of this folder.
  const local = new Set(files.map((f) => path.basename(f)));
  const scanned = new Set(files.map((f) => path.relative(ADAPTER, f).split(path.sep)[0]));
  assert.ok(scanned.has("polyhost") && scanned.has("tests"), [...scanned].join(", "));
  for (const file of files) {
    for (const spec of specifiers(file)) {
      assert.ok(builtinOrOwn(spec) || local.has(spec), `${path.relative(ADAPTER, file)} imports ${spec}`);
    }
  }
});

test("the declarations import only their own files, node: built-ins and polyhost", () => {
  const files = modules(ADAPTER, [".d.ts"]);
  assert.ok(files.length > 8);
  for (const file of files) {
    for (const spec of specifiers(file)) {
      assert.ok(builtinOrOwn(spec), `${path.relative(ADAPTER, file)} imports ${spec}`);
    }
  }
});

test("every runtime module starts with a comment saying what it owns", () => {
  for (const file of modules(path.join(ADAPTER, "polyhost"))) {
    const first = fs.readFileSync(file, "utf8").split("\n", 1)[0];
    assert.match(first, /^\/\/ /, path.relative(ADAPTER, file));
  }
});
