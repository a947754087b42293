# frozen_string_literal: true

# Generated struct classes (tests/generated/features_capnp.rb): keyword constructors,
# ==, to_h, nil for null struct fields, enums, unions, groups, defaults, generics.
require_relative "support"
require "features_capnp"

class TestGeneratedStructs < Minitest::Test
  include Support
  F = Capnp_features

  def test_constructor_defaults_are_the_schema_defaults
    p = F::Primitives.new
    assert_equal [true, -7, 2**64 - 1, 0.5, "polyhost", "\xDE\xAD\xBE\xEF".b, F::Color::GREEN],
                 [p.flag_on, p.minus, p.big, p.ratio, p.named, p.bytes, p.color]
    assert p.not_a_number.nan?
    assert_equal Float::INFINITY, p.infinity
    assert_equal [1, 2, 3], F::Lists.new.defaulted
    assert_equal F::Point.new(x: 0.5, y: 0.5), F::Shape.new.origin
  end

  def test_unknown_keywords_are_refused
    assert_raises(ArgumentError) { F::Point.new(z: 1.0) }
  end

  def test_primitives_round_trip_with_defaults_and_extremes
    p = F::Primitives.new(flag: true, i8: -128, i16: 32_767, i32: -2**31, i64: 2**63 - 1, u8: 255,
                          u16: 65_535, u32: 2**32 - 1, u64: 0, f32: -0.0, f64: 1e308, text: "ünï ✓",
                          data: "\x00\xFF".b, flag_on: false, minus: 0, big: 1, ratio: -1.5,
                          not_a_number: 2.0, infinity: -Float::INFINITY, named: "", bytes: "".b,
                          color: F::Color::BLUEISH)
    back = round_trip(p)
    assert_equal p, back
    assert_equal(-0.0, back.f32)
    assert_predicate 1.0 / back.f32, :negative?
  end

  def test_lists_of_every_kind
    l = F::Lists.new(bools: [true, false, true], ints: [1, -2], floats: [0.5], texts: ["a", ""],
                     blobs: ["\x01".b], points: [F::Point.new(x: 1.0, y: 2.0)], colors: [2, 0],
                     nested: [[1, -1], []], matrix: [[F::Point.new(x: 3.0)]], words: [["x"], []],
                     defaulted: [])
    assert_equal l, round_trip(l)
  end

  def test_null_struct_fields_read_as_nil_and_lists_as_empty
    back = round_trip(F::Shape.new(label: nil))
    assert_nil back.label
    assert_equal [], round_trip(F::Lists.new).ints
  end

  def test_unions_and_groups
    s = F::Shape.new(name: "r", rectangle: F::Point.new(x: 2.0, y: 3.0),
                     style: F::Shape_Style.new(color: F::Color::RED, width: 2.5),
                     anchor: F::Shape_Anchor.new(corner: F::Point.new(x: 1.0, y: 1.0)))
    assert_equal :rectangle, s.which
    assert_nil s.circle
    back = round_trip(s)
    assert_equal s, back
    assert_equal :corner, back.anchor.which
    assert_equal 2.5, back.style.width
    assert_equal :empty, round_trip(F::Shape.new(which: :empty)).which
    assert_equal :circle, F::Shape.new.which
    h = back.to_h
    assert_equal :rectangle, h[:which]
    assert_equal({ x: 2.0, y: 3.0 }, h[:rectangle])
    refute h.key?(:circle)
  end

  def test_enums_are_frozen_integer_constants
    assert_equal 2, F::Color::BLUEISH
    assert_equal :blueish, F::Color.name_of(2)
    assert F::Color::NAMES.frozen?
    assert_equal F::Shape_Label_Kind, F::Shape::Label::Kind
  end

  def test_generic_fields_use_their_type_arguments
    t = F::Tagged.new(entry: F::Pair.new(key: "k", value: F::Point.new(x: 1.0, y: 2.0)))
    back = round_trip(t)
    assert_equal "k", back.entry.key
    assert_equal F::Point.new(x: 1.0, y: 2.0), back.entry.value
  end

  def test_canonical_bytes_of_a_generated_value
    mb = W::MessageBuilder.new
    F::Point.new(x: 1.0)._write(mb.init_root(2, 0))
    assert_equal [0x0001_0000_0000 | 0, [1.0].pack("E").unpack1("Q<")].pack("Q<Q<"),
                 W.canonicalize(W::MessageReader.new(mb.segments).root)
    assert_equal F::ORIGIN, F::Point.new(x: 1.5, y: -2.0)
    assert_equal 42, F::ANSWER
  end
end
