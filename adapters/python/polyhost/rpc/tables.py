"""The four RPC tables of a connection and their entries.

Owns :class:`IdTable` (ids we allocate: questions, exports, embargoes; the lowest free
id is reused, as the reference implementations do), :class:`Answer` (a call the peer
asked us, keyed by the peer's question id) and :class:`Export` (a capability we exported,
with the peer's reference count). Questions and imports live in ``remote.py``.
"""

import heapq

__all__ = ["IdTable", "Answer", "Export"]


class IdTable:
    __slots__ = ("_slots", "_free", "_next")

    def __init__(self):
        self._slots = {}
        self._free = []
        self._next = 0

    def alloc(self, value):
        if self._free:
            i = heapq.heappop(self._free)
        else:
            i = self._next
            self._next += 1
        self._slots[i] = value
        return i

    def get(self, i):
        return self._slots.get(i)

    def pop(self, i):
        v = self._slots.pop(i, None)
        if v is not None:
            heapq.heappush(self._free, i)
        return v

    def values(self):
        return list(self._slots.values())

    def items(self):
        return list(self._slots.items())

    def clear(self):
        self._slots.clear()
        self._free = []
        self._next = 0

    def __len__(self):
        return len(self._slots)

    def __contains__(self, i):
        return i in self._slots


class Answer:
    """A call the peer asked (or its bootstrap): removed once Return is sent and Finish
    received."""

    __slots__ = ("id", "pending", "return_sent", "finish_received", "result_exports")

    def __init__(self, answer_id):
        self.id = answer_id
        self.pending = None
        self.return_sent = False
        self.finish_received = False
        self.result_exports = ()


class Export:
    """A hook we exported (we own one reference) and how many times the peer holds it."""

    __slots__ = ("hook", "refcount", "is_promise")

    def __init__(self, hook, is_promise=False):
        self.hook = hook
        self.refcount = 1
        self.is_promise = is_promise
