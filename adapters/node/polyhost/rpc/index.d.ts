// Type declarations of polyhost/rpc (see index.mjs, client.mjs, server.mjs).

import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type * as wire from "../wire/index.js";
import type { CallContext } from "../polyhost_capnp.js";

export type ExceptionTypeName = "failed" | "overloaded" | "disconnected" | "unimplemented";
export declare const ExceptionType: {
  readonly FAILED: "failed"; readonly OVERLOADED: "overloaded";
  readonly DISCONNECTED: "disconnected"; readonly UNIMPLEMENTED: "unimplemented";
};
export declare const TRACEBACK_MARKER: string;
export declare const STREAM_WINDOW_BYTES: number;
export declare const STREAM_WINDOW_CALLS: number;
export declare const HOOK: unique symbol;

export declare class RpcError extends Error {
  constructor(reason: string, type?: ExceptionTypeName, trace?: string);
  reason: string;
  type: ExceptionTypeName;
  trace: string;
}
export declare class RemoteError extends RpcError {}
export declare class DisconnectedError extends RpcError {
  constructor(reason: string, trace?: string);
}
export declare class CanceledError extends RpcError {
  constructor(reason?: string);
}
export declare class ProtocolError extends Error {}
export declare function errorName(err: unknown): string;
export declare function fromJsError(err: unknown): RpcError;
export declare function splitReason(reason: string, trace?: string): [string, string];

/** Options of a client call. */
export interface CallOptions { signal?: AbortSignal | null; }

/** What a handler may return: the results, a plain object of their fields, nothing, or
 *  a promise of one of those. */
export type Handled<R, I> = R | I | void | undefined | PromiseLike<R | I | void | undefined>;

export declare class MethodEntry {
  readonly name: string;
  readonly Params: any;
  readonly Results: any;
  readonly isStream: boolean;
}
export type MethodTable = ReadonlyMap<bigint, ReadonlyArray<MethodEntry | undefined>>;
export declare function methodTable(superclasses: ReadonlyArray<{ $methods?: MethodTable }>,
  rows: ReadonlyArray<[bigint, number, string, any, any, boolean]>): MethodTable;
export declare function mixin(target: Function, sources: ReadonlyArray<Function>): void;

/** What a handler gets as its last argument. */
export declare class HandlerContext {
  /** Aborted when the caller cancels the call. */
  readonly signal: AbortSignal;
  /** The polyhost CallContext of a scoped call (trace parent, deadline, session), or null. */
  readonly context: CallContext | null;
  /** The Connection that delivered the call (null for a local call). */
  readonly connection: Connection | null;
}

export declare class Server {
  readonly $methods: MethodTable;
}

export declare class Capability {
  constructor(source: Capability | Server);
  readonly isClosed: boolean;
  dup(): this;
  castAs<C extends Capability>(cls: new (...args: any[]) => C): C;
  close(): void;
  whenResolved(): Promise<void>;
  $call<R, P extends CallPromise<R> = CallPromise<R>>(interfaceId: bigint, methodId: number, params?: unknown,
    Results?: { $read(r: wire.StructReader): R } | null, PromiseCls?: new (...args: any[]) => P, opts?: CallOptions): P;
  $stream(interfaceId: bigint, methodId: number, params?: unknown): Promise<void>;
  $waitStreams(): Promise<void>;
}

export declare class CallPromise<R> implements PromiseLike<R> {
  then<A = R, B = never>(onFulfilled?: ((value: R) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<A | B>;
  catch<B = never>(onRejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<R | B>;
  finally(onFinally?: (() => void) | null): Promise<R>;
  cancel(): void;
  pipeline(...pointerPath: number[]): Capability;
  pipelineAs<C extends Capability>(cls: new (...args: any[]) => C, ...pointerPath: number[]): C;
}

export declare class Connection {
  constructor(socket: Socket | Duplex, options?: {
    bootstrap?: Server | Capability | null; limits?: wire.Limits | null;
    maxConcurrency?: number | null; name?: string;
  });
  readonly name: string;
  readonly closed: boolean;
  readonly error: Error | null;
  readonly stats: Record<string, number>;
  /** Resolves when the connection is closed. */
  readonly closed$: Promise<void>;
  waitClosed(): Promise<void>;
  close(): Promise<void>;
  bootstrap(): Capability;
  tableSizes(): { questions: number; answers: number; exports: number; imports: number; embargoes: number };
}
