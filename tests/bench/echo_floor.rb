# frozen_string_literal: true

# The benchmark's Ruby floor (tests/src/bin/bench/): a raw length-prefixed echo on the
# socket the host passed as fd POLYHOST_FD (default 3), with the standard library only.
#
# A frame is a 4-byte little-endian length and that many payload bytes; every frame is
# answered with itself. Exits at EOF.

require "socket"

sock = Socket.for_fd(Integer(ENV.fetch("POLYHOST_FD", "3")))
sock.sync = true
begin
  loop do
    head = sock.read(4)
    break if head.nil? || head.bytesize < 4

    body = sock.read(head.unpack1("V"))
    break if body.nil?

    sock.write(head + body)
  end
rescue IOError, SystemCallError
  nil
end
