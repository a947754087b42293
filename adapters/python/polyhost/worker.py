"""The worker process: ``python3 -m polyhost.worker package.module:factory``.

Owns one worker's life. It imports the plugin module (an exception there prints its
traceback to stderr and exits with status 3), dies with its parent (Linux
``prctl(PR_SET_PDEATHSIG, SIGKILL)``), takes its end of the host's socketpair from the
file descriptor in ``POLYHOST_FD`` (default 3) and serves the ``WorkerProcess``
bootstrap interface of ``polyhost.capnp`` on it:

- ``start(callbacks)`` calls ``factory(host)``: ``host.client(LoggerClient)`` is a typed
  client of a callback the host passed; the factory returns one object or a list of
  objects subclassing generated server base classes (it may be ``async``). Answers
  the WorkerInfo (language, runtime and adapter versions, pid, the fingerprints of the
  generated modules involved) and one Service per object.
- ``scoped(context, interfaceId)``: a view of a service whose calls run with
  ``polyhost.context.current()`` set to ``context``.
- ``ping(nonce)`` answers the nonce; ``shutdown()`` lets running calls finish (at most
  ``POLYHOST_SHUTDOWN_GRACE`` seconds, default 10) and exits with status 0, as does
  the end of the connection.

``POLYHOST_CONCURRENCY`` bounds the handlers running at once (default: unlimited) and
sizes the thread pool of sync handlers; the worker's own methods (ping above all) are
not counted. With ``POLYHOST_PING_TIMEOUT_MS`` set (the host sets it), a handler that
blocks the event loop for half that time gets a message on stderr saying where and what
to write instead (``polyhost.loopwatch``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import importlib
import inspect
import logging
import os
import platform
import signal
import socket
import sys
import traceback
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Type, TypeVar

import polyhost
from polyhost import loopwatch
from polyhost import polyhost_capnp as P
from polyhost.context import _current
from polyhost.rpc import Capability, Connection, RpcError, Server

__all__ = ["Host", "WorkerService", "main", "run", "serve", "load_factory", "EXIT_IMPORT",
           "entry_argument", "import_or_report", "inherited_socket"]

log = logging.getLogger("polyhost.worker")

C = TypeVar("C", bound=Capability)

EXIT_OK = 0
EXIT_USAGE = 2
#: the plugin module (or its factory) could not be imported
EXIT_IMPORT = 3

_PR_SET_PDEATHSIG = 1


class Host:
    """The host as the factory sees it: the callbacks it passed to ``start``."""

    def __init__(self, callbacks: Sequence[P.Service]) -> None:
        self._callbacks: Dict[int, P.Service] = {s.interface_id: s for s in callbacks}
        #: client classes handed out (their schemas count among the worker's fingerprints)
        self.client_classes: List[type] = []

    @property
    def services(self) -> Dict[int, str]:
        """Interface id -> schema name of every callback the host passed."""
        return {i: s.name for i, s in self._callbacks.items()}

    def has(self, cls: type) -> bool:
        return getattr(cls, "_polyhost_interface_id", None) in self._callbacks

    def client(self, cls: Type[C]) -> C:
        """A typed client (a generated ``<Name>Client`` class) of the host's callback
        implementing that interface; LookupError when the host passed none."""
        iid = getattr(cls, "_polyhost_interface_id", None)
        svc = self._callbacks.get(iid) if iid is not None else None
        if svc is None or svc.cap is None:
            offered = ", ".join("%s (0x%016x)" % (s.name, i) for i, s in self._callbacks.items())
            raise LookupError("the host passed no %s callback (it passed: %s)"
                              % (getattr(cls, "_polyhost_interface_name", cls.__name__),
                                 offered or "none"))
        self.client_classes.append(cls)
        return svc.cap.cast_as(cls)


def _interface_classes(obj: object) -> List[type]:
    """The generated server base classes ``obj`` implements, most derived first."""
    return [c for c in type(obj).__mro__
            if "_polyhost_interface_id" in c.__dict__ and issubclass(c, Server)]


class _Scoped(Server):
    """A service seen through a call context: handlers run with the context set."""

    def __init__(self, target: Server, context: P.CallContext) -> None:
        self._target = target
        self._context = context
        self._polyhost_methods = target._polyhost_methods   # type: ignore[misc]

    def __getattr__(self, name: str) -> Any:
        handler = getattr(self._target, name)
        ctx = self._context
        if inspect.iscoroutinefunction(handler):
            async def run_async(*args: Any) -> Any:
                # (no reset: the engine runs every async call in a context of its own)
                _current.set(ctx)
                return await handler(*args)
            wrapped: Callable[..., Any] = run_async
        else:
            def run(*args: Any) -> Any:
                token = _current.set(ctx)
                try:
                    return handler(*args)
                finally:
                    _current.reset(token)
            wrapped = run
        self.__dict__[name] = wrapped
        return wrapped


class WorkerService(P.WorkerProcess):
    """The bootstrap capability of the worker process. Its calls (ping above all) are
    not held back by ``POLYHOST_CONCURRENCY``: a worker whose handlers fill every slot
    still answers the host's health checks."""

    _polyhost_unlimited = True

    def __init__(self, factory: Callable[[Host], Any]) -> None:
        self._factory = factory
        self._started = False
        self._services: Dict[int, Server] = {}
        self.host: Optional[Host] = None
        self.stopping = asyncio.Event()

    async def start(self, params: P.WorkerProcess_StartParams) -> P.WorkerProcess_StartResults:
        if self._started:
            raise RpcError("start() was already called on this worker")
        self._started = True
        host = self.host = Host(params.callbacks or [])
        made = self._factory(host)
        if inspect.isawaitable(made):
            made = await made
        objects = list(made) if isinstance(made, (list, tuple)) else [made]
        services = []
        classes: List[type] = []
        for obj in objects:
            ifaces = _interface_classes(obj)
            if not ifaces:
                raise TypeError("the factory returned %r, which subclasses no generated "
                                "server base class" % (obj,))
            main = ifaces[0]
            for c in ifaces:
                self._services.setdefault(getattr(c, "_polyhost_interface_id"), obj)
            classes.extend(ifaces)
            services.append(P.Service(interface_id=getattr(main, "_polyhost_interface_id"),
                                      name=getattr(main, "_polyhost_interface_name"), cap=obj))
        info = P.WorkerInfo(language="python", runtime_version=_runtime_version(),
                            adapter_version=polyhost.__version__, pid=os.getpid(),
                            fingerprints=_fingerprints([P.WorkerProcess] + classes
                                                       + host.client_classes))
        return P.WorkerProcess_StartResults(info=info, services=services)

    async def scoped(self, params: P.WorkerProcess_ScopedParams) -> P.WorkerProcess_ScopedResults:
        target = self._services.get(params.interface_id)
        if target is None:
            raise RpcError("this worker serves no interface 0x%016x" % params.interface_id)
        context = params.context if params.context is not None else P.CallContext()
        return P.WorkerProcess_ScopedResults(service=_Scoped(target, context))

    async def ping(self, params: P.WorkerProcess_PingParams) -> P.WorkerProcess_PingResults:
        return P.WorkerProcess_PingResults(nonce=params.nonce)

    async def shutdown(self, params: P.WorkerProcess_ShutdownParams) -> None:
        self.stopping.set()


