# frozen_string_literal: true

require_relative "layout"

# Reading Cap'n Proto messages: MessageReader, StructReader, ListReader, PointerReader.
#
# Owns pointer decoding (struct, list, far and double-far landing pads, capability
# pointers), bounds checks, the traversal, nesting and zero-sized-element limits,
# default (XOR) decoding of primitive fields, the schema-evolution rules (fields beyond
# a struct's sections read as their defaults; list element sizes upgraded as the
# reference implementation does) and Text / Data. Readers are cheap views over the
# segments (binary Strings); nothing is copied except to build the values asked for.
module Polyhost
  module Wire
    # A capability pointer: its index in the message's cap table.
    Capability = Struct.new(:index)

    # Float default bits, cached per default value.
    module FloatBits
      F32 = Hash.new { |h, k| h[k] = Wire.float32_bits(k) }
      F64 = Hash.new { |h, k| h[k] = Wire.float64_bits(k) }
    end

    class MessageReader
      attr_reader :segments, :limits
      attr_accessor :cap_table, :walk

      # segments: binary Strings, each a whole number of words.
      def initialize(segments, limits: nil, cap_table: nil)
        @limits = limits || DEFAULT_LIMITS
        @segments = segments.each_with_index.map do |s, i|
          raise WrongType, "segment must be a String, got #{s.class}" unless s.is_a?(String)

          s = s.b unless s.encoding == Encoding::BINARY
          if s.bytesize % 8 != 0
            raise MalformedMessage, "segment #{i} is #{s.bytesize} bytes long, not a whole number of 8-byte words"
          end

          s
        end
        if @segments.size > @limits.max_segments
          raise TooManySegments, "message has #{@segments.size} segments, the limit is #{@limits.max_segments}"
        end

        @cap_table = cap_table
        @budget = @limits.traversal_budget
        @zero_budget = @limits.zero_sized_budget
        @walk = 0
      end

      def traversal_words_left = @budget
      def total_words = @segments.sum { |s| s.bytesize >> 3 }

      def root_pointer
        raise PointerOutOfBounds, "message has no segments, so no root pointer" if @segments.empty?
        raise PointerOutOfBounds, "segment 0 is empty, so there is no root pointer" if @segments[0].bytesize < 8

        charge(1)
        PointerReader.new(self, 0, 0, @limits.nesting)
      end

      def root = root_pointer.as_struct

      def charge(words)
        b = @budget - words
        if b.negative?
          raise TraversalLimitExceeded,
                "traversal limit exceeded: reading #{words} more word(s) with #{@budget} of #{@limits.traversal_words} left"
        end

        @budget = b
      end

      def charge_zero_sized(count)
        b = @zero_budget - count
        if b.negative?
          raise TraversalLimitExceeded,
                "zero-sized struct element limit exceeded: a list of #{count} zero-sized elements with " \
                "#{@zero_budget} of #{@limits.zero_sized_structs} left for this message (Limits zero_sized_structs)"
        end

        @zero_budget = b
      end

      def segment(segi)
        seg = @segments[segi]
        unless seg
          raise InvalidSegmentId, "far pointer names segment #{segi} but the message has #{@segments.size} segment(s)"
        end

        seg
      end

      def self.kind_name(lo)
        case lo & 3
        when 0 then "struct"
        when 1 then "list"
        when 2 then "far"
        else lo == 3 ? "capability" : "unknown other-kind"
        end
      end

      # Follows the pointer word at seg[off]. Returns nil for a null pointer, else
      # [segi, seg, target_byte_offset, lo, hi] where lo/hi describe the object (the
      # landing pad or tag for far pointers); the target is not yet bounds-checked.
      def resolve(segi, seg, off)
        lo, hi = seg.unpack("l<L<", offset: off)
        return nil if lo.zero? && hi.zero?
        return [segi, seg, off + 8 + ((lo >> 2) << 3), lo, hi] unless (lo & 3) == 2

        double = (lo & 4) != 0
        pos = ((lo & 0xFFFFFFFF) >> 3) << 3
        fsegi = hi
        fseg = segment(fsegi)
        pad = double ? 16 : 8
        if pos + pad > fseg.bytesize
          raise PointerOutOfBounds,
                "far pointer landing pad at word #{pos >> 3} of segment #{fsegi} is outside the segment (#{fseg.bytesize >> 3} words)"
        end

        charge(pad >> 3)
        plo, phi = fseg.unpack("l<L<", offset: pos)
        unless double
          if (plo & 3) == 2
            raise MalformedPointer, "far pointer landing pad (segment #{fsegi}, word #{pos >> 3}) is itself a far pointer"
          end

          return [fsegi, fseg, pos + 8 + ((plo >> 2) << 3), plo, phi]
        end
        if (plo & 7) != 2
          raise MalformedPointer, "double-far landing pad (segment #{fsegi}, word #{pos >> 3}) must start with a single far pointer"
        end

        tlo, thi = fseg.unpack("l<L<", offset: pos + 8)
        if (tlo & 3) == 2
          raise MalformedPointer, "double-far landing pad tag (segment #{fsegi}, word #{(pos >> 3) + 1}) is a far pointer"
        end

        tsegi = phi
        [tsegi, segment(tsegi), ((plo & 0xFFFFFFFF) >> 3) << 3, tlo, thi]
      end

      # The struct at a resolved pointer.
      def struct_at(segi, seg, off, nest)
        r = resolve(segi, seg, off)
        return nil unless r

        if nest <= 0
          raise NestingLimitExceeded,
                "nesting limit exceeded reading a struct (message too deeply nested or cyclic; limit #{@limits.nesting})"
        end

        segi, seg, t, lo, hi = r
        raise WrongPointerKind, "expected a struct pointer, found a #{self.class.kind_name(lo)} pointer" unless (lo & 3).zero?

        dw = hi & 0xFFFF
        pc = hi >> 16
        words = dw + pc
        if t.negative? || t + (words << 3) > seg.bytesize
          raise PointerOutOfBounds,
                "struct pointer target (word #{t >> 3}, #{words} words) is outside segment #{segi} (#{seg.bytesize >> 3} words)"
        end

        charge(words)
        StructReader.new(self, seg, segi, t, dw << 3, t + (dw << 3), pc, nest - 1)
      end

      # The list at a pointer; expected: the element size the caller wants (nil: any).
      def list_at(segi, seg, off, nest, expected)
        r = resolve(segi, seg, off)
        return nil unless r

        if nest <= 0
          raise NestingLimitExceeded,
                "nesting limit exceeded reading a list (message too deeply nested or cyclic; limit #{@limits.nesting})"
        end

        segi, seg, t, lo, hi = r
        raise WrongPointerKind, "expected a list pointer, found a #{self.class.kind_name(lo)} pointer" unless (lo & 3) == 1

        es = hi & 7
        if es == INLINE_COMPOSITE
          wc = hi >> 3
          if t.negative? || t + ((wc + 1) << 3) > seg.bytesize
            raise PointerOutOfBounds,
                  "composite list (word #{t >> 3}, #{wc} words + tag) is outside segment #{segi} (#{seg.bytesize >> 3} words)"
          end

          charge(wc + 1)
          tlo, thi = seg.unpack("l<L<", offset: t)
          unless (tlo & 3).zero?
            raise MalformedPointer, "composite list tag is a #{self.class.kind_name(tlo)} pointer, only struct tags are supported"
          end

          count = (tlo & 0xFFFFFFFF) >> 2
          dw = thi & 0xFFFF
          pc = thi >> 16
          per = dw + pc
          if count * per > wc
            raise MalformedPointer, "composite list elements overrun its word count: #{count} elements of #{per} words in #{wc} words"
          end

          if per.zero?
            charge(count)
            charge_zero_sized(count)
          end
          if expected && expected != VOID && expected != INLINE_COMPOSITE
            raise IncompatibleListElement, "found a struct list where a bit list was expected" if expected == BIT
            if expected == POINTER
              raise IncompatibleListElement, "expected a pointer list but got a list of data-only structs" if pc.zero?
            elsif dw.zero?
              raise IncompatibleListElement,
                    "expected a #{Wire.element_size_name(expected)} list but got a list of pointer-only structs"
            end
          end
          return ListReader.new(self, seg, segi, t + 8, count, per << 6, dw << 6, pc, es, nest - 1)
        end
        count = hi >> 3
        step = STEP_BITS[es]
        words = ((count * step) + 63) >> 6
        if t.negative? || t + (words << 3) > seg.bytesize
          raise PointerOutOfBounds,
                "list of #{count} #{Wire.element_size_name(es)} elements (word #{t >> 3}, #{words} words) is outside segment #{segi} (#{seg.bytesize >> 3} words)"
        end

        charge(words)
        if es == VOID
          charge(count)
          charge_zero_sized((count + 15) >> 4)
        end
        if expected && expected != es
          if es == BIT
            raise IncompatibleListElement, "found a bit list where a #{Wire.element_size_name(expected)} list was expected"
          end
          raise WrongType, "invalid element size #{expected.inspect}" unless expected.between?(0, 7)

          if expected == BIT || DATA_BITS[expected] > DATA_BITS[es] || POINTERS[expected] > POINTERS[es]
            raise IncompatibleListElement,
                  "found a #{Wire.element_size_name(es)} list where a #{Wire.element_size_name(expected)} list was expected"
          end
        end
        ListReader.new(self, seg, segi, t, count, step, DATA_BITS[es], POINTERS[es], es, nest - 1)
      end

      # [seg, start, byte_count] of a Text/Data pointer, or nil when null.
      def bytes_at(segi, seg, off, what)
        r = resolve(segi, seg, off)
        return nil unless r

        segi, seg, t, lo, hi = r
        raise WrongPointerKind, "expected a list pointer for #{what}, found a #{self.class.kind_name(lo)} pointer" unless (lo & 3) == 1
        unless (hi & 7) == BYTE
          raise WrongPointerKind, "expected a byte list for #{what}, found a #{Wire.element_size_name(hi & 7)} list"
        end

        n = hi >> 3
        words = (n + 7) >> 3
        if t.negative? || t + (words << 3) > seg.bytesize
          raise PointerOutOfBounds, "#{what} of #{n} bytes (word #{t >> 3}) is outside segment #{segi} (#{seg.bytesize >> 3} words)"
        end

        charge(words)
        [seg, t, n]
      end

      def text_at(segi, seg, off)
        r = bytes_at(segi, seg, off, "Text")
        return nil unless r

        seg, t, n = r
        return "" if n.zero?
        raise MalformedText, "Text is not NUL-terminated" unless seg.getbyte(t + n - 1).zero?

        s = seg.byteslice(t, n - 1).force_encoding(Encoding::UTF_8)
        raise MalformedText, "Text is not valid UTF-8" unless s.valid_encoding?

        s
      end

      def data_at(segi, seg, off)
        r = bytes_at(segi, seg, off, "Data")
        return nil unless r

        seg, t, n = r
        seg.byteslice(t, n)
      end

      def capability_at(seg, off)
        lo, hi = seg.unpack("L<L<", offset: off)
        return nil if lo.zero? && hi.zero?
        raise WrongPointerKind, "expected a capability pointer, found a #{self.class.kind_name(lo)} pointer" unless lo == 3

        Capability.new(hi)
      end

      # The capability object of the cap table at a capability pointer, or nil.
      def cap_object(seg, off)
        c = capability_at(seg, off)
        return nil unless c

        table = @cap_table || []
        raise InvalidCapability, "capability index #{c.index} is outside the cap table (#{table.size} entries)" if c.index >= table.size

        table[c.index]
      end
    end

    # A struct: data section and pointer section. Fields beyond them read as defaults.
    class StructReader
      attr_reader :message, :segi, :data_off, :data_bytes, :ptr_off, :ptr_count, :nest, :seg

      def initialize(msg, seg, segi, data_off, data_bytes, ptr_off, ptr_count, nest)
        @message = msg
        @seg = seg
        @segi = segi
        @data_off = data_off
        @data_bytes = data_bytes
        @ptr_off = ptr_off
        @ptr_count = ptr_count
        @nest = nest
      end

      # A reader of defaults (null struct): every field reads as its default.
      def self.empty(msg = nil, nest = 64)
        new(msg, "".b, 0, 0, 0, 0, 0, nest)
      end

      def data_words = @data_bytes >> 3

      def get_bool(bit, default = false)
        byte = bit >> 3
        v = byte < @data_bytes ? ((@seg.getbyte(@data_off + byte) >> (bit & 7)) & 1) == 1 : false
        default ? !v : v
      end

      PRIMITIVES.each do |name, (dir, size)|
        if name.to_s.start_with?("float")
          bits_dir = size == 4 ? "L<" : "Q<"
          cache = size == 4 ? FloatBits::F32 : FloatBits::F64
          define_method("get_#{name}") do |offset, default = 0.0|
            b = offset * size
            raw = b + size <= @data_bytes ? @seg.unpack1(bits_dir, offset: @data_off + b) : 0
            raw ^= cache[default] unless default.zero? && (1.0 / default).positive?
            [raw].pack(bits_dir).unpack1(dir)
          end
        else
          define_method("get_#{name}") do |offset, default = 0|
            b = offset * size
            v = b + size <= @data_bytes ? @seg.unpack1(dir, offset: @data_off + b) : 0
            default.zero? ? v : v ^ default
          end
        end
      end

      def has_pointer?(i) = i < @ptr_count && @seg.unpack1("Q<", offset: @ptr_off + (i << 3)) != 0
      alias has_pointer has_pointer?

      def get_pointer(i)
        return PointerReader.null(@message, @nest) if i >= @ptr_count

        PointerReader.new(@message, @segi, @ptr_off + (i << 3), @nest, @seg)
      end

      def get_text(i, default = "")
        return default if i >= @ptr_count

        @message.text_at(@segi, @seg, @ptr_off + (i << 3)) || default
      end

      def get_data(i, default = "".b)
        return default if i >= @ptr_count

        @message.data_at(@segi, @seg, @ptr_off + (i << 3)) || default
      end

      # The struct at pointer i (a reader of defaults when null).
      def get_struct(i)
        s = i < @ptr_count ? @message.struct_at(@segi, @seg, @ptr_off + (i << 3), @nest) : nil
        s || StructReader.empty(@message, @nest - 1)
      end

      # The list at pointer i (an empty list when null).
      def get_list(i, element_size)
        l = i < @ptr_count ? @message.list_at(@segi, @seg, @ptr_off + (i << 3), @nest, element_size) : nil
        l || ListReader.empty(@message, element_size)
      end

      def get_capability(i)
        return nil if i >= @ptr_count

        @message.cap_object(@seg, @ptr_off + (i << 3))
      end

      def inspect = "#<StructReader #{data_words} data words, #{@ptr_count} pointers>"
    end

    # A list of any element size.
    class ListReader
      include Enumerable
      attr_reader :message, :segi, :seg, :off, :count, :step, :data_bits, :ptr_count, :element_size, :nest

      def initialize(msg, seg, segi, off, count, step, data_bits, ptr_count, es, nest)
        @message = msg
        @seg = seg
        @segi = segi
        @off = off
        @count = count
        @step = step
        @data_bits = data_bits
        @ptr_count = ptr_count
        @element_size = es
        @nest = nest
      end

      def self.empty(msg, es)
        es ||= VOID
        new(msg, "".b, 0, 0, 0, STEP_BITS[es], DATA_BITS[es], POINTERS[es], es, 0)
      end

      def len = @count
      alias size len
      alias length len

      def check(i)
        raise IndexOutOfRange, "index #{i} out of range for a list of #{@count}" unless i.is_a?(Integer) && i >= 0 && i < @count
      end

      def get_bool(i)
        check(i)
        return false if @data_bits.zero?

        bit = i * @step
        ((@seg.getbyte(@off + (bit >> 3)) >> (bit & 7)) & 1) == 1
      end

      PRIMITIVES.each do |name, (dir, size)|
        define_method("get_#{name}") do |i|
          check(i)
          return (name.to_s.start_with?("float") ? 0.0 : 0) if @data_bits < size * 8

          @seg.unpack1(dir, offset: @off + ((i * @step) >> 3))
        end
      end

      # Every element as a primitive, in one call (name: :int32, :float64, ... or :bool).
      def primitives(name)
        return [] if @count.zero?
        return Array.new(@count) { |i| get_bool(i) } if name == :bool

        dir, size = PRIMITIVES.fetch(name)
        if @step == size * 8
          @seg.byteslice(@off, @count * size).unpack("#{dir}*")
        else
          Array.new(@count) { |i| send("get_#{name}", i) }
        end
      end

      def get_struct(i)
        check(i)
        if @element_size == INLINE_COMPOSITE
          start = @off + ((i * @step) >> 3)
          db = @data_bits >> 3
          return StructReader.new(@message, @seg, @segi, start, db, start + db, @ptr_count, @nest)
        end
        # a list of primitives or pointers read as structs (schema evolution)
        start = @off + ((i * @step) >> 3)
        db = @data_bits >> 3
        StructReader.new(@message, @seg, @segi, start, db, start + db, @ptr_count, @nest)
      end

      def pointer_off(i)
        check(i)
        raise IncompatibleListElement, "list of #{Wire.element_size_name(@element_size)} elements has no pointers" if @ptr_count.zero?

        @off + ((i * @step) >> 3) + (@data_bits >> 3)
      end

      def get_pointer(i) = PointerReader.new(@message, @segi, pointer_off(i), @nest, @seg)
      def get_text(i, default = "") = @message.text_at(@segi, @seg, pointer_off(i)) || default
      def get_data(i, default = "".b) = @message.data_at(@segi, @seg, pointer_off(i)) || default

      def get_list(i, element_size)
        @message.list_at(@segi, @seg, pointer_off(i), @nest, element_size) || ListReader.empty(@message, element_size)
      end

      def get_capability(i) = @message.cap_object(@seg, pointer_off(i))

      def inspect = "#<ListReader #{@count} x #{Wire.element_size_name(@element_size)}>"
    end

    # One pointer slot, to be read as whatever the caller knows it is.
    class PointerReader
      attr_reader :message, :segi, :off, :nest

      def initialize(msg, segi, off, nest, seg = nil)
        @message = msg
        @segi = segi
        @off = off
        @nest = nest
        @seg = seg || (msg ? msg.segments[segi] : nil)
      end

      def self.null(msg, nest = 64)
        p = allocate
        p.instance_variable_set(:@message, msg)
        p.instance_variable_set(:@nest, nest)
        p.instance_variable_set(:@seg, nil)
        p
      end

      def null? = @seg.nil? || @seg.unpack1("Q<", offset: @off).zero?
      alias is_null null?

      def as_struct
        (@seg && @message.struct_at(@segi, @seg, @off, @nest)) || StructReader.empty(@message, @nest - 1)
      end

      def as_list(element_size = nil)
        (@seg && @message.list_at(@segi, @seg, @off, @nest, element_size)) || ListReader.empty(@message, element_size)
      end

      def as_text(default = "") = (@seg && @message.text_at(@segi, @seg, @off)) || default
      def as_data(default = "".b) = (@seg && @message.data_at(@segi, @seg, @off)) || default
      def as_capability = @seg && @message.cap_object(@seg, @off)

      # What the pointer designates: nil, a StructReader, a ListReader or a Capability.
      def target
        return nil if null?

        r = @message.resolve(@segi, @seg, @off)
        lo = r[3]
        case lo & 3
        when 0 then as_struct
        when 1 then as_list(nil)
        else
          raise MalformedPointer, "unknown pointer kind (other-kind pointer #{lo})" unless lo == 3

          @message.capability_at(@seg, @off)
        end
      end

      def inspect = "#<PointerReader#{null? ? ' null' : ''}>"
    end
  end
end
