@0xd3a6f1e2b4c59807;
# A worker that misbehaves on request, in Python (tests/plugins/fault_plugin.py) and
# Node (tests/plugins/fault_plugin.mjs), for the fault-injection tests
# (tests/tests/faults.rs, tests/tests/output.rs).

using Polyhost = import "/polyhost.capnp";

interface Faults $Polyhost.worker {
  pid @0 () -> (pid :UInt32, pgid :UInt32);
  # The worker's process id and process group.
  sleep @1 (ms :UInt32) -> (pid :UInt32);
  # Waits without blocking the worker's event loop.
  block @2 (ms :UInt32) -> ();
  # Blocks the worker's event loop (CPU-bound or blocking code in an async handler).
  write @3 (stream :Text, data :Data) -> ();
  # Writes `data` as it is to the worker's "stdout" or "stderr".
  shell @4 (command :Text) -> (status :Int32, output :Text);
  # Runs `/bin/sh -c command` as a child that inherits the worker's file descriptors
  # (like os.system or a fork would); answers its exit status and stdout.
  exit @5 (code :Int32) -> ();
  # Ends the worker process at once with `code`.
  nest @6 (depth :UInt32) -> (nest :Nest);
  # A capability, for calls on returned and pipelined capabilities.
  flood @7 (calls :UInt32, settled :UInt32) -> (ok :UInt32, overloaded :UInt32, other :Text);
  # Makes `calls` HostGate.hold callbacks at once; answers once `settled` of them have
  # ended, counting how (`other`: the first error that was not `overloaded`). The rest
  # keep running.
  hostPanic @8 () -> (message :Text);
  # Calls HostGate.panic and answers the error it got.
  ignoreTerm @9 (ms :UInt32) -> ();
  # Ignores SIGTERM from now on, then blocks its event loop for `ms`.
  socket @10 (action :Text) -> ();
  # Misuses the RPC socket: "half-close" shuts down its sending side (the process
  # stays alive); "oversize" sends a frame header announcing a 16 GiB segment;
  # "bad-return" sends a well-framed Return for a question the host never asked;
  # "deaf" stops reading it and answers (Python only).
  sleepTimed @11 (ms :UInt32) -> () $Polyhost.timeoutMs(400);
  # Like sleep, with a deadline of its own in the schema.
  spray @12 (pushes :UInt32, out :Polyhost.Sink(Text)) -> (ok :UInt32, refused :UInt32);
  # Sends `pushes` pushes of one item ("0", "1", ...) into `out` all at once, ignoring
  # the stream's window (Python only); answers how they ended.
  sprayRefused @13 () -> (refused :UInt32);
  # Answers once a push of the running spray was refused as overloaded.
}

interface HostGate $Polyhost.host {
  hold @0 () -> ();
  # Returns when the host opens its gate.
  panic @1 () -> ();
  # The host handler panics.
}

interface Nest {
  child @0 () -> (nest :Nest);
  # A capability one level deeper.
  depth @1 () -> (depth :UInt32);
  sleep @2 (ms :UInt32) -> ();
  # Waits without blocking the event loop.
}
