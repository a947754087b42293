"""Runs ``polyhost.worker`` under cProfile, for the benchmark only
(``POLYHOST_BENCH_PROFILE=<folder> cargo run --release -p polyhost-tests --bin bench``).

Writes ``<folder>/worker-<pid>.prof`` (pstats format) when the worker stops.
"""

import cProfile
import os
import sys

from polyhost import worker

if __name__ == "__main__":
    profile = cProfile.Profile()
    code = profile.runcall(worker.main, sys.argv[1:])
    profile.dump_stats(os.path.join(os.environ["POLYHOST_BENCH_PROFILE"], "worker-%d.prof" % os.getpid()))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
