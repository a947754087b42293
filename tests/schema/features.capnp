@0xc4d2b5a1e3f60789;
# Every schema feature the generator handles, for snapshots and round-trip tests.

using Polyhost = import "/polyhost.capnp";

const answer :Int32 = 42;
const greeting :Text = "hello, \"world\"";
const origin :Point = (x = 1.5, y = -2.0);

enum Color {
  # A primary colour.
  red @0;
  green @1;
  blueish @2;   # unusual name to exercise casing
}

struct Point {
  x @0 :Float64;
  y @1 :Float64;
}

struct Primitives {
  # One field of every primitive type, with and without defaults.
  flag @0 :Bool;
  i8 @1 :Int8;
  i16 @2 :Int16;
  i32 @3 :Int32;
  i64 @4 :Int64;
  u8 @5 :UInt8;
  u16 @6 :UInt16;
  u32 @7 :UInt32;
  u64 @8 :UInt64;
  f32 @9 :Float32;
  f64 @10 :Float64;
  text @11 :Text;
  data @12 :Data;
  void @13 :Void;
  flagOn @14 :Bool = true;
  minus @15 :Int32 = -7;
  big @16 :UInt64 = 18446744073709551615;
  ratio @17 :Float32 = 0.5;
  notANumber @18 :Float64 = nan;
  infinity @19 :Float64 = inf;
  named @20 :Text = "polyhost";
  bytes @21 :Data = 0x"de ad be ef";
  color @22 :Color = green;
}

struct Lists {
  bools @0 :List(Bool);
  ints @1 :List(Int32);
  floats @2 :List(Float64);
  texts @3 :List(Text);
  blobs @4 :List(Data);
  points @5 :List(Point);
  colors @6 :List(Color);
  nested @7 :List(List(Int16));
  matrix @8 :List(List(Point));
  words @9 :List(List(Text));
  defaulted @10 :List(Int32) = [1, 2, 3];
}

struct Shape {
  # A union, a named union group and a plain group.
  name @0 :Text;
  union {
    circle @1 :Float64;        # radius
    rectangle @2 :Point;       # width and height
    polygon @3 :List(Point);
    empty @4 :Void;
  }
  style :group {
    color @5 :Color;
    width @6 :Float32 = 1.0;
  }
  anchor :union {
    center @7 :Void;
    corner @8 :Point;
  }
  origin @9 :Point = (x = 0.5, y = 0.5);

  struct Label {
    # A nested struct.
    text @0 :Text;
    kind @1 :Kind;
    enum Kind {
      plain @0;
      bold @1;
    }
  }
  label @10 :Label;
}

struct Pair(Key, Value) {
  # A generic struct.
  key @0 :Key;
  value @1 :Value;
}

struct Tagged {
  # Generic instantiations as fields.
  entry @0 :Pair(Text, Point);
  points @1 :Pair(Point, Point);
}

interface Counter {
  # An ordinary capability, returned by a worker method.
  increment @0 (by :Int64) -> (value :Int64);
  read @1 () -> (value :Int64);
}

interface Named {
  name @0 () -> (name :Text);
}

interface Logger $Polyhost.host {
  # Implemented by the host; workers call it.
  log @0 (level :Color, message :Text);
  lines @1 (sink :Polyhost.Sink(Text)) -> (count :UInt32);
}

interface Calculator extends(Named) $Polyhost.worker $Polyhost.timeoutMs(5000) {
  # Implemented by workers; the host calls it.
  add @0 (a :Int32, b :Int32) -> (sum :Int32) $Polyhost.idempotent;
  # Adds two numbers.
  describe @1 (shape :Shape) -> (area :Float64, label :Text) $Polyhost.timeoutMs(250);
  counter @2 (start :Int64) -> (counter :Counter);
  # Returns a capability callers can pipeline on.
  useLogger @3 (logger :Logger) -> ();
  numbers @4 (count :UInt32, out :Polyhost.Sink(Point)) -> ();
  # Streams `count` points into `out`.
  sum @5 (input :Polyhost.Sink(Point)) -> (total :Point);
  tick @6 (n :UInt32) -> stream;
  echo @7 (value :Pair(Text, Point)) -> (value :Pair(Text, Point));
  holder @8 () -> (holder :Holder);
}

struct Holder {
  # A struct with capability fields.
  counter @0 :Counter;
  counters @1 :List(Counter);
  any @2 :AnyPointer;
}

struct Chain {
  # Recursive: a null `next` is an absent value (None / null / Option::None).
  value @0 :Int32;
  next @1 :Chain;
  branches @2 :List(Chain);
}

struct Ping {
  # Mutually recursive with Pong, through a union and a group.
  pong @0 :Pong;
  union {
    stop @1 :Void;
    again @2 :Ping;
  }
}

struct Pong {
  ping :group {
    back @0 :Ping;
  }
}

const chained :Chain = (value = 1, next = (value = 2, next = (value = 3)));

struct Silent {
  # Every field is Void, in the struct and in its groups.
  a @0 :Void;
  quiet :group {
    b @1 :Void;
  }
  hush :union {
    c @2 :Void;
    d @3 :Void;
  }
}

struct Nothing {}
