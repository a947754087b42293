// Type declarations of polyhost/wire (see index.mjs and the adapter README).

export declare const VOID: 0;
export declare const BIT: 1;
export declare const BYTE: 2;
export declare const TWO_BYTES: 3;
export declare const FOUR_BYTES: 4;
export declare const EIGHT_BYTES: 5;
export declare const POINTER: 6;
export declare const INLINE_COMPOSITE: 7;
export type ElementSize = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
export declare const ELEMENT_SIZE_NAMES: readonly string[];

export type PrimitiveKind = "bool" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32"
  | "float32" | "int64" | "uint64" | "float64";
export type Bytes = Uint8Array | ArrayBuffer | DataView | ArrayBufferView;

export declare class WireError extends Error {}
export declare class MalformedFrame extends WireError {}
export declare class TooManySegments extends MalformedFrame {}
export declare class MessageTooLarge extends MalformedFrame {}
export declare class MalformedMessage extends WireError {}
export declare class PointerOutOfBounds extends WireError {}
export declare class InvalidSegmentId extends PointerOutOfBounds {}
export declare class MalformedPointer extends WireError {}
export declare class WrongPointerKind extends WireError {}
export declare class IncompatibleListElement extends WrongPointerKind {}
export declare class MalformedText extends WireError {}
export declare class InvalidCapability extends WireError {}
export declare class TraversalLimitExceeded extends WireError {}
export declare class NestingLimitExceeded extends WireError {}
export declare class CanonicalizationError extends WireError {}
export declare class IndexOutOfRange extends WireError {}
export declare class ValueOutOfRange extends WireError {}
export declare class WrongType extends WireError {}

export declare class Limits {
  constructor(options?: { traversalWords?: number | null; nesting?: number; maxSegments?: number; maxMessageBytes?: number; zeroSizedStructs?: number | null });
  readonly traversalWords: number | null;
  readonly nesting: number;
  readonly maxSegments: number;
  readonly maxMessageBytes: number;
  readonly zeroSizedStructs: number | null;
  traversalBudget(): number;
  zeroSizedBudget(): number;
}
export declare const DEFAULT_LIMITS: Limits;
export declare const EMPTY_BYTES: Uint8Array;

export declare class Capability {
  constructor(index: number);
  readonly index: number;
}

export declare class MessageReader {
  constructor(segments: Iterable<Bytes>, limits?: Limits | null, capTable?: unknown[] | null);
  capTable: unknown[] | null;
  readonly limits: Limits;
  readonly traversalWordsLeft: number;
  segments(): Uint8Array[];
  rootPointer(): PointerReader;
  root(): StructReader;
}

export declare class StructReader {
  readonly dataWords: number;
  readonly pointerCount: number;
  readonly message: MessageReader | null;
  dataSection(): Uint8Array;
  getBool(bit: number, d?: boolean): boolean;
  getInt8(offset: number, d?: number): number;
  getUint8(offset: number, d?: number): number;
  getInt16(offset: number, d?: number): number;
  getUint16(offset: number, d?: number): number;
  getInt32(offset: number, d?: number): number;
  getUint32(offset: number, d?: number): number;
  getInt64(offset: number, d?: bigint): bigint;
  getUint64(offset: number, d?: bigint): bigint;
  getFloat32(offset: number, d?: number): number;
  getFloat64(offset: number, d?: number): number;
  hasPointer(i: number): boolean;
  getPointer(i: number): PointerReader;
  getText(i: number, d?: string): string;
  getData(i: number, d?: Uint8Array): Uint8Array;
  getStruct(i: number): StructReader;
  getList(i: number, elementSize: ElementSize | null): ListReader;
  getCapability(i: number): unknown;
}

export declare class ListReader {
  readonly length: number;
  len(): number;
  readonly elementSize: ElementSize;
  getBool(i: number): boolean;
  getInt8(i: number): number;
  getUint8(i: number): number;
  getInt16(i: number): number;
  getUint16(i: number): number;
  getInt32(i: number): number;
  getUint32(i: number): number;
  getInt64(i: number): bigint;
  getUint64(i: number): bigint;
  getFloat32(i: number): number;
  getFloat64(i: number): number;
  primitives(kind: "bool"): boolean[];
  primitives(kind: "int64" | "uint64"): bigint[];
  primitives(kind: PrimitiveKind): number[];
  bytes(): Uint8Array;
  getStruct(i: number): StructReader;
  getPointer(i: number): PointerReader;
  getText(i: number, d?: string): string;
  getData(i: number, d?: Uint8Array): Uint8Array;
  getList(i: number, elementSize: ElementSize | null): ListReader;
  getCapability(i: number): unknown;
}

