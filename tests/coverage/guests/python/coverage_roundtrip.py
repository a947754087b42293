"""Schema-coverage round trip, Python side (tests/tests/coverage.rs).

Usage: python3 coverage_roundtrip.py ADAPTER_DIR MODULE_DIR STRUCT < framed > framed

Imports the generated modules of the coverage corpus, reads one framed message,
decodes its root as STRUCT of coverage_capnp into objects and encodes those into a
fresh message on stdout.
"""

import sys

adapter_dir, module_dir, struct_name = sys.argv[1:4]
sys.path[:0] = [module_dir, adapter_dir]

import coverage_capnp  # noqa: E402
import units_capnp  # noqa: E402,F401  (imported from a sibling folder by coverage_capnp)
from polyhost import wire  # noqa: E402


def main():
    cls = getattr(coverage_capnp, struct_name)
    value = cls._polyhost_read(wire.read_message(sys.stdin.buffer.read()).root())
    mb = wire.MessageBuilder()
    value._polyhost_write(mb.init_root(cls._polyhost_data_words, cls._polyhost_ptr_count))
    sys.stdout.buffer.write(mb.to_bytes())


if __name__ == "__main__":
    main()
