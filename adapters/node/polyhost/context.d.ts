// Type declarations of polyhost/context (see context.mjs).

import type { CallContext } from "./polyhost_capnp.js";

export declare function current(): CallContext | null;
export declare function deadlineRemainingMs(): number | null;
export declare function runWith<T>(context: CallContext, fn: () => T): T;