export declare class PointerReader {
  readonly message: MessageReader | null;
  isNull(): boolean;
  asStruct(): StructReader;
  asList(elementSize?: ElementSize | null): ListReader;
  asText(d?: string): string;
  asData(d?: Uint8Array): Uint8Array;
  asCapability(): unknown;
  target(): null | StructReader | ListReader | Capability;
}

export declare class Scratch {
  constructor(words?: number);
  take(): Scratch | null;
  release(builder: MessageBuilder): void;
}

export declare class MessageBuilder {
  constructor(options?: { capTable?: unknown[] | null; firstSegmentWords?: number; scratch?: Scratch | null });
  capTable: unknown[];
  rootPointer(): PointerBuilder;
  initRoot(dataWords: number, ptrCount: number): StructBuilder;
  segments(): Uint8Array[];
  toBytes(): Uint8Array;
  asReader(limits?: Limits | null): MessageReader;
  sizeInWords(): number;
}

export declare class StructBuilder {
  readonly dataWords: number;
  readonly pointerCount: number;
  setBool(bit: number, v: boolean, d?: boolean): void;
  setInt8(offset: number, v: number, d?: number): void;
  setUint8(offset: number, v: number, d?: number): void;
  setInt16(offset: number, v: number, d?: number): void;
  setUint16(offset: number, v: number, d?: number): void;
  setInt32(offset: number, v: number, d?: number): void;
  setUint32(offset: number, v: number, d?: number): void;
  setInt64(offset: number, v: bigint | number, d?: bigint): void;
  setUint64(offset: number, v: bigint | number, d?: bigint): void;
  setFloat32(offset: number, v: number, d?: number): void;
  setFloat64(offset: number, v: number, d?: number): void;
  getPointer(i: number): PointerBuilder;
  setText(i: number, s: string | null): void;
  setData(i: number, b: Bytes | null): void;
  initStruct(i: number, dataWords: number, ptrCount: number): StructBuilder;
  initList(i: number, elementSize: ElementSize, count: number): ListBuilder;
  initStructList(i: number, count: number, dataWords: number, ptrCount: number): ListBuilder;
  setCapability(i: number, obj: unknown): void;
  copyPointer(i: number, src: PointerReader | StructReader | ListReader | null): void;
  clearPointer(i: number): void;
}

export declare class ListBuilder {
  readonly length: number;
  len(): number;
  readonly elementSize: ElementSize;
  setBool(i: number, v: boolean): void;
  setInt8(i: number, v: number): void;
  setUint8(i: number, v: number): void;
  setInt16(i: number, v: number): void;
  setUint16(i: number, v: number): void;
  setInt32(i: number, v: number): void;
  setUint32(i: number, v: number): void;
  setInt64(i: number, v: bigint | number): void;
  setUint64(i: number, v: bigint | number): void;
  setFloat32(i: number, v: number): void;
  setFloat64(i: number, v: number): void;
  setPrimitives(kind: PrimitiveKind, values: ArrayLike<number | bigint | boolean>): void;
  getStruct(i: number): StructBuilder;
  getPointer(i: number): PointerBuilder;
  setText(i: number, s: string | null): void;
  setData(i: number, b: Bytes | null): void;
  initList(i: number, elementSize: ElementSize, count: number): ListBuilder;
  initStructList(i: number, count: number, dataWords: number, ptrCount: number): ListBuilder;
  initStruct(i: number, dataWords: number, ptrCount: number): StructBuilder;
  setCapability(i: number, obj: unknown): void;
  copyPointer(i: number, src: PointerReader | StructReader | ListReader | null): void;
}

export declare class PointerBuilder {
  isNull(): boolean;
  clear(): void;
  initStruct(dataWords: number, ptrCount: number): StructBuilder;
  initList(elementSize: ElementSize, count: number): ListBuilder;
  initStructList(count: number, dataWords: number, ptrCount: number): ListBuilder;
  setText(s: string | null): void;
  setData(b: Bytes | null): void;
  setCapability(obj: unknown): void;
  copyFrom(src: PointerReader | StructReader | ListReader | null): void;
}

export declare function copyInto(mb: MessageBuilder, segi: number, seg: DataView, ref: number,
  src: PointerReader | StructReader | ListReader | null, canonical?: boolean): void;
export declare function canonicalize(value: StructReader | PointerReader | ListReader | MessageReader): Uint8Array;
export declare function frame(segments: Bytes[]): Uint8Array;
export declare function readMessage(data: Bytes, limits?: Limits | null, capTable?: unknown[] | null): MessageReader;
export declare class FrameDecoder {
  constructor(limits?: Limits | null);
  readonly limits: Limits;
  readonly buffered: number;
  atBoundary(): boolean;
  feed(chunk: Bytes): MessageReader[];
}
