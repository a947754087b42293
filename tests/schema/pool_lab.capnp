@0xf4a1c2e3d5b60718;
# A worker that misbehaves on request, for the pool's supervision tests.

using Polyhost = import "/polyhost.capnp";

interface Lab $Polyhost.worker {
  echo @0 (n :Int64) -> (n :Int64);
  pid @1 () -> (pid :UInt32);
  slow @2 (ms :UInt32) -> (pid :UInt32);
  # Sleeps without blocking the worker.
  hang @3 (ms :UInt32) -> ();
  # Blocks the worker's event loop: it stops answering, pings included.
  crashOnce @4 (marker :Text) -> (pid :UInt32) $Polyhost.idempotent;
  # The first call (no file at `marker` yet) creates it and kills its own worker
  # mid-call; later calls answer with their pid.
  remember @5 (value :Text) -> ();
  recall @6 () -> (value :Text);
  # Per-worker state, for sessions.
  counterWhenPiped @7 (start :Int64, waitMs :UInt32) -> (counter :Counter);
  # Answers only once another call has reached this worker's connection (or after
  # `waitMs`): a pipelined call on `counter` arrives while this one is still running.
  sawPipelinedCall @8 () -> (saw :Bool);
  # Whether the last counterWhenPiped saw that call before answering.
  spew @9 () -> ();
  # Writes garbage onto the RPC socket, as a broken or hostile worker would.
  context @10 () -> (session :Text, deadlineUnixMs :UInt64, traceParent :Text, childTraceParent :Text);
  # The per-call context the handler runs with (polyhost.context.current()).
}

interface Counter {
  next @0 () -> (value :Int64);
}
