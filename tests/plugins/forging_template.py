"""A template process that lies: it answers every spawn request with the pid in
``FORGED_PID`` (any JSON value) instead of forking, as a plugin imported into a real
template could. For tests/tests/faults.rs; speaks runtime/src/template.rs's protocol."""

import json
import os
import socket

ctl = socket.socket(fileno=int(os.environ["POLYHOST_FD"]))
forged = json.loads(os.environ["FORGED_PID"])
ctl.send(b'{"ready":{}}')
while True:
    msg, fds, _flags, _addr = socket.recv_fds(ctl, 4096, 3)
    if not msg:
        break
    for fd in fds:
        os.close(fd)
    worker_id = json.loads(msg)["spawn"]["id"]
    ctl.send(json.dumps({"spawned": {"id": worker_id, "pid": forged}}).encode())
