"""The template process: ``python3 -m polyhost.template package.module:factory``.

Forks workers for the host. Importing the interpreter's startup modules and the
polyhost runtime (asyncio among them) is paid once here; each worker the host asks
for is a ``fork()`` of this process that already has them. With ``POLYHOST_PRELOAD=1``
the plugin module is imported here too (an exception there prints its traceback and
exits with status 3, like a worker). The modules generated from the pool's schemas,
named in ``POLYHOST_GENERATED`` (their files, relative to the module folder, separated
by ``os.pathsep``), are imported here as well: they only define classes, and a worker
then finds them loaded (one that fails to import is left to the workers, which report
it as usual). No thread and no event loop run here, so forking is safe.

The protocol (the host side is ``runtime/src/template.rs``) runs on the
``SOCK_SEQPACKET`` socket in ``POLYHOST_FD``, one JSON object per message:

- to the host: ``{"ready": {}}`` once the imports are done;
- from the host: ``{"spawn": {"id": N}}`` with three file descriptors (``SCM_RIGHTS``):
  the worker's socket, its stdout and its stderr. The child makes them its fd 3, 1
  and 2, sets its parent-death signal and serves like ``python3 -m polyhost.worker``;
- to the host: ``{"spawned": {"id": N, "pid": P}}``, or ``{"failed": {"id": N,
  "error": "..."}}``;
- to the host, whenever a worker ends: ``{"exited": {"pid": P, "code": C}}`` or
  ``{"exited": {"pid": P, "signal": S}}``.

The template exits when the host closes the socket; its workers die with it.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import traceback
from typing import Any, Callable, List, Optional, Sequence

from polyhost import worker
# What generated modules and workers import, so that forked workers find it loaded
# (concurrent.futures imports its thread pool lazily, when the worker makes one).
import concurrent.futures.thread  # noqa: F401,E402
from polyhost import gen, rpc, streams, wire  # noqa: F401,E402

__all__ = ["main"]

#: largest request the host sends (a spawn request is ~30 bytes)
_MAX_REQUEST = 4096
#: a forked worker's status when setting it up raised (EX_SOFTWARE)
_EXIT_INTERNAL = 70


def _send(ctl: socket.socket, report: Any) -> None:
    ctl.send(json.dumps(report, separators=(",", ":")).encode())


def _reap(ctl: socket.socket) -> None:
    """Report every worker that has ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if os.WIFSIGNALED(status):
            _send(ctl, {"exited": {"pid": pid, "signal": os.WTERMSIG(status)}})
        else:
            _send(ctl, {"exited": {"pid": pid, "code": os.waitstatus_to_exitcode(status)}})


def _child(entry: str, worker_id: int, fds: List[int], template_pid: int,
           close: Sequence[int], factory: Optional[Callable[..., Any]]) -> None:
    """In the forked worker: take the host's fds, then serve. Never returns."""
    code = _EXIT_INTERNAL
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close:
            os.close(fd)
        sock_fd, out_fd, err_fd = fds
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.dup2(sock_fd, 3)
        for fd in fds:
            os.close(fd)
        worker.set_parent_death_signal()
        if os.getppid() != template_pid:        # the template died before prctl
            os._exit(0)
        os.environ["POLYHOST_FD"] = "3"     # the template's own may name another fd
        os.environ["POLYHOST_WORKER_ID"] = str(worker_id)
        code = worker.run(entry, factory)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(ctl: socket.socket, entry: str, factory: Optional[Callable[..., Any]]) -> int:
    """Answer spawn requests until the host closes the socket."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)
    template_pid = os.getpid()
    # Objects imported so far are never collected: a worker's collections do not
    # traverse them, so they do not write to those objects' headers.
    gc.collect()
    gc.freeze()
    _send(ctl, {"ready": {}})
    while True:
        ready, _, _ = select.select([ctl.fileno(), wake_r], [], [])
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            _reap(ctl)
        if ctl.fileno() not in ready:
            continue
        msg, fds, _flags, _addr = socket.recv_fds(ctl, _MAX_REQUEST, 3)
        if not msg:
            return worker.EXIT_OK
        try:
            worker_id = int(json.loads(msg)["spawn"]["id"])
        except (ValueError, KeyError, TypeError) as e:
            for fd in fds:
                os.close(fd)
            print("polyhost template: bad request %r: %s" % (msg[:200], e), file=sys.stderr)
            return worker.EXIT_USAGE
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            _send(ctl, {"failed": {"id": worker_id,
                                   "error": "expected 3 file descriptors, got %d" % len(fds)}})
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as e:
            pid = -1
            _send(ctl, {"failed": {"id": worker_id, "error": "fork: %s" % e}})
        if pid == 0:
            _child(entry, worker_id, fds, template_pid, [ctl.fileno(), wake_r, wake_w], factory)
        for fd in fds:
            os.close(fd)
        if pid > 0:
            _send(ctl, {"spawned": {"id": worker_id, "pid": pid}})


def generated_modules(files: str) -> List[str]:
    """The module names of ``POLYHOST_GENERATED``'s files (``pkg/calc_capnp.py`` ->
    ``pkg.calc_capnp``, ``pkg/__init__.py`` -> ``pkg``); other files are skipped."""
    names = []
    for path in files.split(os.pathsep):
        if not path.endswith(".py"):
            continue
        parts = path[:-3].split("/")
        if parts[-1] == "__init__":
            parts.pop()
        if parts and all(p.isidentifier() for p in parts):
            names.append(".".join(parts))
    return names


def _import_generated() -> None:
    for name in generated_modules(os.environ.get("POLYHOST_GENERATED", "")):
        try:
            importlib.import_module(name)
        except Exception as e:     # the workers import it again and report it
            print("polyhost template: generated module %s not preloaded: %s" % (name, e),
                  file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    entry = worker.entry_argument(sys.argv[1:] if argv is None else argv, "polyhost.template")
    if entry is None:
        return worker.EXIT_USAGE
    worker.set_parent_death_signal()
    _import_generated()
    factory = None
    if os.environ.get("POLYHOST_PRELOAD") == "1":
        factory = worker.import_or_report(entry)
        if factory is None:
            return worker.EXIT_IMPORT
    ctl = worker.inherited_socket("template")
    if ctl is None:
        return worker.EXIT_USAGE
    try:
        return serve(ctl, entry, factory)
    except (BrokenPipeError, ConnectionResetError):
        return worker.EXIT_OK


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
