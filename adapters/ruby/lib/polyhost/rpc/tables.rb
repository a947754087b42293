# frozen_string_literal: true

require_relative "errors"
require_relative "capability"
require_relative "messages"

# The capability tables of a Connection: reading a message's CapDescriptors into
# objects (imports, our own exports, answers' results), exporting servers with
# reference counts, sending a Release when an import's Ruby object is collected, and
# writing the CapDescriptors of an outgoing message. Mixed into Connection; the
# methods run under the connection's table lock where they touch the tables.
module Polyhost
  module RPC
    module CapTables
      # A finalizer that queues a Release (it must not reference the object).
      def self.releaser(queue, id) = proc { queue << id }

      def read_cap_table(list) = read_descriptors(Array.new(list.len) { |i| list.get_struct(i) })

      def read_descriptors(descs)
        descs.map do |d|
          case d.get_uint16(0)
          when 0 then nil
          when 1, 2 then import(d.get_uint32(1))
          when 3
            id = d.get_uint32(1)
            server = @lock.synchronize { @exports[id]&.first }
            raise ProtocolError, "a capability descriptor names export #{id}, which does not exist" unless server

            server
          when 4
            pa = d.get_struct(0)
            q = pa.get_uint32(0)
            path = Msg.read_transform(pa.get_list(0, Wire::INLINE_COMPOSITE))
            base = @lock.synchronize { @answers[q] }
            raise ProtocolError, "a capability descriptor names answer #{q}, which is not ready" unless base&.done && base.result_ptr

            path.reduce(base.result_ptr) { |p, i| p.as_struct.get_pointer(i) }.as_capability
          else raise ProtocolError, "unsupported capability descriptor #{d.get_uint16(0)}"
          end
        end
      end


      def import(id)
        @lock.synchronize { @imports[id] += 1 }
        cap = Capability.new(self, id)
        ObjectSpace.define_finalizer(cap, CapTables.releaser(@releases, id))
        cap
      end

      def release_loop
        while (id = @releases.pop) != :stop
          @lock.synchronize do
            @imports[id] -= 1
            @imports.delete(id) unless @imports[id].positive?
          end
          mb, r = Msg.start(Msg::RELEASE, 1, 0)
          r.set_uint32(0, id)
          r.set_uint32(1, 1)
          begin
            write(mb)
          rescue DisconnectedError
            break
          end
        end
      end

      def export(server)
        id = @export_of[server]
        if id
          @exports[id][1] += 1
          return id
        end
        id = @next_export
        @next_export += 1 while @exports.key?(@next_export)
        id = @next_export
        @next_export += 1
        @exports[id] = [server, 1]
        @export_of[server] = id
        id
      end

      # Writes the CapDescriptors of `objects` into payload pointer 1 (under @lock).
      def write_cap_table(payload, objects, exports)
        return if objects.empty?

        lb = payload.init_struct_list(1, objects.size, 1, 1)
        objects.each_with_index do |obj, i|
          d = lb.get_struct(i)
          obj = obj.resolved if obj.is_a?(PipelinedCapability) || (obj.is_a?(Capability) && obj.pipelined)
          obj = obj.local if obj.is_a?(Capability) && obj.local
          case obj
          when nil then nil
          when Server
            id = export(obj)
            exports&.push(id)
            d.set_uint16(0, 1)
            d.set_uint32(1, id)
          when Capability
            raise ArgumentError, "a capability of another connection cannot be sent here" unless obj.connection.equal?(self)

            d.set_uint16(0, 3)
            d.set_uint32(1, obj.import_id)
          else
            raise TypeError, "#{obj.class} is not a capability (a Polyhost::RPC::Server or a client)"
          end
        end
      end
    end
  end
end
