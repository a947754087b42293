//! Embeds the Rust target (`targets/rust/`: manifest.json and templates) into the
//! generator, so it works wherever the crate is built. Writes
//! `$OUT_DIR/rust_target.rs`: a slice of (file name, contents).

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/rust");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("targets/rust is readable")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".hbs") || n.ends_with(".json"))
        .collect();
    names.sort();
    let mut out = String::from("&[\n");
    for name in names {
        let path = dir.join(&name).display().to_string();
        out.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
    }
    out.push_str("]\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("rust_target.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
