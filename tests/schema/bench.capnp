@0xc9cdf530cd3f173e;
# The benchmark's worker (tests/src/bin/bench.rs, tests/plugins/bench_plugin.py).

using Polyhost = import "/polyhost.capnp";

struct Item {
  # A small stream item.
  seq @0 :UInt32;
  value @1 :Float64;
}

interface Bench $Polyhost.worker {
  echoBytes @0 (data :Data) -> (data :Data);
  # Answers its payload.

  produce @1 (count :UInt32, out :Polyhost.Sink(Item)) -> ();
  # Streams `count` items worker to host.

  consume @2 (count :UInt32) -> (received :UInt32);
  # Asks the host's Feeder for `count` items and consumes them (host to worker).
}

interface Feeder $Polyhost.host {
  feed @0 (count :UInt32, out :Polyhost.Sink(Item)) -> ();
  # The host streams `count` items into `out`.
}
