// Typed errors of the wire layer.
//
// Every problem the wire layer detects throws a subclass of WireError, so callers can
// catch one type for "this message is bad" while tests and diagnostics can tell the
// kinds apart. Messages say what was wrong and, where possible, the numbers involved.

export class WireError extends Error {
  get name() { return this.constructor.name; }
}
/** The stream framing (segment table) is invalid or incomplete. */
export class MalformedFrame extends WireError {}
/** A frame or message declares more segments than the limits allow. */
export class TooManySegments extends MalformedFrame {}
/** A frame declares more bytes/words than the limits allow. */
export class MessageTooLarge extends MalformedFrame {}
/** The segments themselves are unusable (e.g. a length that is not whole words). */
export class MalformedMessage extends WireError {}
/** A pointer (or the object it points to) lies outside its segment. */
export class PointerOutOfBounds extends WireError {}
/** A far pointer names a segment the message does not have. */
export class InvalidSegmentId extends PointerOutOfBounds {}
/** A pointer is structurally invalid (bad landing pad, bad list tag, unknown kind...). */
export class MalformedPointer extends WireError {}
/** A pointer of one kind was found where another kind was expected. */
export class WrongPointerKind extends WireError {}
/** A list's element size cannot be read as the requested element size. */
export class IncompatibleListElement extends WrongPointerKind {}
/** A Text value is not NUL-terminated or is not valid UTF-8. */
export class MalformedText extends WireError {}
/** A capability pointer's index is not in the message's capability table. */
export class InvalidCapability extends WireError {}
/** Reading the message touched more words than the traversal limit allows. */
export class TraversalLimitExceeded extends WireError {}
/** Pointers nest deeper than the nesting limit allows (or contain a cycle). */
export class NestingLimitExceeded extends WireError {}
/** The value cannot be put in canonical form (e.g. it contains a capability). */
export class CanonicalizationError extends WireError {}
/** An element, field or pointer index is outside the object's bounds. */
export class IndexOutOfRange extends WireError {}
/** A value does not fit the field or list it is written to. */
export class ValueOutOfRange extends WireError {}
/** An argument of an unsupported type was passed to the wire layer. */
export class WrongType extends WireError {}
