"""polyhost: the Python runtime for polyhost plugin workers.

Packages: ``wire`` (Cap'n Proto encoding), ``rpc`` (level-1 RPC on asyncio); modules:
``gen`` (support of generated modules), ``streams`` (Sink(T) streams), ``context``
(per-call context), ``worker`` (the worker process: ``python3 -m polyhost.worker``);
``rpc_capnp`` and ``polyhost_capnp`` are generated.
"""

__version__ = "0.1.0"
