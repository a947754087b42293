@0xd1f4a6b2c3e58f07;
# The value the host codec target decodes: every kind of field the generated Rust
# bindings read (primitives, text, data, enums, lists of each, nested lists, structs,
# unions, groups, AnyPointer, recursion, zero-sized structs).

enum Color {
  red @0;
  green @1;
  blue @2;
}

struct Point {
  x @0 :Float64;
  y @1 :Float64;
}

struct Empty {}

struct Value {
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
  color @13 :Color = green;
  bools @14 :List(Bool);
  ints @15 :List(Int32);
  floats @16 :List(Float64);
  texts @17 :List(Text);
  blobs @18 :List(Data);
  points @19 :List(Point);
  colors @20 :List(Color);
  nested @21 :List(List(Int16));
  matrix @22 :List(List(Point));
  voids @23 :List(Void);
  empties @24 :List(Empty);
  any @25 :AnyPointer;
  child @26 :Value;
  children @27 :List(Value);
  union {
    nothing @28 :Void;
    number @29 :Int64;
    name @30 :Text;
    point @31 :Point;
    words @32 :List(Text);
  }
  group :group {
    a @33 :UInt32 = 7;
    b @34 :Text = "b";
  }
}

# The layouts of the worker protocol's Service and WorkerProcess.start params with
# Data where those have a capability: the corpus generator writes a marker there and
# turns it into a capability pointer (no RPC system needed to build the seeds).
struct ServiceMirror {
  interfaceId @0 :UInt64;
  name @1 :Text;
  cap @2 :Data;
}

struct StartParamsMirror {
  callbacks @0 :List(ServiceMirror);
}
