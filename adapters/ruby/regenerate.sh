#!/bin/sh
# Regenerates the Ruby modules checked into the adapter from their schemas (run from
# anywhere; needs only cargo).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --quiet -p polyhost-codegen
gen="./target/debug/polyhost-codegen --target adapters/ruby/templates"
$gen --out adapters/ruby/lib/polyhost --src-prefix schema schema/polyhost.capnp
$gen --out adapters/ruby/tests/generated --src-prefix tests/schema tests/schema/features.capnp
