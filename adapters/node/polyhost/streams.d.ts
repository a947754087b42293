// Type declarations of polyhost/streams (see streams.mjs).

import type { Codec } from "./gen.js";
import type { CallPromise, RemoteError } from "./rpc/index.js";
import type { Sink, SinkClient } from "./polyhost_capnp.js";

export declare const MAX_BATCH: number;

export declare class StreamError extends RemoteError {
  constructor(remoteType: string, message: string, trace?: string);
  readonly remoteType: string;
}

/** Pushes items into a Sink(T) capability (the callee side of a Sink parameter). */
export declare class Producer<T> {
  constructor(sink: SinkClient | null, codec: Codec<T>, options?: { maxBatch?: number });
  readonly closed: boolean;
  readonly sent: number;
  send(item: T): Promise<void>;
  sendMany(items: Iterable<T>): Promise<void>;
  feed(source: AsyncIterable<T> | Iterable<T>): Promise<number>;
  flush(): Promise<void>;
  close(): Promise<void>;
  fail(err: unknown): Promise<void>;
}

export declare function produce(server: unknown, handler: Function, params: unknown,
  producers: Producer<any>[], ctx: unknown): Promise<unknown>;

/** The items of a Sink(T) stream (the caller side) and the results R of its call. */
export declare class Inbound<T, R> extends Sink implements AsyncIterableIterator<T> {
  constructor(codec: Codec<T>, options?: { maxBatches?: number });
  readonly received: number;
  readonly promise: CallPromise<R>;
  [Symbol.asyncIterator](): this;
  next(): Promise<IteratorResult<T>>;
  return(): Promise<IteratorResult<T>>;
  batches(): AsyncGenerator<T[]>;
  collect(): Promise<T[]>;
  results(): Promise<R>;
  close(): Promise<void>;
}
