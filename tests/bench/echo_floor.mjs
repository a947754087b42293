// The benchmark's Node floor (tests/src/bin/bench.rs): a raw length-prefixed echo on the
// socket the host passed as fd POLYHOST_FD (default 3), with Node's built-in modules only
// (net.Socket on the fd, as the Node worker takes its socket).
//
// A frame is a 4-byte little-endian length and that many payload bytes; every frame is
// answered with itself (one write per frame; the echoes of one read go out together,
// corked). Exits at EOF.

import net from "node:net";

const socket = new net.Socket({ fd: Number.parseInt(process.env.POLYHOST_FD ?? "3", 10), readable: true, writable: true });
let pending = null; // bytes of an incomplete frame

socket.on("data", (chunk) => {
  let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
  let at = 0;
  socket.cork();
  while (buf.length - at >= 4) {
    const end = at + 4 + buf.readUInt32LE(at);
    if (end > buf.length) break;
    socket.write(buf.subarray(at, end));
    at = end;
  }
  socket.uncork();
  pending = at === buf.length ? null : Buffer.from(buf.subarray(at));
});
socket.on("end", () => socket.end());
socket.on("error", () => process.exit(0));
