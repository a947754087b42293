// The runtime imports nothing but its own files and Node's built-in modules, so a
// plugin author needs nothing but `node` (no npm install); every module has a top
// comment saying what it owns.

import assert from "node:assert/strict";
import fs from "node:fs";
import { isBuiltin } from "node:module";
import path from "node:path";
import { test } from "node:test";

import { ADAPTER } from "./support.mjs";

function modules(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return modules(p);
    return p.endsWith(".mjs") ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|(?:^|\n)\s*import\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

test("the runtime imports only its own files and node: built-ins", () => {
  const files = modules(path.join(ADAPTER, "polyhost"));
  assert.ok(files.length > 15);
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const ok = spec.startsWith("./") || spec.startsWith("../") || (spec.startsWith("node:") && isBuiltin(spec))
        || spec === "polyhost" || spec.startsWith("polyhost/");
      assert.ok(ok, `${path.relative(ADAPTER, file)} imports ${spec}`);
    }
  }
});

test("every runtime module starts with a comment saying what it owns", () => {
  for (const file of modules(path.join(ADAPTER, "polyhost"))) {
    const first = fs.readFileSync(file, "utf8").split("\n", 1)[0];
    assert.match(first, /^\/\/ /, path.relative(ADAPTER, file));
  }
});
