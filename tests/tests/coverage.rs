//! The schema-coverage corpus (tests/coverage/schema: main/coverage.capnp importing
//! ../common/units.capnp). build.rs generates it with every target: the Rust bindings
//! compile with this crate; here every adapter's modules import and a value using
//! every construct goes Rust -> each guest -> the next guest -> Rust, with the
//! canonical bytes of every hop equal to Rust's and the value equal at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use polyhost::codec::{from_bytes, to_bytes, to_canonical};
use polyhost_tests::coverage::coverage::*;
use polyhost_tests::coverage::units::{Quantity, Unit};

fn some<T>(value: T) -> Option<Box<T>> {
    Some(Box::new(value))
}

fn leaf(label: &str) -> Tree {
    Tree {
        label: label.into(),
        left: None,
        right: None,
        children: vec![],
    }
}

fn quantity(value: f64, unit: Unit) -> Quantity {
    Quantity { value, unit }
}

/// A value that sets every field of the corpus (capabilities excepted: they need a
/// connection), with recursion, unions inside groups, groups inside unions, generics.
fn everything(variant: usize) -> Everything {
    let tree = Tree {
        label: "root".into(),
        left: some(leaf("l")),
        right: some(Tree {
            label: "r".into(),
            left: some(leaf("rl")),
            right: None,
            children: vec![leaf("c")],
        }),
        children: vec![
            leaf("a"),
            Tree {
                label: "b".into(),
                left: some(leaf("bl")),
                right: None,
                children: vec![],
            },
        ],
    };
    let which = match variant % 5 {
        0 => UnionsWhich::None,
        1 => UnionsWhich::Number(-7),
        2 => UnionsWhich::Word("wörd".into()),
        3 => UnionsWhich::Tree(if variant > 5 { None } else { some(leaf("u")) }),
        _ => UnionsWhich::Pair(UnionsPair {
            first: 3,
            second: "second".into(),
        }),
    };
    let choice = match variant % 4 {
        0 => UnionsHolderChoiceWhich::Nothing,
        1 => UnionsHolderChoiceWhich::Flavor(Flavor::StrawberryRipple),
        2 => UnionsHolderChoiceWhich::Quantity(some(quantity(2.5, Unit::Kilogram))),
        _ => UnionsHolderChoiceWhich::Quantity(None),
    };
    Everything {
        scalars: some(Scalars {
            void: (),
            bool: true,
            i8: i8::MIN,
            i16: i16::MAX,
            i32: -123_456,
            i64: i64::MIN,
            u8: u8::MAX,
            u16: 40_000,
            u32: u32::MAX,
            u64: u64::MAX,
            f32: -0.5,
            f64: 1e-300,
            text: "héllo ✓".into(),
            data: vec![0, 1, 254, 255],
            flavor: Flavor::Chocolate,
            quantity: some(quantity(1.5, Unit::Meter)),
        }),
        defaults: some(Defaults {
            weighed: 0,
            ints: vec![],
            ..Defaults::default()
        }),
        lists: some(Lists {
            voids: vec![(); 3],
            bools: vec![true, false, true, true, false, false, true, true, true],
            i8s: vec![-1, 2],
            i16s: vec![-300, 300],
            i32s: vec![i32::MIN, 0, i32::MAX],
            i64s: vec![i64::MIN, i64::MAX],
            u8s: vec![0, 255],
            u16s: vec![1, 65535],
            u32s: vec![7],
            u64s: vec![u64::MAX],
            f32s: vec![1.25, -0.0],
            f64s: vec![f64::INFINITY, f64::NEG_INFINITY, 2.0],
            texts: vec!["".into(), "x".into()],
            datas: vec![vec![], vec![1, 2, 3]],
            flavors: vec![Flavor::Vanilla, Flavor::StrawberryRipple],
            quantities: vec![quantity(1.0, Unit::Second), quantity(-1.0, Unit::Meter)],
            nested: vec![vec![1, 2], vec![], vec![3]],
            deep: vec![vec![vec!["a".into()], vec![]], vec![]],
        }),
        tree: some(tree.clone()),
        even: some(Even {
            value: 0,
            next: some(Odd {
                value: 1,
                next: some(Even {
                    value: 2,
                    next: None,
                }),
            }),
        }),
        all_void: some(AllVoid {
            a: (),
            b: (),
            g: AllVoidG { c: () },
        }),
        empty: some(Empty {}),
        unions: some(Unions {
            holder: UnionsHolder {
                tag: "tag".into(),
                choice: UnionsHolderChoice { which: choice },
            },
            which,
        }),
        generics: some(Generics {
            text: some(Box_ {
                item: "item".into(),
                label: "text".into(),
            }),
            tree: some(Box_ {
                item: tree,
                label: "tree".into(),
            }),
            pair: some(Pair {
                first: "first".into(),
                second: quantity(9.0, Unit::Kilogram),
            }),
            nested: some(Box_ {
                item: Box_ {
                    item: "inner".into(),
                    label: "in".into(),
                },
                label: "out".into(),
            }),
            unbound: some(Box_ {
                item: polyhost::AnyValue {
                    canonical: to_canonical(&leaf("any")).unwrap(),
                },
                label: "unbound".into(),
            }),
        }),
        outer: some(Outer {
            middle: some(OuterMiddle {
                inner: some(OuterMiddleInner { depth: 9 }),
                level: OuterMiddleLevel::High,
            }),
        }),
        holder: some(Holder {
            counter: None,
            counters: vec![],
            named: None,
        }),
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// A guest: an adapter folder with its interpreter and its coverage script.
struct Guest {
    name: String,
    interpreter: String,
    script: PathBuf,
    adapter: PathBuf,
    modules: PathBuf,
}

/// Every adapter (discovered: `polyhost_tests::adapters`); each must have rendered the
/// corpus and have a script in tests/coverage/guests/<name>/.
fn guests() -> Vec<Guest> {
    let mut out = Vec::new();
    let found = polyhost_tests::adapters::discover(&polyhost_tests::adapters::adapters_root())
        .unwrap_or_else(|e| panic!("{e}"));
    for adapter in found {
        let name = adapter.name;
        let modules = Path::new(polyhost_tests::OUT_DIR).join(format!("coverage-{name}"));
        if let Ok(e) = std::fs::read_to_string(modules.join("RENDER_ERROR")) {
            panic!("the {name} target does not render the coverage corpus: {e}");
        }
        let scripts = repo().join("tests/coverage/guests").join(&name);
        let script = std::fs::read_dir(&scripts)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (every adapter needs a coverage script)",
                    scripts.display()
                )
            })
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_stem().is_some_and(|s| s == "coverage_roundtrip"))
            .unwrap_or_else(|| panic!("no coverage_roundtrip script in {}", scripts.display()));
        out.push(Guest {
            interpreter: adapter.adapter.definition.interpreter,
            script,
            adapter: adapter.adapter.dir,
            modules,
            name,
        });
    }
    assert!(out.len() >= 2, "the Python and Node adapters at least");
    out
}

