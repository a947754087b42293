"""Helpers shared by the wire tests: hand-encoding of pointer words and a timing check.

Holds no tests itself. Importing it makes ``polyhost`` importable whichever directory
the tests are discovered from.
"""

import os
import struct
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from polyhost import wire  # noqa: E402

W = struct.Struct("<II")


def word(lo, hi):
    """One word from its two little-endian 32-bit halves (lo may be negative)."""
    return W.pack(lo & 0xFFFFFFFF, hi)


def u64(v):
    return struct.pack("<Q", v)


def struct_ptr(offset, data_words, ptr_count):
    return word(offset << 2, data_words | (ptr_count << 16))


def list_ptr(offset, element_size, count):
    return word((offset << 2) | 1, (count << 3) | element_size)


def far_ptr(position, segment, double=False):
    return word((position << 3) | (4 if double else 0) | 2, segment)


def cap_ptr(index):
    return word(3, index)


def tag(count, data_words, ptr_count):
    return word(count << 2, data_words | (ptr_count << 16))


def seg(*words):
    return b"".join(words)


def msg(*segments, **kw):
    return wire.MessageReader(list(segments), **kw)


class QuickMixin:
    """assertRaisesQuickly: the call must raise ``exc`` within ``seconds``."""

    def assertRaisesQuickly(self, exc, fn, *args, seconds=1.0):
        t0 = time.perf_counter()
        with self.assertRaises(exc) as cm:
            fn(*args)
        elapsed = time.perf_counter() - t0
        self.assertLess(elapsed, seconds, "took %.3fs to raise %s" % (elapsed, exc.__name__))
        self.assertTrue(str(cm.exception), "error message must not be empty")
        return cm.exception
