# frozen_string_literal: true

require_relative "../wire"

# Layout of the rpc.capnp messages the connection reads and writes (level 1), as
# offsets for Wire readers and builders: the RPC layer handles messages directly,
# without decoding them into objects.
module Polyhost
  module RPC
    module Msg
      W = Wire
      # Message union discriminants
      UNIMPLEMENTED = 0
      ABORT = 1
      CALL = 2
      RETURN = 3
      FINISH = 4
      RESOLVE = 5
      RELEASE = 6
      BOOTSTRAP = 8
      DISEMBARGO = 13
      KIND_NAMES = { 0 => "unimplemented", 1 => "abort", 2 => "call", 3 => "return", 4 => "finish",
                     5 => "resolve", 6 => "release", 7 => "obsoleteSave", 8 => "bootstrap",
                     9 => "obsoleteDelete", 10 => "provide", 11 => "accept", 12 => "join",
                     13 => "disembargo" }.freeze

      # A new message of `kind`: [builder, body StructBuilder].
      def self.start(kind, data_words, ptr_count)
        mb = W::MessageBuilder.new
        root = mb.init_root(1, 1)
        root.set_uint16(0, kind)
        [mb, root.init_struct(0, data_words, ptr_count)]
      end

      def self.write_exception(b, reason, type, trace)
        b.set_text(0, trace.to_s.empty? ? reason : "#{reason}#{TRACEBACK_MARKER}#{trace}")
        b.set_uint16(2, type)
        b.set_text(1, trace.to_s)
      end

      # [reason, type, trace] of an Exception struct reader.
      def self.read_exception(r)
        reason, trace = RPC.split_reason(r.get_text(0), r.get_text(1))
        [reason, r.get_uint16(2), trace]
      end

      # The pointer path of a PromisedAnswer's transform.
      def self.read_transform(list)
        Array.new(list.len) do |i|
          op = list.get_struct(i)
          case op.get_uint16(0)
          when 0 then nil
          when 1 then op.get_uint16(1)
          else raise ProtocolError, "unknown PromisedAnswer.Op #{op.get_uint16(0)}"
          end
        end.compact
      end

      def self.write_promised_answer(b, question_id, path)
        b.set_uint32(0, question_id)
        ops = b.init_struct_list(0, path.size, 1, 0)
        path.each_with_index do |p, i|
          op = ops.get_struct(i)
          op.set_uint16(0, 1)
          op.set_uint16(1, p)
        end
      end
    end
  end
end