def _runtime_version() -> str:
    return "%s %s" % (platform.python_implementation(), platform.python_version())


def _fingerprints(classes: Sequence[type]) -> List[P.SchemaFingerprint]:
    seen: Dict[str, str] = {}
    for c in classes:
        schema = getattr(c, "_polyhost_schema", None)
        fp = getattr(c, "_polyhost_fingerprint", None)
        if isinstance(schema, str) and isinstance(fp, str):
            seen.setdefault(schema, fp)
    return [P.SchemaFingerprint(schema=s, fingerprint=f) for s, f in seen.items()]


async def serve(sock: socket.socket, factory: Callable[[Host], Any], *,
                concurrency: Optional[int] = None, shutdown_grace: float = 10.0) -> int:
    """Serve the worker protocol on ``sock`` until shutdown() or EOF; returns the exit
    status."""
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="polyhost-handler")
    service = WorkerService(factory)
    conn = await Connection.connect(sock, bootstrap=service, max_concurrency=concurrency,
                                    executor=executor, name="worker")
    closed = asyncio.ensure_future(conn.wait_closed())
    stopping = asyncio.ensure_future(service.stopping.wait())
    watch = loopwatch.from_environment(asyncio.get_running_loop())
    try:
        await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done() and not closed.done():
            await _drain(shutdown_grace)
    finally:
        if watch is not None:
            watch.stop()
        closed.cancel()
        stopping.cancel()
        await conn.close()
        executor.shutdown(wait=False, cancel_futures=True)
    return EXIT_OK


