// Module resolution hooks of the worker process (module.registerHooks or module.register).
//
// Node has no module search path for ESM imports, so the worker installs this one:
// - `polyhost` and `polyhost/...` always resolve to this adapter's runtime (through the
//   package's own `exports`), so generated modules anywhere share the worker's runtime;
// - another bare specifier (`greeter_capnp.mjs`, `my_plugin.mjs`) is looked up as a file
//   in each folder of the search path (POLYHOST_NODE_PATH: the adapter's runtime, the
//   generated modules, the plugin's code), before Node's own resolution (node_modules).

import { existsSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

let searchPath = [];

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
}

/** A resolve hook over `paths`; works for module.registerHooks (synchronous
 *  nextResolve) and module.register (asynchronous). */
export function makeResolve(paths) {
  const dirs = paths.filter(Boolean);
  const runtimeParent = import.meta.url;
  return function resolve(specifier, context, nextResolve) {
    if (specifier === "polyhost" || specifier.startsWith("polyhost/")) {
      return nextResolve(specifier, { ...context, parentURL: runtimeParent });
    }
    if (isBare(specifier) && !isBuiltin(specifier)) {
      for (const dir of dirs) {
        const candidate = path.resolve(dir, specifier);
        if (existsSync(candidate) && statSync(candidate).isFile()) {
          return { url: pathToFileURL(candidate).href, shortCircuit: true };
        }
      }
    }
    return nextResolve(specifier, context);
  };
}

let hook = makeResolve(searchPath);

// module.register's hooks (they run on the loader thread).
export async function initialize(data) {
  hook = makeResolve(data?.paths ?? []);
}

export async function resolve(specifier, context, nextResolve) {
  return hook(specifier, context, nextResolve);
}
