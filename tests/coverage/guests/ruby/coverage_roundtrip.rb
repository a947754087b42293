# frozen_string_literal: true

# Schema-coverage round trip, Ruby side (tests/tests/coverage.rs).
#
# Usage: ruby coverage_roundtrip.rb ADAPTER_DIR MODULE_DIR STRUCT < framed > framed
#
# Requires the generated modules of the coverage corpus, reads one framed message,
# decodes its root as STRUCT of coverage_capnp into objects and encodes those into a
# fresh message on stdout.

adapter_dir, module_dir, struct_name = ARGV
$LOAD_PATH.unshift(module_dir, File.join(adapter_dir, "lib"))

require "coverage_capnp"
require "units_capnp"
require "polyhost/wire"

cls = Capnp_coverage.const_get(struct_name)
value = cls._read(Polyhost::Wire.read_message($stdin.binmode.read).root)
mb = Polyhost::Wire::MessageBuilder.new
value._write(mb.init_root(cls::DATA_WORDS, cls::PTR_COUNT))
$stdout.binmode.write(mb.to_bytes)
