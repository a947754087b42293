//! `polyhost-codegen`: the generator as a command, for adapters and checked-in bindings.
//!
//! ```text
//! polyhost-codegen [-I DIR]... [--src-prefix DIR] [--ir]
//!                  [--rust-out DIR [--polyhost-crate PATH]] [--target DIR --out DIR]... SCHEMA...
//! ```
//! `--ir` prints the IR as JSON. A schema error prints the compiler's
//! `file:line:col: error` lines and exits with status 1.

use std::path::PathBuf;
use std::process::ExitCode;

use polyhost_codegen::{Builder, Target};

fn main() -> ExitCode {
    let mut builder = Builder::new();
    let mut print_ir = false;
    let mut rust_out = None;
    let mut args = std::env::args().skip(1);
    let mut target: Option<PathBuf> = None;
    let mut guest = Vec::new();
    let mut schemas = 0;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "-I" | "--import-path" => builder = builder.import_path(value("-I")),
            "--src-prefix" => builder = builder.src_prefix(value("--src-prefix")),
            "--ir" => print_ir = true,
            "--rust-out" => rust_out = Some(value("--rust-out")),
            "--polyhost-crate" => builder = builder.polyhost_crate(&value("--polyhost-crate")),
            "--target" => target = Some(PathBuf::from(value("--target"))),
            "--out" => {
                let t = target
                    .take()
                    .unwrap_or_else(|| usage("--out follows a --target"));
                guest.push((t, PathBuf::from(value("--out"))));
            }
            "-h" | "--help" => usage(""),
            s if s.starts_with('-') => usage(&format!("unknown option {s}")),
            s => {
                builder = builder.schema(s);
                schemas += 1;
            }
        }
    }
    if schemas == 0 {
        usage("no schema files given");
    }
    let result = if print_ir {
        builder.ir().map(|ir| {
            println!(
                "{}",
                serde_json::to_string_pretty(&ir).expect("IR serialises")
            )
        })
    } else {
        (|| {
            let ir = builder.ir()?;
            let globals = Default::default();
            if let Some(dir) = &rust_out {
                builder
                    .clone()
                    .rust_out_dir(dir)
                    .emit_rerun_if_changed(false)
                    .generate()?;
            }
            for (t, out) in &guest {
                for r in polyhost_codegen::render_ir(&ir, &Target::load(t)?, &globals)? {
                    polyhost_codegen::render::write_if_changed(
                        &out.join(&r.path),
                        r.contents.as_bytes(),
                    )?;
                }
            }
            Ok(())
        })()
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "\
usage: polyhost-codegen [-I DIR]... [--src-prefix DIR] [--ir]
                        [--rust-out DIR [--polyhost-crate PATH]]
                        [--target DIR --out DIR]... SCHEMA...

  -I, --import-path DIR    search DIR for `import \"/x.capnp\"` (polyhost.capnp needs none)
  --src-prefix DIR         name schemas relative to DIR in generated headers
  --ir                     print the IR as JSON instead of generating
  --rust-out DIR           write the Rust bindings (raw capnpc and polyhost modules) to DIR
  --polyhost-crate PATH    the crate path generated Rust names polyhost by (default
                           `polyhost`; the polyhost crate's own bindings use `crate`)
  --target DIR --out DIR   render the target folder DIR (manifest.json + templates)
                           into the folder given by --out; repeatable
  -h, --help               print this text";

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!("{USAGE}");
    std::process::exit(2)
}
