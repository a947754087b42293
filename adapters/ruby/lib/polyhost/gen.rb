# frozen_string_literal: true

require_relative "wire"

# Support code of generated modules: the struct base class (==, hash, to_h, inspect),
# list readers and writers (procs over Wire list readers/builders), codecs of a type
# in one pointer slot (generic arguments, Sink items, AnyPointer), schema pointer
# defaults, and capability helpers. Generated code calls these instead of repeating
# them per field.
module Polyhost
  module Gen
    W = Wire

    # Base class of generated structs, groups and method param/result structs.
    class Struct
      def self.fields = self::FIELDS

      def ==(other)
        other.class == self.class && to_a == other.to_a
      end
      alias eql? ==

      def hash = [self.class, *to_a].hash

      def to_a
        a = self.class::FIELDS.map { |f| instance_variable_get(:"@#{f}") }
        a.unshift(@which) if self.class.const_defined?(:UNION)
        a
      end

      # The fields as a Hash (nested structs and lists of them as Hashes too); a union
      # gives only its active member, and :which.
      def to_h
        h = {}
        h[:which] = @which if self.class.const_defined?(:UNION)
        self.class::FIELDS.each do |f|
          next if self.class.const_defined?(:UNION) && self.class::UNION.key?(f) && f != @which

          h[f] = Gen.plain(instance_variable_get(:"@#{f}"))
        end
        h
      end

      def inspect
        "#<#{self.class.name} #{to_h.map { |k, v| "#{k}=#{v.inspect}" }.join(', ')}>"
      end
      alias to_s inspect

      # A union's member name from the constructor's arguments.
      def self.pick_which(which, given, default_member)
        if which
          raise ArgumentError, "#{name} has no union member #{which.inspect}" unless self::UNION.key?(which)

          return which
        end
        given.each { |k, v| return k unless v.nil? }
        default_member
      end
    end

    def self.plain(v)
      case v
      when Struct then v.to_h
      when Array then v.map { |x| plain(x) }
      else v
      end
    end

    # ---- list readers: procs from a Wire::ListReader to an Array ----
    def self.prim_reader(name) = ->(lr) { lr.primitives(name) }
    READ_BOOLS = prim_reader(:bool)
    READ_I8 = prim_reader(:int8)
    READ_I16 = prim_reader(:int16)
    READ_I32 = prim_reader(:int32)
    READ_I64 = prim_reader(:int64)
    READ_U8 = prim_reader(:uint8)
    READ_U16 = prim_reader(:uint16)
    READ_U32 = prim_reader(:uint32)
    READ_U64 = prim_reader(:uint64)
    READ_F32 = prim_reader(:float32)
    READ_F64 = prim_reader(:float64)
    READ_VOIDS = ->(lr) { Array.new(lr.len) }
    READ_TEXTS = ->(lr) { Array.new(lr.len) { |i| lr.get_text(i) } }
    READ_DATAS = ->(lr) { Array.new(lr.len) { |i| lr.get_data(i) } }
    READ_POINTERS = ->(lr) { Array.new(lr.len) { |i| lr.get_pointer(i) } }

    def self.lists_reader(es, rl) = ->(lr) { Array.new(lr.len) { |i| rl.(lr.get_list(i, es)) } }
    def self.bind_read(cls, *a) = ->(lr) { cls._read_list(lr, *a) }
    def self.caps_reader(cls) = ->(lr) { Array.new(lr.len) { |i| typed_cap(lr.get_capability(i), cls) } }

    # ---- list writers: procs (builder with pointer slots, index, values) ----
    def self.prim_writer(name, es) = ->(b, i, v) { b.init_list(i, es, v.size).set_primitives(name, v) }
    WRITE_BOOLS = prim_writer(:bool, W::BIT)
    WRITE_I8 = prim_writer(:int8, W::BYTE)
    WRITE_I16 = prim_writer(:int16, W::TWO_BYTES)
    WRITE_I32 = prim_writer(:int32, W::FOUR_BYTES)
    WRITE_I64 = prim_writer(:int64, W::EIGHT_BYTES)
    WRITE_U8 = prim_writer(:uint8, W::BYTE)
    WRITE_U16 = prim_writer(:uint16, W::TWO_BYTES)
    WRITE_U32 = prim_writer(:uint32, W::FOUR_BYTES)
    WRITE_U64 = prim_writer(:uint64, W::EIGHT_BYTES)
    WRITE_F32 = prim_writer(:float32, W::FOUR_BYTES)
    WRITE_F64 = prim_writer(:float64, W::EIGHT_BYTES)
    WRITE_VOIDS = ->(b, i, v) { b.init_list(i, W::VOID, v.size) }
    WRITE_TEXTS = lambda do |b, i, v|
      lb = b.init_list(i, W::POINTER, v.size)
      v.each_with_index { |s, j| lb.set_text(j, s) }
    end
    WRITE_DATAS = lambda do |b, i, v|
      lb = b.init_list(i, W::POINTER, v.size)
      v.each_with_index { |s, j| lb.set_data(j, s) }
    end
    WRITE_POINTERS = lambda do |b, i, v|
      lb = b.init_list(i, W::POINTER, v.size)
      v.each_with_index { |p, j| write_any(lb, j, p) }
    end
    WRITE_CAPS = lambda do |b, i, v|
      lb = b.init_list(i, W::POINTER, v.size)
      v.each_with_index { |c, j| lb.set_capability(j, c) }
    end

    def self.lists_writer(_es, wl)
      lambda do |b, i, v|
        lb = b.init_list(i, W::POINTER, v.size)
        v.each_with_index { |x, j| wl.(lb, j, x) unless x.nil? }
      end
    end

    def self.bind_write(cls, *a) = ->(b, i, v) { cls._write_list(b, i, v, *a) }

    # ---- codecs: a type in one pointer slot ----
    class Codec
      def read(_ptr) = raise(NotImplementedError)
      def write(_b, _i, _v) = raise(NotImplementedError)
    end

    class StructCodec < Codec
      attr_reader :cls, :args

      def initialize(cls, *args)
        super()
        @cls = cls
        @args = args
      end

      def es = W::INLINE_COMPOSITE
      def read(ptr) = ptr.null? ? nil : @cls._read(ptr.as_struct, *@args)
      def write(b, i, v) = v.nil? ? nil : v._write(b.init_struct(i, @cls::DATA_WORDS, @cls::PTR_COUNT), *@args)
      def read_list(lr) = @cls._read_list(lr, *@args)
      def write_list(b, i, v) = @cls._write_list(b, i, v, *@args)
    end

    class ListCodec < Codec
      def initialize(es, rl, wl)
        super()
        @es = es
        @rl = rl
        @wl = wl
      end

      def read(ptr) = ptr.null? ? [] : @rl.(ptr.as_list(@es))
      def write(b, i, v) = v.nil? ? nil : @wl.(b, i, v)
      def es = W::POINTER
      def read_list(lr) = Array.new(lr.len) { |i| read(lr.get_pointer(i)) }
      def write_list(b, i, v) = Gen.lists_writer(@es, @wl).(b, i, v)
    end

    class TextCodec < Codec
      def read(ptr) = ptr.as_text
      def write(b, i, v) = b.set_text(i, v)
      def es = W::POINTER
      def read_list(lr) = READ_TEXTS.(lr)
      def write_list(b, i, v) = WRITE_TEXTS.(b, i, v)
    end

    class DataCodec < Codec
      def read(ptr) = ptr.as_data
      def write(b, i, v) = b.set_data(i, v)
      def es = W::POINTER
      def read_list(lr) = READ_DATAS.(lr)
      def write_list(b, i, v) = WRITE_DATAS.(b, i, v)
    end

    class AnyCodec < Codec
      def read(ptr) = ptr
      def write(b, i, v) = Gen.write_any(b, i, v)
      def es = W::POINTER
      def read_list(lr) = READ_POINTERS.(lr)
      def write_list(b, i, v) = WRITE_POINTERS.(b, i, v)
    end

    class CapCodec < Codec
      def initialize(cls)
        super()
        @cls = cls
      end

      def read(ptr) = Gen.typed_cap(ptr.as_capability, @cls)
      def write(b, i, v) = b.set_capability(i, v)
      def es = W::POINTER
      def read_list(lr) = Gen.caps_reader(@cls).(lr)
      def write_list(b, i, v) = WRITE_CAPS.(b, i, v)
    end

    TEXT = TextCodec.new
    DATA = DataCodec.new
    ANY = AnyCodec.new

    # The codec of a generic parameter (ANY when the type argument was not given).
    def self.arg(args, index) = args[index] || ANY

    # Writes an AnyPointer value: nil, a Wire::PointerReader (copied), a generated
    # struct, or an object with _write_pointer(builder, index).
    def self.write_any(b, i, v)
      case v
      when nil then nil
      when W::PointerReader, W::StructReader, W::ListReader then b.copy_pointer(i, v)
      when Struct then v._write(b.init_struct(i, v.class::DATA_WORDS, v.class::PTR_COUNT))
      else
        raise W::WrongType, "cannot write a #{v.class} as an AnyPointer" unless v.respond_to?(:_write_pointer)

        v._write_pointer(b, i)
      end
    end

    POINTER_DEFAULTS = {}
    POINTER_LOCK = Mutex.new

    # A schema default of a pointer field: its canonical bytes in hex, read once.
    def self.pointer(hex)
      POINTER_LOCK.synchronize do
        POINTER_DEFAULTS[hex] ||= begin
          seg = [hex].pack("H*")
          seg += "\0" * (8 - (seg.bytesize % 8)) if seg.bytesize % 8 != 0
          W::MessageReader.new([seg.b]).root_pointer
        end
      end
    end

    # A capability from a cap table as the client class `cls` (nil stays nil).
    def self.typed_cap(cap, cls)
      return cap if cap.nil? || cls.nil? || cap.is_a?(cls)
      return cap.cast_as(cls) if cap.respond_to?(:cast_as)

      cap
    end

    def self.as_client(v, _cls) = v
    def self.as_clients(v, _cls) = v

    # The error of a method not overridden.
    def self.unimplemented(server, method)
      require_relative "rpc/errors"
      RPC::RpcError.new("#{server.class.name} does not implement #{method}", RPC::UNIMPLEMENTED)
    end
  end
end
