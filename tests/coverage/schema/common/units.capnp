@0xb7d3c1a5e9f20471;
# Shared declarations, imported from a sibling folder with `..`
# (main/coverage.capnp: `import "../common/units.capnp"`).

enum Unit {
  meter @0;
  second @1;
  kilogram @2;
}

struct Quantity {
  value @0 :Float64;
  unit @1 :Unit = second;
}

const planck :Quantity = (value = 6.62607015e-34, unit = kilogram);
