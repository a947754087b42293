@0xddcd8568a76efaaf;
# The quickstart's plugin interface: a greeter the workers implement, a counter they
# hand out as a capability, and a log the host implements for them.

using Polyhost = import "/polyhost.capnp";

interface Greeter $Polyhost.worker $Polyhost.timeoutMs(10000) {
  greet @0 (name :Text) -> (greeting :Text) $Polyhost.idempotent;
  # A plain method.

  counter @1 (start :Int64) -> (counter :Counter);
  # Returns a capability that lives in the worker.

  shout @2 (text :Text) -> (echoed :Text);
  # Calls back into the host (HostLog.log) before answering.
}

interface Counter {
  next @0 () -> (value :Int64);
}

interface HostLog $Polyhost.host {
  # Implemented by the Rust host; workers call it.
  log @0 (line :Text) -> (accepted :Bool);
}
