# frozen_string_literal: true

require_relative "layout"
require_relative "reader"

# Building Cap'n Proto messages: MessageBuilder, StructBuilder, ListBuilder, and the
# deep copy (AnyPointer values, canonical form).
#
# Owns allocation (one growing segment: a message is built in one binary String and
# never needs far pointers), pointer encoding, default (XOR) encoding of primitive
# fields, Text / Data, capability pointers (objects appended to the builder's
# cap_table) and copy_into, which copies a reader's object into a builder either as
# it is or in canonical form (encoding spec, "Canonicalization"). A deep copy follows
# at most as many pointers as the source message has words, plus 64, so pointers that
# share targets cannot make it exponential.
module Polyhost
  module Wire
    ZERO_WORDS = Hash.new { |h, n| h[n] = ("\0" * (n << 3)).b.freeze if n <= 64 }

    class MessageBuilder
      attr_accessor :cap_table
      attr_reader :buf

      def initialize(cap_table: nil)
        @buf = String.new("\0" * 8, encoding: Encoding::BINARY, capacity: 1024)
        @cap_table = cap_table || []
      end

      # Appends `words` zero words; returns their byte offset.
      def allocate(words)
        at = @buf.bytesize
        if words > MAX_SEGMENT_WORDS || at + (words << 3) > (MAX_SEGMENT_WORDS << 3)
          raise MessageTooLarge, "a message may hold at most #{MAX_SEGMENT_WORDS} words"
        end

        z = ZERO_WORDS[words]
        @buf << (z || ("\0" * (words << 3)).b)
        at
      end

      def root_pointer = PointerBuilder.new(self, 0)
      def init_root(data_words, ptr_count) = Wire.init_struct(self, 0, data_words, ptr_count)
      def segments = [@buf]
      def size_in_words = @buf.bytesize >> 3
      def to_bytes = Wire.frame([@buf])
      def as_reader(limits: nil) = MessageReader.new([@buf.dup], limits: limits, cap_table: @cap_table)

      def write_pointer(ref, lo, hi)
        @buf[ref, 8] = [lo, hi].pack("l<L<")
      end
    end

    class << self
      # A near pointer at `ref` to the object at byte `target`.
      def point(mb, ref, target, kind, hi)
        mb.write_pointer(ref, (((target - ref - 8) >> 3) << 2) | kind, hi)
      end

      def check_struct_size(dw, pc)
        return if dw.between?(0, 0xFFFF) && pc.between?(0, 0xFFFF)

        raise WrongType, "a struct has at most 65535 data words and 65535 pointers, not #{dw} and #{pc}"
      end

      def init_struct(mb, ref, dw, pc)
        check_struct_size(dw, pc)
        if dw.zero? && pc.zero?
          mb.write_pointer(ref, -4, 0) # offset -1: a zero-sized struct
          return StructBuilder.new(mb, ref, 0, ref, 0)
        end
        t = mb.allocate(dw + pc)
        point(mb, ref, t, 0, dw | (pc << 16))
        StructBuilder.new(mb, t, dw << 3, t + (dw << 3), pc)
      end

      def init_list(mb, ref, es, count)
        raise WrongType, "use init_struct_list for lists of structs" if es == INLINE_COMPOSITE
        raise WrongType, "a list has at most #{MAX_LIST_COUNT} elements, not #{count}" unless count.between?(0, MAX_LIST_COUNT)

        step = STEP_BITS.fetch(es)
        t = mb.allocate(((count * step) + 63) >> 6)
        point(mb, ref, t, 1, es | (count << 3))
        ListBuilder.new(mb, t, count, step, DATA_BITS[es], POINTERS[es], es)
      end

      def init_struct_list(mb, ref, count, dw, pc)
        check_struct_size(dw, pc)
        raise WrongType, "a list has at most #{MAX_LIST_COUNT} elements, not #{count}" unless count.between?(0, MAX_LIST_COUNT)

        words = count * (dw + pc)
        t = mb.allocate(words + 1)
        point(mb, ref, t, 1, INLINE_COMPOSITE | (words << 3))
        mb.write_pointer(t, count << 2, dw | (pc << 16))
        ListBuilder.new(mb, t + 8, count, (dw + pc) << 6, dw << 6, pc, INLINE_COMPOSITE)
      end

      def set_bytes(mb, ref, raw)
        n = raw.bytesize
        t = mb.allocate((n + 7) >> 3)
        point(mb, ref, t, 1, BYTE | (n << 3))
        mb.buf[t, n] = raw if n.positive?
      end

      def set_text(mb, ref, s)
        return if s.nil?
        raise WrongType, "Text must be a String, got #{s.class}" unless s.is_a?(String)

        raw = s.encoding == Encoding::UTF_8 ? s.b : s.encode(Encoding::UTF_8).b
        set_bytes(mb, ref, raw + "\0")
      end

      def set_data(mb, ref, b)
        return if b.nil?
        raise WrongType, "Data must be a String, got #{b.class}" unless b.is_a?(String)

        set_bytes(mb, ref, b.b)
      end

      def set_capability(mb, ref, obj)
        return if obj.nil?

        mb.cap_table << obj
        mb.write_pointer(ref, 3, mb.cap_table.size - 1)
      end

      # Copies `src` (a PointerReader, StructReader, ListReader or nil) into the
      # pointer at `ref`, as it is or in canonical form.
      def copy_into(mb, ref, src, canonical: false)
        msg = src&.message
        msg.walk = msg.total_words + 64 if msg
        copy_any(mb, ref, src, canonical)
      end

      def follow(msg)
        msg.walk -= 1
        return unless msg.walk.negative?

        raise TraversalLimitExceeded,
              "a deep copy followed more pointers than the message has words (pointers sharing targets?)"
      end

      def copy_any(mb, ref, src, canonical)
        case src
        when nil then nil
        when StructReader then copy_struct(mb, ref, src, canonical)
        when ListReader then copy_list(mb, ref, src, canonical)
        when PointerReader
          return if src.null?

          follow(src.message)
          t = src.target
          if t.is_a?(Capability)
            raise InvalidCapability, "a canonical message cannot hold capabilities" if canonical

            set_capability(mb, ref, src.message.cap_object(src.message.segments[src.segi], src.off))
          else
            copy_any(mb, ref, t, canonical)
          end
        else
          raise WrongType, "cannot copy a #{src.class}"
        end
      end

      def struct_sizes(sr, canonical)
        seg = sr.seg
        dw = sr.data_bytes >> 3
        partial = sr.data_bytes & 7
        pc = sr.ptr_count
        if canonical
          dw -= 1 while dw.positive? && seg.unpack1("Q<", offset: sr.data_off + ((dw - 1) << 3)).zero?
          pc -= 1 while pc.positive? && seg.unpack1("Q<", offset: sr.ptr_off + ((pc - 1) << 3)).zero?
          # a struct read from a list of sub-word primitives: keep its bytes if set
          dw = 1 if partial.positive? && dw.zero? && seg.byteslice(sr.data_off, partial).bytes.any?(&:positive?)
        elsif partial.positive?
          dw += 1
        end
        [dw, pc]
      end

      def copy_struct_body(mb, t, dw, pc, sr, canonical)
        n = [dw << 3, sr.data_bytes].min
        mb.buf[t, n] = sr.seg.byteslice(sr.data_off, n) if n.positive?
        [pc, sr.ptr_count].min.times do |j|
          copy_any(mb, t + (dw << 3) + (j << 3), sr.get_pointer(j), canonical)
        end
      end

      def copy_struct(mb, ref, sr, canonical)
        dw, pc = struct_sizes(sr, canonical)
        if dw.zero? && pc.zero?
          mb.write_pointer(ref, -4, 0)
          return
        end
        t = mb.allocate(dw + pc)
        point(mb, ref, t, 0, dw | (pc << 16))
        copy_struct_body(mb, t, dw, pc, sr, canonical)
      end

      def copy_list(mb, ref, lr, canonical)
        es = lr.element_size
        count = lr.count
        case es
        when INLINE_COMPOSITE
          dw = lr.data_bits >> 6
          pc = lr.ptr_count
          if canonical
            dw = 0
            pc = 0
            count.times do |i|
              d, p = struct_sizes(lr.get_struct(i), true)
              dw = d if d > dw
              pc = p if p > pc
            end
          end
          lb = init_struct_list(mb, ref, count, dw, pc)
          per = (dw + pc) << 3
          count.times do |i|
            copy_struct_body(mb, lb.off + (i * per), dw, pc, lr.get_struct(i), canonical)
          end
        when POINTER
          lb = init_list(mb, ref, POINTER, count)
          count.times { |i| copy_any(mb, lb.off + (i << 3), lr.get_pointer(i), canonical) }
        else
          lb = init_list(mb, ref, es, count)
          bytes = ((count * lr.step) + 7) >> 3
          return if bytes.zero?

          chunk = lr.seg.byteslice(lr.off, bytes)
          if es == BIT && (count & 7).positive?
            chunk.setbyte(bytes - 1, chunk.getbyte(bytes - 1) & ((1 << (count & 7)) - 1))
          end
          mb.buf[lb.off, bytes] = chunk
        end
      end

      # The canonical bytes (one segment, no framing) of a StructReader (it becomes the
      # root), a PointerReader, a ListReader or a MessageReader (its root pointer).
      def canonicalize(value)
        value = value.root_pointer if value.is_a?(MessageReader)
        unless value.is_a?(StructReader) || value.is_a?(PointerReader) || value.is_a?(ListReader)
          raise WrongType, "canonicalize takes a StructReader, PointerReader, ListReader or MessageReader, got #{value.class}"
        end

        mb = MessageBuilder.new
        copy_into(mb, 0, value, canonical: true)
        mb.buf
      end
    end

    # Methods shared by builders that own pointer slots.
    module PointerSlots
      def set_text(i, s) = Wire.set_text(@mb, ref(i), s)
      def set_data(i, b) = Wire.set_data(@mb, ref(i), b)
      def init_struct(i, dw, pc) = Wire.init_struct(@mb, ref(i), dw, pc)
      def init_list(i, es, count) = Wire.init_list(@mb, ref(i), es, count)
      def init_struct_list(i, count, dw, pc) = Wire.init_struct_list(@mb, ref(i), count, dw, pc)
      def set_capability(i, obj) = Wire.set_capability(@mb, ref(i), obj)
      def copy_pointer(i, src) = Wire.copy_into(@mb, ref(i), src)
      def get_pointer(i) = PointerBuilder.new(@mb, ref(i))
    end

    class StructBuilder
      include PointerSlots
      attr_reader :mb, :data_off, :data_bytes, :ptr_off, :ptr_count

      def initialize(mb, data_off, data_bytes, ptr_off, ptr_count)
        @mb = mb
        @data_off = data_off
        @data_bytes = data_bytes
        @ptr_off = ptr_off
        @ptr_count = ptr_count
      end

      def message = @mb

      def ref(i)
        raise IndexOutOfRange, "pointer #{i} out of range for a struct of #{@ptr_count} pointers" unless i < @ptr_count

        @ptr_off + (i << 3)
      end

      def set_bool(bit, value, default = false)
        byte = bit >> 3
        raise IndexOutOfRange, "bit #{bit} is outside the data section" unless byte < @data_bytes

        v = value ? !default : default
        pos = @data_off + byte
        b = @mb.buf.getbyte(pos)
        @mb.buf.setbyte(pos, v ? b | (1 << (bit & 7)) : b & ~(1 << (bit & 7)))
      end

      PRIMITIVES.each do |name, (dir, size)|
        if name.to_s.start_with?("float")
          bits_dir = size == 4 ? "L<" : "Q<"
          cache = size == 4 ? FloatBits::F32 : FloatBits::F64
          define_method("set_#{name}") do |offset, value, default = 0.0|
            b = offset * size
            raise IndexOutOfRange, "#{name} at #{offset} is outside the data section" if b + size > @data_bytes

            raw = [value.to_f].pack(dir).unpack1(bits_dir)
            raw ^= cache[default] unless default.zero? && (1.0 / default).positive?
            @mb.buf[@data_off + b, size] = [raw].pack(bits_dir)
          end
        else
          define_method("set_#{name}") do |offset, value, default = 0|
            b = offset * size
            raise IndexOutOfRange, "#{name} at #{offset} is outside the data section" if b + size > @data_bytes
            raise WrongType, "#{name} field needs an Integer, got #{value.class}" unless value.is_a?(Integer)

            @mb.buf[@data_off + b, size] = [value ^ default].pack(dir)
          end
        end
      end
    end

    class ListBuilder
      include PointerSlots
      attr_reader :mb, :off, :count, :step, :element_size

      def initialize(mb, off, count, step, data_bits, ptr_count, es)
        @mb = mb
        @off = off
        @count = count
        @step = step
        @data_bits = data_bits
        @ptr_count = ptr_count
        @element_size = es
      end

      def len = @count
      alias size len

      def check(i)
        raise IndexOutOfRange, "index #{i} out of range for a list of #{@count}" unless i.is_a?(Integer) && i >= 0 && i < @count
      end

      def ref(i)
        check(i)
        raise IncompatibleListElement, "a #{Wire.element_size_name(@element_size)} list has no pointers" if @ptr_count.zero?

        @off + ((i * @step) >> 3) + (@data_bits >> 3)
      end

      def set_bool(i, value)
        check(i)
        pos = @off + (i >> 3)
        b = @mb.buf.getbyte(pos)
        @mb.buf.setbyte(pos, value ? b | (1 << (i & 7)) : b & ~(1 << (i & 7)))
      end

      PRIMITIVES.each do |name, (dir, size)|
        define_method("set_#{name}") do |i, value|
          check(i)
          @mb.buf[@off + (i * size), size] = [value].pack(dir)
        end
      end

      # Sets every element at once (name: :int32, :float64, ... or :bool).
      def set_primitives(name, values)
        raise IndexOutOfRange, "#{values.size} values for a list of #{@count}" if values.size > @count

        if name == :bool
          values.each_with_index { |v, i| set_bool(i, v) if v }
          return
        end
        dir, size = PRIMITIVES.fetch(name)
        @mb.buf[@off, values.size * size] = values.pack("#{dir}*") unless values.empty?
      end

      def get_struct(i)
        check(i)
        raise WrongType, "get_struct needs a list of structs" unless @element_size == INLINE_COMPOSITE

        start = @off + ((i * @step) >> 3)
        db = @data_bits >> 3
        StructBuilder.new(@mb, start, db, start + db, @ptr_count)
      end
    end

    class PointerBuilder
      def initialize(mb, ref)
        @mb = mb
        @ref = ref
      end

      def null? = @mb.buf.unpack1("Q<", offset: @ref).zero?
      def init_struct(dw, pc) = Wire.init_struct(@mb, @ref, dw, pc)
      def init_list(es, count) = Wire.init_list(@mb, @ref, es, count)
      def init_struct_list(count, dw, pc) = Wire.init_struct_list(@mb, @ref, count, dw, pc)
      def set_text(s) = Wire.set_text(@mb, @ref, s)
      def set_data(b) = Wire.set_data(@mb, @ref, b)
      def set_capability(obj) = Wire.set_capability(@mb, @ref, obj)
      def copy_from(src) = Wire.copy_into(@mb, @ref, src)
    end
  end
end
