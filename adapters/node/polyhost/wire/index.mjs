// Cap'n Proto wire format in dependency-free JavaScript (`polyhost/wire`).
//
// Re-exports the public API used by generated code and the RPC layer: readers,
// builders, the stream framing, limits, canonicalize, the element-size constants and
// the WireError hierarchy. Importing this module also installs the deep copy
// (copy.mjs) the builders use.

export {
  MessageBuilder, StructBuilder, ListBuilder, PointerBuilder, Scratch,
} from "./builder.mjs";
export { copyInto } from "./copy.mjs";
export { canonicalize } from "./canonical.mjs";
export {
  WireError, MalformedFrame, TooManySegments, MessageTooLarge, MalformedMessage,
  PointerOutOfBounds, InvalidSegmentId, MalformedPointer, WrongPointerKind,
  IncompatibleListElement, MalformedText, InvalidCapability, TraversalLimitExceeded,
  NestingLimitExceeded, CanonicalizationError, IndexOutOfRange, ValueOutOfRange, WrongType,
} from "./errors.mjs";
export { frame, readMessage, FrameDecoder } from "./framing.mjs";
export {
  VOID, BIT, BYTE, TWO_BYTES, FOUR_BYTES, EIGHT_BYTES, POINTER, INLINE_COMPOSITE,
  ELEMENT_SIZE_NAMES,
} from "./layout.mjs";
export { Limits, DEFAULT_LIMITS } from "./limits.mjs";
export {
  MessageReader, StructReader, ListReader, PointerReader, Capability, EMPTY_BYTES,
} from "./reader.mjs";
