// Type declarations of polyhost/worker (see worker.mjs).

import type { Socket } from "node:net";
import type { Capability, Server } from "./rpc/index.js";
import type { WorkerProcess } from "./polyhost_capnp.js";

export declare const ADAPTER_VERSION: string;
export declare const EXIT_OK: 0;
export declare const EXIT_USAGE: 2;
export declare const EXIT_IMPORT: 3;

/** The host as a plugin's factory sees it: the callbacks it passed to `start`. */
export declare class Host {
  readonly services: Map<bigint, string>;
  readonly clientClasses: Function[];
  has(cls: { $interfaceId: bigint }): boolean;
  client<C extends Capability>(cls: (new (...args: any[]) => C) & { $interfaceId: bigint }): C;
}

/** A plugin's entry point: `module.mjs:factory`. */
export type Factory = (host: Host) => Server | Server[] | Promise<Server | Server[]>;

export declare class WorkerService extends WorkerProcess {
  constructor(factory: Factory);
  readonly host: Host | null;
  readonly stopping: Promise<void>;
}

export declare function serve(socket: Socket, factory: Factory,
  options?: { concurrency?: number | null; shutdownGrace?: number }): Promise<number>;
/** The host's socket on file descriptor `fd`, read into one reused buffer. */
export declare function openSocket(fd: number): Socket;
/** Lowers V8's --interrupt-budget (unless execArgv or NODE_OPTIONS sets it); true when it did. */
export declare function tuneTierUp(execArgv?: string[], env?: Record<string, string | undefined>): boolean;
export declare function loadFactory(spec: string, searchPath?: string[]): Promise<Factory>;
export declare function searchPath(): string[];
export declare function installSearchPath(paths: string[]): void;
export declare function main(argv?: string[]): Promise<number>;
