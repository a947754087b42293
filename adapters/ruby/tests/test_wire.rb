# frozen_string_literal: true

# Unit tests of Polyhost::Wire: round trips, defaults, far pointers, canonical form,
# framing and the limits. Run: ruby -Ilib -Itests -e 'Dir["tests/test_*.rb"].each { |f| require_relative f }'
require "minitest/autorun"
require "polyhost/wire"

class TestWire < Minitest::Test
  W = Polyhost::Wire

  def words(*ws) = ws.pack("Q<*")
  def struct_ptr(off, dw, pc) = ((off << 2) & 0xFFFFFFFF) | ((dw | (pc << 16)) << 32)
  def far_ptr(pos, double, seg) = (pos << 3) | (double ? 4 : 0) | 2 | (seg << 32)

  def test_primitives_text_and_lists_round_trip
    mb = W::MessageBuilder.new
    s = mb.init_root(2, 3)
    s.set_int32(0, -5)
    s.set_bool(33, true)
    s.set_float64(1, 1.5, 2.0)
    s.set_text(0, "héllo ✓")
    s.init_list(1, W::FOUR_BYTES, 3).set_primitives(:int32, [1, -2, 3])
    lb = s.init_struct_list(2, 2, 1, 0)
    lb.get_struct(1).set_uint64(0, 2**64 - 1)
    r = W.read_message(mb.to_bytes).root
    assert_equal(-5, r.get_int32(0))
    assert r.get_bool(33)
    assert_equal 1.5, r.get_float64(1, 2.0)
    assert_equal "héllo ✓", r.get_text(0)
    assert_equal [1, -2, 3], r.get_list(1, W::FOUR_BYTES).primitives(:int32)
    assert_equal 2**64 - 1, r.get_list(2, W::INLINE_COMPOSITE).get_struct(1).get_uint64(0)
  end

  def test_defaults_are_xored_and_missing_fields_read_as_defaults
    mb = W::MessageBuilder.new
    s = mb.init_root(1, 0)
    s.set_int16(0, -1600, -1600)
    s.set_float32(1, 3.5, 3.5)
    assert_equal 0, mb.buf.unpack1("Q<", offset: 8)
    r = W.read_message(mb.to_bytes).root
    assert_equal(-1600, r.get_int16(0, -1600))
    assert_equal 3.5, r.get_float32(1, 3.5)
    assert_equal 200, r.get_uint8(100, 200)
    assert r.get_float64(50, Float::NAN).nan?
    assert_equal "défaut", r.get_text(5, "défaut")
  end

  def test_far_and_double_far_pointers
    seg0 = words(far_ptr(0, false, 1))
    seg1 = words(struct_ptr(0, 1, 0), 42)
    assert_equal 42, W::MessageReader.new([seg0, seg1]).root.get_int64(0)
    seg0 = words(far_ptr(0, true, 1))
    seg1 = words(far_ptr(0, false, 2), struct_ptr(0, 1, 0))
    seg2 = words(7)
    assert_equal 7, W::MessageReader.new([seg0, seg1, seg2]).root.get_int64(0)
  end

  def test_hostile_pointers_raise_wire_errors
    assert_raises(W::PointerOutOfBounds) { W::MessageReader.new([words(struct_ptr(1000, 1, 1), 0)]).root }
    assert_raises(W::InvalidSegmentId) { W::MessageReader.new([words(far_ptr(0, false, 7), 0)]).root }
    assert_raises(W::MalformedPointer) { W::MessageReader.new([words(far_ptr(0, false, 0))]).root }
    assert_raises(W::TooManySegments) { W::FrameDecoder.new.feed("GET / HTTP/1.1\r\n") }
    assert_raises(W::MessageTooLarge) { W::FrameDecoder.new.feed([0, 128 * 1024 * 1024].pack("L<L<")) }
  end

  def test_nesting_and_zero_sized_limits
    # a list whose two elements point back at the list
    seg = words(1 | (6 << 32) | (2 << 35), 0xFFFFFFFD | (6 << 32) | (2 << 35), 0xFFFFFFF9 | (6 << 32) | (2 << 35))
    msg = W::MessageReader.new([seg])
    assert_raises(W::NestingLimitExceeded) do
      l = msg.root_pointer.as_list
      loop { l = l.get_list(0, nil) }
    end
    mb = W::MessageBuilder.new
    assert_raises(W::WireError) { W.canonicalize(W::MessageReader.new([seg]).root_pointer) }
    tag = (1 << 22) << 2
    zero = W::MessageReader.new([words(1 | (7 << 32), tag)])
    assert_raises(W::TraversalLimitExceeded) { zero.root_pointer.as_list }
  end

  def test_canonical_form_truncates_and_orders
    mb = W::MessageBuilder.new
    s = mb.init_root(3, 2)
    s.set_int32(0, 9)
    s.init_struct(1, 2, 2).set_int8(0, 1)
    c = W.canonicalize(W.read_message(mb.to_bytes).root)
    expected = words(struct_ptr(0, 1, 2), 9, 0, struct_ptr(0, 1, 0), 1)
    assert_equal expected, c
  end

  def test_frame_decoder_splits_anywhere
    mb = W::MessageBuilder.new
    mb.init_root(1, 0).set_uint32(0, 77)
    bytes = mb.to_bytes * 3
    dec = W::FrameDecoder.new
    got = bytes.bytes.each_slice(5).flat_map { |c| dec.feed(c.pack("C*")) }
    assert_equal [77, 77, 77], got.map { |m| m.root.get_uint32(0) }
    assert dec.at_boundary?
  end
end
