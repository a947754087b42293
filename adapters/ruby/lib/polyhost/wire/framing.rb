# frozen_string_literal: true

require_relative "layout"
require_relative "reader"

# The standard Cap'n Proto stream framing.
#
# A frame is a little-endian u32 holding the segment count minus one, one u32 per
# segment holding its size in words, zero padding to a word boundary, then the
# segments. Owns Wire.frame (segments -> bytes), Wire.read_message (one whole frame)
# and FrameDecoder, which decodes a byte stream incrementally and checks a frame's
# segment count and declared size against the limits as soon as its header arrives,
# before buffering the body.
module Polyhost
  module Wire
    def self.frame(segments)
      raise MalformedFrame, "a message needs at least one segment" if segments.empty?

      sizes = segments.each_with_index.map do |s, i|
        raise MalformedFrame, "segment #{i} is #{s.bytesize} bytes, not a whole number of words" if s.bytesize % 8 != 0

        s.bytesize >> 3
      end
      n = sizes.size
      header = [n - 1, *sizes].pack("L<*")
      header << "\0\0\0\0" if n.even?
      out = String.new(header, encoding: Encoding::BINARY, capacity: header.bytesize + (sizes.sum << 3))
      segments.each { |s| out << s }
      out
    end

    # Parses a frame header at data[pos..]: nil when more bytes are needed, else
    # [header_bytes, sizes].
    def self.parse_header(data, pos, avail, limits)
      return nil if avail < 4

      count = data.unpack1("L<", offset: pos) + 1
      if count > limits.max_segments
        raise TooManySegments, "frame declares #{count} segments, the limit is #{limits.max_segments}"
      end

      hdr = (4 + (4 * count) + 7) & ~7
      return nil if avail < hdr

      sizes = data.unpack("L<#{count}", offset: pos + 4)
      words = sizes.sum
      if words * 8 > limits.max_message_bytes
        raise MessageTooLarge, "frame declares #{words * 8} bytes of segments, the limit is #{limits.max_message_bytes}"
      end
      if limits.traversal_words && words > limits.traversal_words
        raise MessageTooLarge, "frame declares #{words} words, more than the traversal limit of #{limits.traversal_words}"
      end

      [hdr, sizes]
    end

    def self.split(data, start, sizes)
      pos = start
      sizes.map do |s|
        seg = data.byteslice(pos, s << 3)
        pos += s << 3
        seg
      end
    end

    # Exactly one framed message.
    def self.read_message(data, limits: nil, cap_table: nil)
      limits ||= DEFAULT_LIMITS
      data = data.b
      parsed = parse_header(data, 0, data.bytesize, limits)
      raise MalformedFrame, "truncated frame header (#{data.bytesize} bytes)" unless parsed

      hdr, sizes = parsed
      total = hdr + (sizes.sum << 3)
      raise MalformedFrame, "truncated frame: header declares #{total} bytes, got #{data.bytesize}" if data.bytesize < total
      raise MalformedFrame, "#{data.bytesize - total} unexpected bytes after the frame" if data.bytesize > total

      MessageReader.new(split(data, hdr, sizes), limits: limits, cap_table: cap_table)
    end

    # feed(chunk) returns the MessageReaders the chunk completes. After an error the
    # decoder raises again on every feed.
    class FrameDecoder
      attr_reader :limits

      def initialize(limits = nil)
        @limits = limits || DEFAULT_LIMITS
        @buf = String.new(encoding: Encoding::BINARY)
        @need = 0
        @hdr = 0
        @sizes = nil
        @failed = nil
      end

      def buffered = @buf.bytesize
      def at_boundary? = @buf.empty?

      def feed(data)
        raise MalformedFrame, "frame decoder already failed: #{@failed}" if @failed

        @buf << data.b
        return [] if @need.positive? && @buf.bytesize < @need

        out = []
        pos = 0
        begin
          loop do
            avail = @buf.bytesize - pos
            if @need.zero?
              parsed = Wire.parse_header(@buf, pos, avail, @limits)
              break unless parsed

              @hdr, @sizes = parsed
              @need = @hdr + (@sizes.sum << 3)
            end
            break if avail < @need

            out << MessageReader.new(Wire.split(@buf, pos + @hdr, @sizes), limits: @limits)
            pos += @need
            @need = 0
          end
        rescue MalformedFrame => e
          @failed = e.message
          raise
        end
        @buf = @buf.byteslice(pos, @buf.bytesize - pos) if pos.positive?
        out
      end
    end
  end
end
