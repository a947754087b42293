@0x85f5d379a46177bb;
# The adapter conformance suite's interface (tests/conformance/README.md).
#
# Every guest language implements `Conformance` in tests/conformance/guests/<adapter>/;
# the Rust scenarios in tests/tests/conformance/ call it through polyhost (and through
# capnp-rpc directly where they need raw access) and check what comes back.

using Polyhost = import "/polyhost.capnp";

enum Mood {
  calm @0;
  curious @1;
  furious @2;
}

struct Point {
  x @0 :Float64;
  y @1 :Float64;
}

struct Variant {
  # A struct that is only a union, for lists of unions.
  union {
    nothing @0 :Void;
    number @1 :Int64;
    word @2 :Text;
    spot @3 :Point;
  }
}

struct Tree {
  # Recursive: nests as deep as the sender likes (readers enforce a nesting limit).
  label @0 :Text;
  children @1 :List(Tree);
}

struct Everything {
  # One field of every kind the encoding has.

  # Primitives.
  void @0 :Void;
  bool @1 :Bool;
  i8 @2 :Int8;
  i16 @3 :Int16;
  i32 @4 :Int32;
  i64 @5 :Int64;
  u8 @6 :UInt8;
  u16 @7 :UInt16;
  u32 @8 :UInt32;
  u64 @9 :UInt64;
  f32 @10 :Float32;
  f64 @11 :Float64;
  text @12 :Text;
  data @13 :Data;
  mood @14 :Mood;
  point @15 :Point;

  # Defaults (stored XORed on the wire; a zeroed message reads as these).
  boolDefault @16 :Bool = true;
  i8Default @17 :Int8 = -8;
  i16Default @18 :Int16 = -1600;
  i32Default @19 :Int32 = -320000;
  i64Default @20 :Int64 = -6400000000;
  u8Default @21 :UInt8 = 200;
  u16Default @22 :UInt16 = 60000;
  u32Default @23 :UInt32 = 4000000000;
  u64Default @24 :UInt64 = 18446744073709551615;
  f32Default @25 :Float32 = 3.5;
  f64Default @26 :Float64 = -2.25;
  nanDefault @27 :Float64 = nan;
  infDefault @28 :Float64 = inf;
  negInfDefault @29 :Float32 = -inf;
  textDefault @30 :Text = "défaut ✓";
  dataDefault @31 :Data = 0x"00 ff 10";
  moodDefault @32 :Mood = furious;
  pointDefault @33 :Point = (x = 1.0, y = -1.0);
  listDefault @34 :List(Int16) = [1, -2, 3];

  # Lists of every element kind.
  voids @35 :List(Void);
  bools @36 :List(Bool);
  i8s @37 :List(Int8);
  i16s @38 :List(Int16);
  i32s @39 :List(Int32);
  i64s @40 :List(Int64);
  u8s @41 :List(UInt8);
  u16s @42 :List(UInt16);
  u32s @43 :List(UInt32);
  u64s @44 :List(UInt64);
  f32s @45 :List(Float32);
  f64s @46 :List(Float64);
  texts @47 :List(Text);
  datas @48 :List(Data);
  moods @49 :List(Mood);
  points @50 :List(Point);
  variants @51 :List(Variant);
  nested @52 :List(List(Int32));
  deep @53 :List(List(List(Text)));
  pointGrid @54 :List(List(Point));

  # A named union, a group, the struct's own union, a recursive struct.
  shape :union {
    none @55 :Void;
    circle @56 :Float64;
    rect @57 :Point;
    poly @58 :List(Point);
    label @59 :Text;
  }
  meta :group {
    name @60 :Text;
    version @61 :UInt32 = 1;
    tags @62 :List(Text);
  }
  union {
    idle @63 :Void;
    count @64 :Int64;
    note @65 :Text;
    mood2 @66 :Mood;
  }
  tree @67 :Tree;
}

interface Thing {
  # A capability the guest creates and hands out.
  get @0 () -> (label :Text, serial :UInt32);
}

interface Callback $Polyhost.host {
  # Implemented by the Rust host; the guest calls it.
  call @0 (x :Int64) -> (y :Int64);
  produce @1 (count :UInt32, out :Polyhost.Sink(Point)) -> ();
  # The host streams `count` points (x = i, y = -i) into `out`.
}

interface Conformance $Polyhost.worker {
  echo @0 (value :Everything) -> (value :Everything);
  # Decodes `value` into native objects and encodes them again into the results.

  canonical @1 (value :Everything) -> (bytes :Data);
  # Decodes `value`, encodes it into a fresh message and returns that message's
  # canonical bytes (the guest runtime's own canonicalize).

  fail @2 (kind :Text) -> ();
  # Raises the guest exception `ConformanceError` with message "failure: <kind>" from a
  # function of the guest file, so the traceback names it.

  sleep @3 (ms :UInt32) -> (completed :Bool);
  # Logs "sleep:<ms>:start" (see `events`), then sleeps without blocking the guest; a
  # cancelled sleep is counted.

  cancelledCount @4 () -> (count :UInt32);
  # How many `sleep` calls saw cancellation (the language's native cancellation).

  callHost @5 (x :Int64) -> (y :Int64);
  # Calls the host's Callback (passed at start) with x and returns its answer.

  applyTo @6 (callback :Callback, x :Int64) -> (y :Int64);
  # Calls the Callback passed in the params with x and returns its answer.

  make @7 (label :Text) -> (thing :Thing);
  # Returns a new Thing. While the gate is closed (`closeGate`), waits for `openGate`.

  liveThings @8 () -> (count :UInt32);
  # Things alive in the guest (after a garbage collection where the language has one).

  closeGate @9 ();
  openGate @10 ();
  events @11 () -> (log :List(Text));
  # What the guest saw since the last `closeGate`, in order: "make:<label>:start",
  # "gate:open", "make:<label>:return", "get:<label>", "sleep:<ms>:start".

  big @12 (size :UInt32) -> (data :Data);
  # `size` bytes: byte i is (i * 7 + 3) mod 256.

  measure @13 (data :Data) -> (size :UInt64, checksum :UInt64);
  # Length and the sum of the bytes.

  numbers @14 (count :UInt32, out :Polyhost.Sink(Point)) -> (sent :UInt32);
  # Streams `count` points (x = i, y = -i) to the caller.

  drain @15 (count :UInt32) -> (received :UInt32, sumX :Float64);
  # Asks the host's Callback.produce for `count` points and consumes the stream.
}
