# polyhost.capnp: the worker protocol and the annotations plugin schemas import.
#
# A plugin schema imports this file as `/polyhost.capnp`; the generator puts it on the
# import path, nothing needs configuring:
#
#     using Polyhost = import "/polyhost.capnp";
#     interface Greeter $Polyhost.worker { greet @0 (name :Text) -> (greeting :Text); }
@0xf67c763d6e5de854;

# ---- Annotations -------------------------------------------------------------------

annotation worker @0xbe8e1cfbd08ab08e (interface) :Void;
# Workers implement this interface and the host calls it: the generator emits a typed
# client for the host and a base class (or trait) for every guest language.

annotation host @0xcd00f7148f6244e4 (interface) :Void;
# The host implements this interface and workers call it (callbacks): the generator
# emits a Rust handler trait and a typed client for every guest language.

annotation idempotent @0xd92225709558ae77 (method) :Void;
# Calling the method twice has the effect of calling it once, so the runtime may retry
# it once on another worker when the first one crashed mid-call.

annotation timeoutMs @0xea38287f05f1922c (method, interface) :UInt32;
# Default deadline of a call in milliseconds (on an interface: for all its methods).
# A per-call deadline given by the caller wins.

# ---- Streams -------------------------------------------------------------------------

interface Sink @0x950d47d539ceb3b3 (T) {
  # A stream of `T` items is a capability the producer pushes into. A method that takes a
  # `Sink(T)` parameter is presented as a native stream in every language.
  #
  # Items travel in batches: `batch` is a list whose element type is `T` (capnp generics
  # cannot express `List(T)`, so the generated code on both sides enforces it). Producers
  # batch more items per push when they outpace the consumer; the `-> stream` flow
  # control of the push bounds how much is in flight.

  push @0 (batch :AnyList) -> stream;
  # Deliver the next items, in order.

  end @1 (error :Failure);
  # No more items. A non-null `error` says the producer failed after the items already
  # pushed; the consumer sees it as an error after those items.
}

const tracebackMarker :Text = "\n--- polyhost traceback ---\n";
# Separates `Type: message` from the raising language's traceback in the reason of a
# capnp exception a guest sends (capnp-rpc's Rust peer drops the `trace` field, so the
# traceback travels in the reason); the receiver splits it off again.

struct Failure @0xae788be47cc47d01 {
  # An error crossing the boundary as data (a stream ending in error).
  type @0 :Text;        # the exception's type name in the raising language
  message @1 :Text;
  traceback @2 :Text;
}

# ---- Worker protocol -------------------------------------------------------------------

interface WorkerProcess @0xe064d6165d0567b2 $worker {
  # The bootstrap capability of every worker process (the host calls it, workers
  # implement it).

  start @0 (callbacks :List(Service)) -> (info :WorkerInfo, services :List(Service));
  # First call on a new worker. The host hands over its implementations of the
  # `$host` interfaces; the worker answers with what it is and the `$worker`
  # interfaces it serves.

  scoped @1 (context :CallContext, interfaceId :UInt64) -> (service :Capability) $idempotent;
  # A view of one served interface in which every call runs with `context` (trace
  # parent, deadline, session). Callers pipeline on `service` without waiting; asking
  # twice gives an equivalent view.

  ping @2 (nonce :UInt64) -> (nonce :UInt64);
  # Health check: answers with the same nonce.

  shutdown @3 ();
  # Finish running calls, then exit with status 0.
}

struct Service @0x8ba9cacc86853bb3 {
  interfaceId @0 :UInt64;
  name @1 :Text;            # the schema's interface name, for diagnostics
  cap @2 :Capability;
}

struct WorkerInfo @0xd3a0bd8f0c1e6b55 {
  language @0 :Text;          # "python", "node", ...
  runtimeVersion @1 :Text;    # the interpreter's version
  adapterVersion @2 :Text;    # polyhost's adapter runtime version
  pid @3 :UInt32;
  fingerprints @4 :List(SchemaFingerprint);
}

struct SchemaFingerprint @0xa5c8e2f1b7d04963 {
  schema @0 :Text;            # schema file, as named in generated headers
  fingerprint @1 :Text;       # the fingerprint the worker's bindings were built from
}

struct CallContext @0xf1e9d7c5b3a19284 {
  traceParent @0 :Text;       # W3C traceparent of the host span, empty when none
  deadlineUnixMs @1 :UInt64;  # 0: no deadline
  session @2 :Text;           # session key, empty when none
}
