"""Tests of ``python3 -m polyhost.template``: the control protocol a host speaks with
the template process that forks workers (ready, spawn with three descriptors, spawned,
exited, failed), and what it does with a request it cannot read or a host that
leaves.

The plugin is tests/plugin_calc.py; the host side here is plain sockets.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from test_worker_process import MODULE_PATH, spawn  # also puts the adapter on sys.path


def start_template(entry="plugin_calc:factory", preload=False):
    """Start a template with its control socket on fd 3; returns (process, our end)."""
    proc, ctl = spawn(entry, {"POLYHOST_PRELOAD": "1"} if preload else None,
                      module="polyhost.template", kind=socket.SOCK_SEQPACKET)
    ctl.settimeout(20)
    return proc, ctl


def close_pipes(proc):
    proc.stdout.close()
    proc.stderr.close()


def report(ctl):
    msg = ctl.recv(65536)
    if not msg:
        raise EOFError("the template closed its control socket")
    return json.loads(msg)


def request_worker(ctl, worker_id, fds):
    socket.send_fds(ctl, [json.dumps({"spawn": {"id": worker_id}}).encode()], fds)


class TemplateTest(unittest.TestCase):
    def setUp(self):
        self.proc, self.ctl = start_template()
        self.addCleanup(self.stop)
        self.assertEqual(report(self.ctl), {"ready": {}})

    def stop(self):
        self.ctl.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        close_pipes(self.proc)

    def fork_worker(self, worker_id):
        """Ask for a worker; returns (pid, our end of its socket, its stderr pipe)."""
        sock, theirs = socket.socketpair()
        err_r, err_w = os.pipe()
        out = os.open(os.devnull, os.O_WRONLY)
        try:
            request_worker(self.ctl, worker_id, [theirs.fileno(), out, err_w])
        finally:
            theirs.close()
            os.close(out)
            os.close(err_w)
        got = report(self.ctl)
        self.assertEqual(set(got), {"spawned"}, got)
        self.assertEqual(got["spawned"]["id"], worker_id)
        self.addCleanup(os.close, err_r)
        self.addCleanup(sock.close)
        return got["spawned"]["pid"], sock, err_r

    def test_a_forked_worker_is_the_templates_child_and_its_exit_is_reported(self):
        pid, sock, _ = self.fork_worker(7)
        with open("/proc/%d/stat" % pid) as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        self.assertEqual(parent, self.proc.pid)
        sock.close()       # EOF on its socket: the worker exits 0
        self.assertEqual(report(self.ctl), {"exited": {"pid": pid, "code": 0}})

    def test_a_killed_worker_is_reported_with_its_signal(self):
        pid, _, _ = self.fork_worker(1)
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(report(self.ctl),
                         {"exited": {"pid": pid, "signal": int(signal.SIGKILL)}})

    def test_a_worker_that_cannot_import_the_plugin_writes_the_traceback_to_its_stderr(self):
        self.ctl.close()
        self.proc.wait(10)
        close_pipes(self.proc)
        self.proc, self.ctl = start_template("no_such_module:make")
        self.assertEqual(report(self.ctl), {"ready": {}})
        pid, _, err_r = self.fork_worker(2)
        self.assertEqual(report(self.ctl), {"exited": {"pid": pid, "code": 3}})
        stderr = os.read(err_r, 65536).decode()
        self.assertIn("ModuleNotFoundError", stderr)

    def test_a_request_without_three_descriptors_fails_and_the_template_carries_on(self):
        r, w = os.pipe()
        try:
            request_worker(self.ctl, 3, [w])
        finally:
            os.close(r)
            os.close(w)
        got = report(self.ctl)
        self.assertEqual(got["failed"]["id"], 3)
        self.assertIn("3 file descriptors", got["failed"]["error"])
        self.fork_worker(4)

    def test_an_unreadable_request_ends_the_template_with_a_reason(self):
        self.ctl.send(b"\xff not json")
        self.assertEqual(self.proc.wait(10), 2)
        self.assertIn("bad request", self.proc.stderr.read().decode())

    def test_the_template_exits_when_the_host_closes_the_socket_and_its_workers_follow(self):
        pid, _, _ = self.fork_worker(5)
        self.ctl.close()
        self.assertEqual(self.proc.wait(10), 0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.02)
        self.assertFalse(_running(pid), "the worker outlived its template")


class PreloadTest(unittest.TestCase):
    def test_a_plugin_that_fails_to_import_in_the_template_stops_it_with_status_3(self):
        proc, ctl = start_template("no_such_module:make", preload=True)
        try:
            self.assertEqual(proc.wait(20), 3)
            self.assertIn("ModuleNotFoundError", proc.stderr.read().decode())
            self.assertEqual(ctl.recv(100), b"", "no ready report")
        finally:
            ctl.close()
            close_pipes(proc)


class GeneratedModulesTest(unittest.TestCase):
    """The modules generated from the pool's schemas (``POLYHOST_GENERATED``) are
    imported once, by the template, before it forks."""

    def test_module_names_of_the_generated_files(self):
        from polyhost import template
        files = os.pathsep.join(["calc_capnp.py", "pkg/sub_capnp.py", "pkg/__init__.py",
                                 "calc_capnp.pyi", "not-a-name.py"])
        self.assertEqual(template.generated_modules(files),
                         ["calc_capnp", "pkg.sub_capnp", "pkg"])
        self.assertEqual(template.generated_modules(""), [])

    def test_the_template_imports_them_and_its_workers_find_them_loaded(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        imports = os.path.join(folder, "imports.txt")
        with open(os.path.join(folder, "probe_capnp.py"), "w") as f:
            f.write("import os\nwith open(%r, 'a') as f:\n    f.write('%%d\\n' %% os.getpid())\n"
                    % imports)
        with open(os.path.join(folder, "plugin_with_probe.py"), "w") as f:
            f.write("import probe_capnp\nfrom plugin_calc import factory\n")
        env = {"POLYHOST_GENERATED": os.pathsep.join(["probe_capnp.py", "missing_capnp.py"]),
               "PYTHONPATH": os.pathsep.join([folder] + MODULE_PATH)}
        proc, ctl = spawn("plugin_with_probe:factory", env, module="polyhost.template",
                          kind=socket.SOCK_SEQPACKET)
        ctl.settimeout(20)
        self.addCleanup(close_pipes, proc)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(ctl.close)
        self.assertEqual(report(ctl), {"ready": {}})
        with open(imports) as f:
            self.assertEqual(f.read().split(), [str(proc.pid)])
        # a worker that imports it finds it loaded: no second import
        sock, theirs = socket.socketpair()
        self.addCleanup(sock.close)
        err_r, err_w = os.pipe()
        self.addCleanup(os.close, err_r)
        request_worker(ctl, 1, [theirs.fileno(), err_w, err_w])
        theirs.close()
        os.close(err_w)
        pid = report(ctl)["spawned"]["pid"]
        sock.close()                  # EOF: the worker exits once it has served
        self.assertEqual(report(ctl), {"exited": {"pid": pid, "code": 0}})
        with open(imports) as f:
            self.assertEqual(f.read().split(), [str(proc.pid)])
        # the one that could not be imported was named on the template's stderr
        ctl.close()
        proc.wait(10)
        self.assertIn("missing_capnp not preloaded", proc.stderr.read().decode())


def _running(pid):
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    unittest.main()