/// `bytes` (one framed message) decoded and encoded again by `guest`.
fn through(guest: &Guest, bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new(&guest.interpreter)
        .arg(&guest.script)
        .arg(&guest.adapter)
        .arg(&guest.modules)
        .arg("Everything")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", guest.interpreter));
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "[{}] {}",
        guest.name,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn canonical(framed: &[u8]) -> Vec<u8> {
    let message =
        capnp::serialize::read_message_from_flat_slice(&mut &framed[..], Default::default())
            .unwrap();
    capnp::Word::words_to_bytes(&message.canonicalize().unwrap()).to_vec()
}

#[test]
fn every_target_generates_the_corpus_and_values_round_trip_between_every_pair() {
    let guests = guests();
    for variant in 0..8 {
        let value = everything(variant);
        let expected = to_canonical(&value).unwrap();
        let bytes = to_bytes(&value).unwrap();
        // every guest first, then each one's output through every other guest
        for first in &guests {
            let once = through(first, &bytes);
            assert_eq!(
                canonical(&once),
                expected,
                "[{}] variant {variant}",
                first.name
            );
            for second in guests.iter().filter(|g| g.name != first.name) {
                let twice = through(second, &once);
                assert_eq!(
                    canonical(&twice),
                    expected,
                    "[{} -> {}] variant {variant}",
                    first.name,
                    second.name
                );
                let back: Everything = from_bytes(&twice).unwrap();
                assert_eq!(
                    back, value,
                    "[{} -> {}] variant {variant}",
                    first.name, second.name
                );
            }
        }
    }
}

#[test]
fn constants_of_the_corpus() {
    assert_eq!(ANSWER, 42);
    assert_eq!(NAME, "coverage");
    assert_eq!(BLOB, &[0, 1, 2]);
    assert_eq!(FLAVOR, Flavor::Chocolate);
    assert_eq!(UNIT, Unit::Meter);
    assert_eq!(BIG, u64::MAX);
    assert_eq!(NOTHING, ());
    assert_eq!(BOOLS(), vec![true, false, true]);
    assert_eq!(PRIMES(), vec![2, 3, 5, 7]);
    assert_eq!(WORDS(), vec!["x".to_string(), "y".to_string()]);
    assert_eq!(BLOBS(), vec![vec![1u8], vec![2, 3]]);
    assert_eq!(
        FOREST()
            .iter()
            .map(|t| t.label.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(
        FOREST()[1].left.as_deref().map(|t| t.label.as_str()),
        Some("c")
    );
    assert_eq!(GRID(), vec![vec![1.0, 2.0], vec![]]);
    assert_eq!(VOIDS(), vec![(), ()]);
    assert_eq!(FLAVORS(), vec![Flavor::Chocolate, Flavor::Vanilla]);
    assert_eq!(UNITS(), vec![Unit::Second]);
    assert_eq!(OUTER_LIMIT, 512);
    assert_eq!(QUANTITY(), quantity(6.62607015e-34, Unit::Kilogram));
    let sample = SAMPLE();
    assert_eq!(sample.left.as_deref().map(|t| t.label.as_str()), Some("l"));
    assert_eq!(sample.right, None);
    assert_eq!(sample.children[0].label, "c");
    // defaults, a struct default from another file included
    let d = Defaults::default();
    assert_eq!(
        (d.i64, d.u64, d.text.as_str(), d.flavor),
        (
            -9_000_000_000_000_000_000,
            18_000_000_000_000_000_000,
            "défaut",
            Flavor::StrawberryRipple
        )
    );
    assert_eq!(d.quantity, some(quantity(9.81, Unit::Meter)));
    assert_eq!(
        d.quantities,
        vec![quantity(1.0, Unit::Second), quantity(2.0, Unit::Kilogram)]
    );
}

/// A generic method's parameters are AnyPointer in its params and results (the caller
/// picks the type per call): `echo @3 [T] (value :T) -> (value :T)`.
#[test]
fn generic_methods_take_any_pointer() {
    let any = polyhost::AnyValue {
        canonical: to_canonical(&leaf("t")).unwrap(),
    };
    let params = RegistryEchoParams { value: any.clone() };
    assert_eq!(
        from_bytes::<RegistryEchoParams>(&to_bytes(&params).unwrap()).unwrap(),
        params
    );
    let results = RegistryWrapResults {
        r#box: Box_ {
            item: any,
            label: "wrapped".into(),
        },
    };
    assert_eq!(
        from_bytes::<RegistryWrapResults>(&to_bytes(&results).unwrap()).unwrap(),
        results
    );
}