async def _drain(grace: float) -> None:
    """Let the calls in progress finish, for at most ``grace`` seconds."""
    await asyncio.sleep(0)              # the shutdown() Return goes out first
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while True:
        running = {t for t in asyncio.all_tasks() if _is_handler(t)}
        left = deadline - loop.time()
        if not running or left <= 0:
            return
        await asyncio.wait(running, timeout=left)


_server: Any = importlib.import_module("polyhost.rpc.server")
_HANDLER_CODES = {_server.LocalHook._run.__code__, _server.LocalHook._drain.__code__,
                  _server._finish.__code__}


def _is_handler(t: asyncio.Task[Any]) -> bool:
    """Whether ``t`` runs a call (the tasks the RPC engine creates per call)."""
    return getattr(t.get_coro(), "cr_code", None) in _HANDLER_CODES


def load_factory(spec: str) -> Callable[[Host], Any]:
    """``package.module:factory`` -> the factory (imports the module)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError("expected package.module:factory, got %r" % spec)
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError("%s is not callable" % spec)
    return obj  # type: ignore[no-any-return]


def set_parent_death_signal() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    global _prctl
    if not sys.platform.startswith("linux"):
        return
    try:
        if _prctl is None:
            # looked up once: a template's forked workers find it ready (a dlopen and
            # dlsym cost each forked worker ~0.3 ms and ~60 page faults)
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        if _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as e:
        log.warning("cannot set the parent-death signal: %s", e)


_prctl: Optional[Callable[..., int]] = None


def _env_int(name: str, default: Optional[int]) -> Optional[int]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    return value if value > 0 else default


def main(argv: Optional[Sequence[str]] = None) -> int:
    entry = entry_argument(sys.argv[1:] if argv is None else argv, "polyhost.worker")
    if entry is None:
        return EXIT_USAGE
    set_parent_death_signal()
    return run(entry)


def run(entry: str, factory: Optional[Callable[[Host], Any]] = None) -> int:
    """Serve ``entry`` on the socket in ``POLYHOST_FD``; ``factory`` when the plugin
    was imported already (a worker forked from a template that preloaded it)."""
    if factory is None:
        factory = import_or_report(entry)
        if factory is None:
            return EXIT_IMPORT
    try:
        concurrency = _env_int("POLYHOST_CONCURRENCY", None)
        grace = float(os.environ.get("POLYHOST_SHUTDOWN_GRACE", "10"))
    except ValueError as e:
        print("polyhost worker: bad environment: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    sock = inherited_socket("worker")
    if sock is None:
        return EXIT_USAGE
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve(sock, factory, concurrency=concurrency, shutdown_grace=grace))


def entry_argument(args: Sequence[str], module: str) -> Optional[str]:
    """The one ``package.module:factory`` argument of ``python3 -m <module>``; None
    after printing the usage."""
    if len(args) != 1 or ":" not in args[0]:
        print("usage: python3 -m %s package.module:factory" % module, file=sys.stderr)
        return None
    return args[0]


def import_or_report(entry: str) -> Optional[Callable[[Host], Any]]:
    """``load_factory(entry)``; None after printing the traceback to stderr (the
    process then exits with ``EXIT_IMPORT``)."""
    try:
        return load_factory(entry)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        return None


def inherited_socket(process: str) -> Optional[socket.socket]:
    """The socket whose fd is in ``POLYHOST_FD`` (default 3), made non-inheritable;
    None after saying why."""
    try:
        sock = socket.socket(fileno=int(os.environ.get("POLYHOST_FD", "3")))
        # Not passed on to what the plugin starts (os.system, subprocess with
        # close_fds=False, a fork and exec): only this process speaks on it.
        sock.set_inheritable(False)
        return sock
    except (ValueError, OSError) as e:
        print("polyhost %s: bad environment: %s" % (process, e), file=sys.stderr)
        return None


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Handler threads still blocked after the grace period must not keep the process.
    os._exit(code)
