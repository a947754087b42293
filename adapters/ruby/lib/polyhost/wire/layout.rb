# frozen_string_literal: true

# The Cap'n Proto wire layout's constants, the wire errors and the reader limits.
#
# Owns the element-size codes (VOID .. INLINE_COMPOSITE), the per-size bit widths,
# the error classes every decoding failure raises (one per kind, all WireError) and
# Limits, whose defaults match the reference implementation (8 Mi words of traversal,
# nesting 64, 512 segments, 64 MiB frames) plus polyhost's own cap on lists of
# zero-sized structs (64 Ki elements per message; a List(Void) element counts 1/16).
module Polyhost
  module Wire
    VOID = 0
    BIT = 1
    BYTE = 2
    TWO_BYTES = 3
    FOUR_BYTES = 4
    EIGHT_BYTES = 5
    POINTER = 6
    INLINE_COMPOSITE = 7

    ELEMENT_SIZE_NAMES = %w[VOID BIT BYTE TWO_BYTES FOUR_BYTES EIGHT_BYTES POINTER
                            INLINE_COMPOSITE].freeze
    DATA_BITS = [0, 1, 8, 16, 32, 64, 0, 0].freeze
    POINTERS = [0, 0, 0, 0, 0, 0, 1, 0].freeze
    STEP_BITS = [0, 1, 8, 16, 32, 64, 64, 0].freeze
    MAX_LIST_COUNT = (1 << 29) - 1
    MAX_SEGMENT_WORDS = (1 << 29) - 1

    # pack/unpack directives per primitive name: [directive, byte size]
    PRIMITIVES = {
      int8: ["c", 1], int16: ["s<", 2], int32: ["l<", 4], int64: ["q<", 8],
      uint8: ["C", 1], uint16: ["S<", 2], uint32: ["L<", 4], uint64: ["Q<", 8],
      float32: ["e", 4], float64: ["E", 8]
    }.freeze

    def self.element_size_name(es)
      es.is_a?(Integer) && es.between?(0, 7) ? ELEMENT_SIZE_NAMES[es] : es.inspect
    end

    # The bits of a float as an unsigned integer.
    def self.float32_bits(v) = [v].pack("e").unpack1("L<")
    def self.float64_bits(v) = [v].pack("E").unpack1("Q<")

    # Every decoding or encoding failure: the message says what was wrong.
    class WireError < StandardError; end
    class MalformedFrame < WireError; end
    class TooManySegments < MalformedFrame; end
    class MessageTooLarge < MalformedFrame; end
    class MalformedMessage < WireError; end
    class PointerOutOfBounds < MalformedMessage; end
    class MalformedPointer < MalformedMessage; end
    class InvalidSegmentId < MalformedPointer; end
    class WrongPointerKind < MalformedMessage; end
    class IncompatibleListElement < MalformedMessage; end
    class MalformedText < MalformedMessage; end
    class InvalidCapability < MalformedMessage; end
    class NestingLimitExceeded < WireError; end
    class TraversalLimitExceeded < WireError; end
    class IndexOutOfRange < WireError; end
    class WrongType < WireError; end

    # Limits of one reader / frame decoder. nil traversal_words or zero_sized_structs
    # disables that limit.
    class Limits
      attr_reader :traversal_words, :nesting, :max_segments, :max_message_bytes,
                  :zero_sized_structs

      UNLIMITED = 1 << 62

      def initialize(traversal_words: 8 * 1024 * 1024, nesting: 64, max_segments: 512,
                     max_message_bytes: 64 * 1024 * 1024, zero_sized_structs: 64 * 1024)
        { traversal_words: traversal_words, zero_sized_structs: zero_sized_structs }.each do |k, v|
          next if v.nil? || (v.is_a?(Integer) && v >= 0)

          raise ArgumentError, "#{k} must be a non-negative Integer or nil, got #{v.inspect}"
        end
        { nesting: nesting, max_segments: max_segments, max_message_bytes: max_message_bytes }.each do |k, v|
          raise ArgumentError, "#{k} must be a non-negative Integer, got #{v.inspect}" unless v.is_a?(Integer) && v >= 0
        end
        @traversal_words = traversal_words
        @nesting = nesting
        @max_segments = max_segments
        @max_message_bytes = max_message_bytes
        @zero_sized_structs = zero_sized_structs
        freeze
      end

      def traversal_budget = @traversal_words || UNLIMITED
      def zero_sized_budget = @zero_sized_structs || UNLIMITED

      def ==(other)
        other.is_a?(Limits) && to_a == other.to_a
      end

      def to_a = [@traversal_words, @nesting, @max_segments, @max_message_bytes, @zero_sized_structs]
    end

    DEFAULT_LIMITS = Limits.new
  end
end
