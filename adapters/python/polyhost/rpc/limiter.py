"""The concurrency limit of a connection's handlers (``max_concurrency``).

Like ``asyncio.Semaphore`` (FIFO), but with a synchronous :meth:`Limiter.try_acquire`,
so a handler that finds a free slot (the usual case) takes it without an ``await``;
a released slot is handed straight to the oldest waiter.
"""

import asyncio
import collections

__all__ = ["Limiter"]


class Limiter:
    __slots__ = ("free", "_waiters")

    def __init__(self, slots):
        self.free = slots
        self._waiters = collections.deque()

    def try_acquire(self):
        """Take a slot now if one is free and nobody is waiting; True when taken."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def acquire(self):
        if self.try_acquire():
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()          # we were handed a slot: pass it on
            else:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            raise

    def release(self):
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)    # the slot goes to this waiter
                return
        self.free += 1
