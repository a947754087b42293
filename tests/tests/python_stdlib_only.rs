//! The Python adapter needs nothing but the interpreter: no `.py` file in
//! `adapters/python` (runtime, tests), in the test plugins (`tests/plugins`) nor any
//! module generated from the test and conformance schemas imports anything outside the
//! Python standard library, except
//! `polyhost` itself and modules defined in the scanned folders (test helpers,
//! generated modules). The standard library's module names come from the interpreter
//! the tests run (`sys.stdlib_module_names`).

use std::path::Path;
use std::process::Command;

/// Lists `file:line: module` for every import that is not allowed, one per line.
const SCAN: &str = r#"
import ast, os, sys, sysconfig

def stdlib_names():
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return set(names)
    # Python 3.9: the stdlib folder's modules and the built-in ones.
    found = set(sys.builtin_module_names)
    root = sysconfig.get_paths()["stdlib"]
    for entry in os.listdir(root):
        name, ext = os.path.splitext(entry)
        if ext == ".py" or os.path.isdir(os.path.join(root, entry)):
            found.add(name)
    return found

skip = {"__pycache__", ".mypy_cache", "node_modules"}
def walk():
    for root in sys.argv[1:]:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in skip]
            yield folder, dirs, files

# Modules defined inside the scanned folders (test helpers, generated modules).
local = {os.path.splitext(f)[0] for _, _, files in walk() for f in files if f.endswith(".py")}
allowed = stdlib_names() | local | {"polyhost"}
bad, scanned = [], 0
for folder, dirs, files in walk():
    for f in files:
        if not f.endswith(".py"):
            continue
        path = os.path.join(folder, f)
        scanned += 1
        with open(path, encoding="utf-8") as src:
            tree = ast.parse(src.read(), path)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                  and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                       or (isinstance(node.func, ast.Name) and node.func.id == "__import__"))):
                names = [node.args[0].value]
            for name in names:
                top = name.split(".")[0]
                if top not in allowed:
                    bad.append("%s:%d: %s" % (path, node.lineno, name))
print("scanned %d" % scanned)
for b in bad:
    print(b)
"#;

#[test]
fn the_python_adapter_imports_only_the_standard_library() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository");
    let adapter = root.join("adapters/python");
    let generated = Path::new(polyhost_tests::OUT_DIR).join("python");
    let plugins = root.join("tests/plugins");
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCAN)
        .arg(&adapter)
        .arg(&generated)
        .arg(&plugins)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 is on PATH");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the import scan failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let scanned: usize = lines
        .next()
        .and_then(|l| l.strip_prefix("scanned "))
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(
        scanned > 20,
        "only {scanned} Python files found under {} and {}",
        adapter.display(),
        generated.display()
    );
    let bad: Vec<&str> = lines.collect();
    assert!(
        bad.is_empty(),
        "imports outside the Python standard library:\n  {}",
        bad.join("\n  ")
    );
}
