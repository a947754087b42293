"""Typed errors of the wire layer.

Every problem the wire layer detects raises a subclass of :class:`WireError`, so callers
can catch one type for "this message is bad" while tests and diagnostics can tell the
kinds apart. Messages always say what was wrong and where possible the numbers involved.
"""

__all__ = [
    "WireError",
    "MalformedFrame",
    "TooManySegments",
    "MessageTooLarge",
    "MalformedMessage",
    "PointerOutOfBounds",
    "InvalidSegmentId",
    "MalformedPointer",
    "WrongPointerKind",
    "IncompatibleListElement",
    "MalformedText",
    "InvalidCapability",
    "TraversalLimitExceeded",
    "NestingLimitExceeded",
    "CanonicalizationError",
    "IndexOutOfRange",
    "ValueOutOfRange",
    "WrongType",
]


class WireError(Exception):
    """Base class of every error raised by ``polyhost.wire``."""


class MalformedFrame(WireError):
    """The stream framing (segment table) is invalid or incomplete."""


class TooManySegments(MalformedFrame):
    """A frame or message declares more segments than the limits allow."""


class MessageTooLarge(MalformedFrame):
    """A frame declares more bytes/words than the limits allow."""


class MalformedMessage(WireError):
    """The segments themselves are unusable (e.g. a length that is not whole words)."""


class PointerOutOfBounds(WireError):
    """A pointer (or the object it points to) lies outside its segment."""


class InvalidSegmentId(PointerOutOfBounds):
    """A far pointer names a segment the message does not have."""


class MalformedPointer(WireError):
    """A pointer is structurally invalid (bad landing pad, bad list tag, unknown kind...)."""


class WrongPointerKind(WireError):
    """A pointer of one kind was found where another kind was expected."""


class IncompatibleListElement(WrongPointerKind):
    """A list's element size cannot be read as the requested element size."""


class MalformedText(WireError):
    """A Text value is not NUL-terminated or is not valid UTF-8."""


class InvalidCapability(WireError):
    """A capability pointer's index is not in the message's capability table."""


class TraversalLimitExceeded(WireError):
    """Reading the message touched more words than the traversal limit allows."""


class NestingLimitExceeded(WireError):
    """Pointers nest deeper than the nesting limit allows (or contain a cycle)."""


class CanonicalizationError(WireError):
    """The value cannot be put in canonical form (e.g. it contains a capability)."""


class IndexOutOfRange(WireError, IndexError):
    """An element, field or pointer index is outside the object's bounds."""


class ValueOutOfRange(WireError, ValueError):
    """A value does not fit the field or list it is written to."""


class WrongType(WireError, TypeError):
    """An argument of an unsupported type was passed to the wire layer."""
