// The per-call context a worker's handlers run with.
//
// The host sends context (W3C trace parent, deadline, session) by calling a service
// through `WorkerProcess.scoped(context, interfaceId)`; every call made on that scoped
// view runs with the context set here (AsyncLocalStorage, so it follows the handler's
// awaits), and handlers also see it as `ctx.context`. Calls made directly on a service
// have no context (`current()` is null). The storage is entered only by scoped calls,
// so workers that never get context pay nothing for it.

import { AsyncLocalStorage } from "node:async_hooks";

const store = new AsyncLocalStorage();

/** The polyhost CallContext of the call being handled, or null. */
export function current() {
  return store.getStore() ?? null;
}

/** Milliseconds left before the current call's deadline (negative when past); null
 *  without a deadline. */
export function deadlineRemainingMs() {
  const ctx = store.getStore();
  if (ctx == null || !ctx.deadlineUnixMs) return null;
  return Number(ctx.deadlineUnixMs) - Date.now();
}

/** Runs `fn()` with `context` as the current context. */
export function runWith(context, fn) {
  return store.run(context, fn);
}
