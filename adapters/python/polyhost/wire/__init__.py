"""Cap'n Proto wire format in pure standard-library Python (``polyhost.wire``).

Re-exports the public API used by generated code and the RPC layer: readers
(``MessageReader``, ``StructReader``, ``ListReader``, ``PointerReader``), builders
(``MessageBuilder``, ``StructBuilder``, ``ListBuilder``, ``PointerBuilder``), the stream
framing (``frame``, ``read_message``, ``FrameDecoder``), ``Limits``, ``canonicalize``,
the element-size constants and the ``WireError`` hierarchy.
"""

from .builder import ListBuilder, MessageBuilder, PointerBuilder, StructBuilder
from .canonical import canonicalize
from .errors import (
    CanonicalizationError, IncompatibleListElement, IndexOutOfRange, InvalidCapability,
    InvalidSegmentId, MalformedFrame, MalformedMessage, MalformedPointer, MalformedText,
    MessageTooLarge, NestingLimitExceeded, PointerOutOfBounds, TooManySegments,
    TraversalLimitExceeded, ValueOutOfRange, WireError, WrongPointerKind, WrongType,
)
from .framing import FrameDecoder, frame, read_message
from .layout import (
    BIT, BYTE, COLUMNS_WORK, EIGHT_BYTES, FOUR_BYTES, INLINE_COMPOSITE, POINTER, TWO_BYTES,
    VOID,
)
from .limits import DEFAULT_LIMITS, Limits
from .reader import Capability, ListReader, MessageReader, PointerReader, StructReader

__all__ = [
    "MessageReader", "StructReader", "ListReader", "PointerReader", "Capability",
    "MessageBuilder", "StructBuilder", "ListBuilder", "PointerBuilder",
    "frame", "read_message", "FrameDecoder", "Limits", "DEFAULT_LIMITS", "canonicalize",
    "VOID", "BIT", "BYTE", "TWO_BYTES", "FOUR_BYTES", "EIGHT_BYTES", "POINTER",
    "INLINE_COMPOSITE", "COLUMNS_WORK",
    "WireError", "MalformedFrame", "TooManySegments", "MessageTooLarge", "MalformedMessage",
    "PointerOutOfBounds", "InvalidSegmentId", "MalformedPointer", "WrongPointerKind",
    "IncompatibleListElement", "MalformedText", "InvalidCapability",
    "TraversalLimitExceeded", "NestingLimitExceeded", "CanonicalizationError",
    "IndexOutOfRange", "ValueOutOfRange", "WrongType",
]
