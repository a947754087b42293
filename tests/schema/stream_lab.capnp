@0xa7c3e9b1d2f40516;
# Streams, flow control and cancellation across the host/worker boundary.

using Polyhost = import "/polyhost.capnp";

struct Item {
  seq @0 :UInt32;
  payload @1 :UInt64;
}

interface StreamLab $Polyhost.worker {
  produce @0 (count :UInt32, failAfter :UInt32, out :Polyhost.Sink(Item)) -> (produced :UInt32);
  # Streams `count` items to the caller; with failAfter > 0 it raises after that many.
  produceForever @1 (out :Polyhost.Sink(Item)) -> ();
  # Streams until cancelled.
  progress @2 () -> (produced :UInt64, cancelled :UInt32, peakRssKb :UInt64);
  # Items the producers have sent, producer calls that saw cancellation, this worker's
  # peak resident memory.
  pullFromHost @3 (count :UInt32) -> (received :UInt32, sum :UInt64);
  # Calls the host's HostFeed.feed and consumes the stream the host produces.
  cancelHostCall @4 (afterMs :UInt32) -> ();
  # Calls HostFeed.stall and cancels it after `afterMs`.
  pipelineOnHost @5 (start :Int64) -> (value :Int64, callsSentBeforeFirstReturned :UInt32);
  # Calls HostFeed.counter and, without waiting, `next` on the counter it will return.
}

interface HostCounter {
  next @0 () -> (value :Int64);
}

interface HostFeed $Polyhost.host {
  feed @0 (count :UInt32, out :Polyhost.Sink(Item)) -> ();
  stall @1 () -> ();
  counter @2 (start :Int64) -> (counter :HostCounter);
}
