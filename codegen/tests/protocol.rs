//! The protocol facts the generator and the guest runtimes take from
//! `schema/polyhost.capnp`: the ids the generator gives meaning to are the schema's,
//! and the constants-only guest modules the RPC layers import are current.

use std::path::{Path, PathBuf};

use polyhost_codegen::ir::{Role, Type, Value};
use polyhost_codegen::well_known;
use polyhost_codegen::{Builder, Target};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("codegen/ is inside the repository")
        .to_path_buf()
}

fn protocol() -> Builder {
    Builder::new()
        .emit_rerun_if_changed(false)
        .schema(repo().join("schema/polyhost.capnp"))
        .src_prefix(repo().join("schema"))
}

#[test]
fn well_known_ids_are_the_schemas() {
    let ir = protocol().ir().expect("polyhost.capnp compiles");
    let file = &ir.files[0];
    assert_eq!(file.id.0, well_known::POLYHOST_FILE);
    let sink = file
        .interfaces
        .iter()
        .find(|i| i.name.scope == ["Sink"])
        .expect("polyhost.capnp declares Sink");
    assert_eq!(sink.name.id.0, well_known::SINK_INTERFACE);
    let worker = file
        .interfaces
        .iter()
        .find(|i| i.name.scope == ["WorkerProcess"])
        .expect("polyhost.capnp declares WorkerProcess");
    assert_eq!(worker.role, Role::Worker, "WorkerProcess is $worker");
    let scoped = worker.methods.iter().find(|m| m.name == "scoped").unwrap();
    assert!(scoped.idempotent, "WorkerProcess.scoped is $idempotent");
    let marker = file
        .constants
        .iter()
        .find(|c| c.name.scope == ["tracebackMarker"])
        .expect("polyhost.capnp declares tracebackMarker");
    assert!(matches!(marker.ty, Type::Text));
    assert_eq!(
        marker.value,
        Value::Text("\n--- polyhost traceback ---\n".into())
    );
}

#[test]
fn constants_only_guest_modules_are_current() {
    for language in ["python", "node"] {
        let adapter = repo().join("adapters").join(language);
        let target = Target::load(&adapter.join("templates/constants_only"))
            .unwrap_or_else(|e| panic!("{language}: {e}"));
        let rendered = protocol().render(&target).unwrap();
        assert!(!rendered.is_empty());
        for file in rendered {
            let path = adapter.join("polyhost").join(&file.path);
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                current == file.contents,
                "{} is stale: run `cargo run -p polyhost-tests --bin regenerate -- {language}`",
                path.display()
            );
        }
    }
}
