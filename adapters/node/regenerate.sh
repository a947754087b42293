#!/bin/sh
# Regenerates the Node modules checked into the adapter from their schemas (run from
# anywhere; needs only cargo). tests/tests/guest_modules_current.rs checks they are
# current.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --quiet -p polyhost-codegen
gen="./target/debug/polyhost-codegen --target adapters/node/templates"
$gen --out adapters/node/polyhost --src-prefix schema schema/capnp/rpc.capnp
$gen --out adapters/node/polyhost --src-prefix schema schema/polyhost.capnp
# the protocol's constants alone, for the RPC layer (which polyhost_capnp imports)
./target/debug/polyhost-codegen --target adapters/node/templates/constants_only --out adapters/node/polyhost --src-prefix schema schema/polyhost.capnp
$gen --out adapters/node/tests/generated --src-prefix tests/schema tests/schema/features.capnp
