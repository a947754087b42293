"""Constants and precompiled packers of the Cap'n Proto wire layout.

Owns the element-size codes (``VOID`` .. ``INLINE_COMPOSITE``), the pointer kinds, the
per-element-size bit widths and the ``struct.Struct`` objects every other module uses to
read and write words, so formats are compiled exactly once.
"""

import struct as _struct
import sys as _sys
from array import array as _array

__all__ = [
    "VOID", "BIT", "BYTE", "TWO_BYTES", "FOUR_BYTES", "EIGHT_BYTES", "POINTER",
    "INLINE_COMPOSITE", "ELEMENT_SIZE_NAMES",
]

# Element sizes of list pointers (encoding spec: 0..7).
VOID = 0
BIT = 1
BYTE = 2
TWO_BYTES = 3
FOUR_BYTES = 4
EIGHT_BYTES = 5
POINTER = 6
INLINE_COMPOSITE = 7

ELEMENT_SIZE_NAMES = ("VOID", "BIT", "BYTE", "TWO_BYTES", "FOUR_BYTES", "EIGHT_BYTES",
                      "POINTER", "INLINE_COMPOSITE")

# Pointer kinds (low two bits of a pointer word).
KIND_STRUCT = 0
KIND_LIST = 1
KIND_FAR = 2
KIND_OTHER = 3

# Data bits and pointer count of one element, indexed by element size.
DATA_BITS = (0, 1, 8, 16, 32, 64, 0, 0)
POINTERS = (0, 0, 0, 0, 0, 0, 1, 0)
STEP_BITS = (0, 1, 8, 16, 32, 64, 64, 0)

MAX_LIST_COUNT = (1 << 29) - 1
MAX_SEGMENT_WORDS = (1 << 29) - 1

# A word as (signed low half, unsigned high half): the low half holds the kind and the
# signed 30-bit offset, so an arithmetic shift by 2 yields the offset directly.
WORD = _struct.Struct("<iI")
UWORD = _struct.Struct("<II")
U64 = _struct.Struct("<Q")
U32 = _struct.Struct("<I")

I8 = _struct.Struct("<b")
I16 = _struct.Struct("<h")
I32 = _struct.Struct("<i")
I64 = _struct.Struct("<q")
U8 = _struct.Struct("<B")
U16 = _struct.Struct("<H")
F32 = _struct.Struct("<f")
F64 = _struct.Struct("<d")

ZERO_WORD = bytes(8)

# struct format codes accepted by the bulk primitives()/set_primitives(): code -> bytes.
CODE_SIZES = {
    "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 4, "L": 4,
    "q": 8, "Q": 8, "f": 4, "d": 8, "?": 0,
}

# the codes of numbers a memoryview cast / an array holds at their size on the wire:
# what ListReader.columns and ListBuilder.put_columns read and write (native byte order,
# so only on little-endian machines)
COLUMN_SIZES = {c: n for c, n in CODE_SIZES.items()
                if n and _array(c).itemsize == n and _struct.calcsize(c) == n}
#: whether ListReader.columns / ListBuilder.put_columns work here (the wire is
#: little-endian; a memoryview cast and an array are in this machine's order)
COLUMNS_WORK = _sys.byteorder == "little"


def columns_fit(fields, stride, dbytes):
    """Whether each (struct code, byte position) of ``fields`` can be read or written
    as a column over elements of ``stride`` bytes whose data sections hold ``dbytes``:
    a number of a column code, inside the data section, at its natural alignment."""
    for code, pos in fields:
        size = COLUMN_SIZES.get(code)
        if size is None or pos + size > dbytes or stride % size or pos % size:
            return False
    return True


def element_size_name(es):
    """Human-readable name of an element size code (for error messages)."""
    if isinstance(es, int) and 0 <= es < 8:
        return ELEMENT_SIZE_NAMES[es]
    return repr(es)


def float32_bits(value):
    """The IEEE-754 bit pattern of ``value`` as a float32, as an unsigned int."""
    return U32.unpack(F32.pack(value))[0]


def float64_bits(value):
    """The IEEE-754 bit pattern of ``value`` as a float64, as an unsigned int."""
    return U64.unpack(F64.pack(value))[0]


# Eight booleans per byte value, least significant bit first (bit-list decoding).
BYTE_BITS = tuple(tuple(bool((b >> i) & 1) for i in range(8)) for b in range(256))
