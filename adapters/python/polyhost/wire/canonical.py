"""Canonical form of a Cap'n Proto value (encoding spec, "Canonicalization").

The canonical form is a single segment (no framing) starting with the root pointer,
with every object laid out in pre-order, struct data sections truncated of trailing zero
words and pointer sections of trailing null pointers (struct lists use the largest
truncated size over their elements), zero-sized structs encoded with offset -1, bit
lists with their unused bits cleared, and no capabilities. This module produces exactly
the bytes of the reference implementation's ``message::Reader::canonicalize()``.
"""

from .builder import MessageBuilder
from .copy import copy_into
from .errors import WrongType
from .reader import ListReader, MessageReader, PointerReader, StructReader

__all__ = ["canonicalize"]


def canonicalize(value):
    """Canonical bytes of ``value``: a StructReader (the usual case: the struct becomes
    the root), a PointerReader (AnyPointer: a null pointer gives one zero word), a
    ListReader, or a MessageReader (its root pointer)."""
    if isinstance(value, MessageReader):
        value = value.root_pointer()
    elif not isinstance(value, (StructReader, PointerReader, ListReader)):
        raise WrongType("canonicalize() takes a StructReader, PointerReader, ListReader or "
                        "MessageReader, got %s" % type(value).__name__)
    mb = MessageBuilder(first_segment_words=64, single_segment=True)
    copy_into(mb, 0, mb._segs[0], 0, value, canonical=True)
    return mb.segments()[0]
