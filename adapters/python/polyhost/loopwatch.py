"""Tells the plugin's author when a handler blocks the worker's event loop.

A worker answers calls and the host's health pings on its asyncio event loop. An
``async def`` handler that runs blocking or CPU-bound code (``time.sleep``, a long
computation, a blocking socket) stops the loop: the worker answers nothing, and the
host kills it once a health ping goes unanswered for ``POLYHOST_PING_TIMEOUT_MS``.

:class:`LoopWatch` runs a thread that notices a loop that has not turned for half that
time and writes to stderr what is happening, where (the loop thread's stack, innermost
frames) and what to write instead. The host forwards stderr and puts its last lines in
the crash report of the calls that were running, so the author sees the reason
instead of a bare SIGKILL. The message is written once per stall.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import traceback
from typing import Optional

__all__ = ["LoopWatch", "from_environment"]

#: frames of the loop thread's stack shown (innermost)
_FRAMES = 3


class LoopWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop, ping_timeout: float) -> None:
        self._loop = loop
        self._ping_timeout = ping_timeout
        self._warn_after = ping_timeout / 2
        self._period = max(self._warn_after / 4, 0.005)
        self._turned = time.monotonic()
        self._loop_thread = threading.get_ident()
        self._stopped = threading.Event()
        self._handle: Optional[asyncio.TimerHandle] = None
        self._thread = threading.Thread(target=self._watch, name="polyhost-loopwatch",
                                        daemon=True)

    def start(self) -> None:
        self._tick()
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._handle is not None:
            self._handle.cancel()

    def _tick(self) -> None:
        self._turned = time.monotonic()
        self._handle = self._loop.call_later(self._period, self._tick)

    def _watch(self) -> None:
        warned = False
        while not self._stopped.wait(self._period):
            blocked = time.monotonic() - self._turned
            if blocked < self._warn_after:
                warned = False
            elif not warned:
                warned = True
                self._report(blocked)

    def _report(self, blocked: float) -> None:
        frame = sys._current_frames().get(self._loop_thread)
        where = traceback.format_stack(frame)[-_FRAMES:] if frame is not None else []
        lines = [
            "polyhost worker: the event loop has been blocked for %.1f s, so this worker "
            "answers no calls and no health pings; the host kills a worker that leaves a "
            "ping unanswered for %.1f s. Blocking or CPU-bound code is running on the loop, "
            "here:" % (blocked, self._ping_timeout),
        ]
        for entry in where:
            lines.extend("  " + part for part in entry.rstrip("\n").split("\n"))
        lines.append(
            "polyhost worker: in an `async def` handler, run such code with "
            "`await asyncio.to_thread(f, ...)` (or loop.run_in_executor), or make the "
            "handler a plain `def`: polyhost runs those in a thread pool.")
        try:
            os.write(2, ("\n".join(lines) + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


def from_environment(loop: asyncio.AbstractEventLoop) -> Optional[LoopWatch]:
    """A started watch when the host named its ping timeout (``POLYHOST_PING_TIMEOUT_MS``),
    else None."""
    try:
        ms = int(os.environ.get("POLYHOST_PING_TIMEOUT_MS", "").strip() or "0")
    except ValueError:
        return None
    if ms <= 0:
        return None
    watch = LoopWatch(loop, ms / 1000)
    watch.start()
    return watch
