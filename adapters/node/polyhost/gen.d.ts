// Type declarations of polyhost/gen (see gen.mjs): what generated modules use.

import type * as wire from "./wire/index.js";
import type { Capability, Server } from "./rpc/index.js";

/** Where a pointer is written: pointer `i` of a struct or of a pointer list. */
export type Builder = wire.StructBuilder | wire.ListBuilder;
export type ListRead<T = unknown> = (lr: wire.ListReader) => T[];
export type ListWrite<T = unknown> = (b: Builder, i: number, values: ReadonlyArray<T>) => void;

/** A value that writes itself into a pointer slot (e.g. a Sink batch). */
export interface PointerWriter { $writePointer(b: Builder, i: number): void; }
/** A generated struct instance. */
export interface StructValue { $write(b: wire.StructBuilder, a?: Codec[]): void; }
/** An AnyPointer field as read; what one accepts on write. */
export type AnyPointer = wire.PointerReader | null;
export type AnyPointerArg = wire.PointerReader | wire.StructReader | wire.ListReader | StructValue | PointerWriter | null;

export declare const READING: unique symbol;
export declare const EMPTY: Readonly<Record<string, never>>;
export declare const EMPTY_BYTES: Uint8Array;

export declare function install(runtime: unknown): void;
export declare function enumOf<T extends Record<string, number>>(members: T, typeId: bigint): Readonly<T>;
export declare function big(v: bigint | number): bigint;
export declare function struct<C extends new (init?: any) => any>(v: unknown, cls: C): InstanceType<C> | null;
export declare function bytes(decimals: string): Uint8Array;
export declare function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean;

export declare class Codec<T = unknown> {
  constructor(es: wire.ElementSize, readList: ListRead<T>, writeList: ListWrite<T>);
  readonly es: wire.ElementSize;
  readonly readList: ListRead<T>;
  readonly writeList: ListWrite<T>;
  read(p: wire.PointerReader | null): T;
  write(b: Builder, i: number, v: T | null): void;
}
export declare const TEXT: Codec<string>;
export declare const DATA: Codec<Uint8Array>;
export declare const ANY: Codec<wire.PointerReader>;
export declare class StructCodec<T = any> extends Codec<T> {
  constructor(cls: any, a?: Codec[]);
}
export declare class ListCodec<T = any> extends Codec<T[]> {
  constructor(elemEs: wire.ElementSize, readElems: ListRead<T>, writeElems: ListWrite<T>);
}
export declare class CapCodec<T = any> extends Codec<T> {
  constructor(cls: any);
}
export declare function arg(a: Codec[] | undefined, index: number): Codec;
export declare function pointer(hex: string): wire.PointerReader;
export declare function writeAny(b: Builder, i: number, v: AnyPointerArg): void;
export declare function typedCap<C>(obj: unknown, cls: (new (...args: any[]) => C) | null): C | null;
export declare function asClient<C>(obj: unknown, cls: (new (...args: any[]) => C) | null): C | Capability | null;
export declare function asClients(values: unknown[] | null, cls: any): unknown[] | null;
export declare function unimplemented(server: Server, method: string): Error;

export declare function readStructs(cls: any, lr: wire.ListReader, a?: Codec[]): any[];
export declare function writeStructs(cls: any, b: Builder, i: number, values: ReadonlyArray<any>, a?: Codec[]): void;
export declare function bindRead(read: (lr: wire.ListReader, a?: Codec[]) => any[], a?: Codec[]): ListRead<any>;
export declare function bindWrite(write: (b: Builder, i: number, v: ReadonlyArray<any>, a?: Codec[]) => void, a?: Codec[]): ListWrite<any>;
export declare function listsReader<T>(es: wire.ElementSize, read: ListRead<T>): ListRead<T[]>;
export declare function listsWriter<T>(es: wire.ElementSize, write: ListWrite<T>): ListWrite<ReadonlyArray<T>>;
export declare function capsReader(cls: any): ListRead<any>;
export declare const writeCaps: ListWrite<any>;
export declare const readBools: ListRead<boolean>; export declare const writeBools: ListWrite<boolean>;
export declare const readI8: ListRead<number>; export declare const writeI8: ListWrite<number>;
export declare const readI16: ListRead<number>; export declare const writeI16: ListWrite<number>;
export declare const readI32: ListRead<number>; export declare const writeI32: ListWrite<number>;
export declare const readI64: ListRead<bigint>; export declare const writeI64: ListWrite<bigint | number>;
export declare const readU8: ListRead<number>; export declare const writeU8: ListWrite<number>;
export declare const readU16: ListRead<number>; export declare const writeU16: ListWrite<number>;
export declare const readU32: ListRead<number>; export declare const writeU32: ListWrite<number>;
export declare const readU64: ListRead<bigint>; export declare const writeU64: ListWrite<bigint | number>;
export declare const readF32: ListRead<number>; export declare const writeF32: ListWrite<number>;
export declare const readF64: ListRead<number>; export declare const writeF64: ListWrite<number>;
export declare const readVoids: ListRead<null>; export declare const writeVoids: ListWrite<null>;
export declare const readTexts: ListRead<string>; export declare const writeTexts: ListWrite<string | null>;
export declare const readDatas: ListRead<Uint8Array>; export declare const writeDatas: ListWrite<Uint8Array | null>;
export declare const readPointers: ListRead<wire.PointerReader>; export declare const writePointers: ListWrite<AnyPointerArg>;
