//! Values of `Everything` for the type scenarios: hand-picked edge cases plus
//! proptest-generated ones.

use polyhost_tests::conformance::conformance::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

/// Equality that treats NaN as equal to NaN and tells -0.0 from 0.0 (Debug prints
/// every other float exactly).
pub fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Where the Debug forms of two values first differ, with some context.
pub fn difference(a: &Everything, b: &Everything) -> String {
    let (a, b) = (format!("{a:?}"), format!("{b:?}"));
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = a[..at].char_indices().rev().nth(120).map_or(0, |(i, _)| i);
    let cut = |s: &str| s[from..].chars().take(240).collect::<String>();
    format!(
        "first difference at char {at}:\n  sent ...{}\n  got  ...{}",
        cut(&a),
        cut(&b)
    )
}

/// A short description of a value for failure messages (the values can be huge).
pub fn describe(v: &Everything) -> String {
    let s = format!("{v:?}");
    if s.len() > 600 {
        format!(
            "{}... ({} chars)",
            &s[..s.char_indices().nth(600).map_or(s.len(), |(i, _)| i)],
            s.len()
        )
    } else {
        s
    }
}

/// A present struct field.
pub fn some<T>(value: T) -> Option<Box<T>> {
    Some(Box::new(value))
}

fn tree(depth: u32, fanout: u32) -> Tree {
    Tree {
        label: format!("level {depth}"),
        children: if depth == 0 {
            vec![]
        } else {
            (0..fanout).map(|_| tree(depth - 1, fanout)).collect()
        },
    }
}

/// A chain of `depth` trees, each the only child of the one before.
pub fn deep_tree(depth: u32) -> Tree {
    let mut t = Tree {
        label: "leaf".into(),
        children: vec![],
    };
    for i in 0..depth {
        t = Tree {
            label: format!("{i}"),
            children: vec![t],
        };
    }
    t
}

const UNICODE: &str = "héllo wörld · Ελληνικά · русский · 中文 · 日本語 · 한국어 · עברית · العربية · 🦀🐍💎 · e\u{301} · \u{1F3F3}\u{FE0F}\u{200D}\u{1F308} · \u{10FFFF}";

/// Every field at its zero value, including the fields with schema defaults (whose
/// wire encoding is then non-zero), lists empty rather than absent.
fn zeros() -> Everything {
    Everything {
        void: (),
        bool: false,
        i8: 0,
        i16: 0,
        i32: 0,
        i64: 0,
        u8: 0,
        u16: 0,
        u32: 0,
        u64: 0,
        f32: 0.0,
        f64: 0.0,
        text: String::new(),
        data: vec![],
        mood: Mood::Calm,
        point: some(Point { x: 0.0, y: 0.0 }),
        bool_default: false,
        i8_default: 0,
        i16_default: 0,
        i32_default: 0,
        i64_default: 0,
        u8_default: 0,
        u16_default: 0,
        u32_default: 0,
        u64_default: 0,
        f32_default: 0.0,
        f64_default: 0.0,
        nan_default: 0.0,
        inf_default: 0.0,
        neg_inf_default: 0.0,
        text_default: String::new(),
        data_default: vec![],
        mood_default: Mood::Calm,
        point_default: some(Point { x: 0.0, y: 0.0 }),
        list_default: vec![],
        voids: vec![],
        bools: vec![],
        i8s: vec![],
        i16s: vec![],
        i32s: vec![],
        i64s: vec![],
        u8s: vec![],
        u16s: vec![],
        u32s: vec![],
        u64s: vec![],
        f32s: vec![],
        f64s: vec![],
        texts: vec![],
        datas: vec![],
        moods: vec![],
        points: vec![],
        variants: vec![],
        nested: vec![],
        deep: vec![],
        point_grid: vec![],
        shape: EverythingShape {
            which: EverythingShapeWhich::None,
        },
        meta: EverythingMeta {
            name: String::new(),
            version: 0,
            tags: vec![],
        },
        tree: some(Tree {
            label: String::new(),
            children: vec![],
        }),
        which: EverythingWhich::Idle,
    }
}

/// Extremes of every primitive, special floats, unicode, lists of every kind.
fn extremes() -> Everything {
    Everything {
        bool: true,
        i8: i8::MIN,
        i16: i16::MIN,
        i32: i32::MIN,
        i64: i64::MIN,
        u8: u8::MAX,
        u16: u16::MAX,
        u32: u32::MAX,
        u64: u64::MAX,
        f32: f32::NAN,
        f64: f64::NAN,
        text: UNICODE.into(),
        data: (0..=255u8).collect(),
        mood: Mood::Furious,
        point: some(Point {
            x: f64::INFINITY,
            y: f64::NEG_INFINITY,
        }),
        bool_default: true,
        i8_default: i8::MAX,
        i16_default: i16::MAX,
        i32_default: i32::MAX,
        i64_default: i64::MAX,
        u8_default: 0,
        u16_default: 1,
        u32_default: 0,
        u64_default: 0,
        f32_default: f32::NEG_INFINITY,
        f64_default: -0.0,
        nan_default: 1.5,
        inf_default: f64::NAN,
        neg_inf_default: f32::INFINITY,
        text_default: "not the default".into(),
        data_default: vec![0; 9],
        mood_default: Mood::Calm,
        point_default: some(Point {
            x: f64::MIN_POSITIVE,
            y: -f64::MAX,
        }),
        list_default: vec![i16::MIN, 0, i16::MAX],
        voids: vec![(); 7],
        bools: (0..77).map(|i| i % 3 == 0).collect(),
        i8s: vec![i8::MIN, -1, 0, 1, i8::MAX],
        i16s: vec![i16::MIN, -1, 0, 1, i16::MAX],
        i32s: vec![i32::MIN, -1, 0, 1, i32::MAX],
        i64s: vec![i64::MIN, -1, 0, 1, i64::MAX],
        u8s: vec![0, 1, 127, 128, 255],
        u16s: vec![0, 1, u16::MAX],
        u32s: vec![0, 1, u32::MAX],
        u64s: vec![0, 1, u64::MAX],
        f32s: vec![
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            1e-45,
            f32::MAX,
            f32::MIN,
            0.1,
        ],
        f64s: vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            0.1,
        ],
        texts: vec![String::new(), "a".into(), UNICODE.into(), "x".repeat(1000)],
        datas: vec![vec![], vec![0], vec![255; 17]],
        moods: vec![Mood::Calm, Mood::Curious, Mood::Furious, Mood::Calm],
        points: vec![
            Point { x: 1.0, y: 2.0 },
            Point {
                x: f64::NAN,
                y: -0.0,
            },
        ],
        variants: vec![
            Variant {
                which: VariantWhich::Nothing,
            },
            Variant {
                which: VariantWhich::Number(i64::MIN),
            },
            Variant {
                which: VariantWhich::Word("wörd".into()),
            },
            Variant {
                which: VariantWhich::Spot(some(Point { x: 3.0, y: 4.0 })),
            },
            Variant {
                which: VariantWhich::Word(String::new()),
            },
        ],
        nested: vec![vec![], vec![1], vec![1, 2, 3], vec![]],
        deep: vec![
            vec![],
            vec![vec![]],
            vec![vec!["a".into(), String::new()], vec!["🐍".into()]],
        ],
        point_grid: vec![
            vec![Point { x: 1.0, y: 1.0 }],
            vec![],
            vec![Point { x: 2.0, y: 2.0 }, Point { x: 3.0, y: 3.0 }],
        ],
        shape: EverythingShape {
            which: EverythingShapeWhich::Poly(vec![
                Point { x: 0.0, y: 0.0 },
                Point { x: 1.0, y: 0.0 },
                Point { x: 0.0, y: 1.0 },
            ]),
        },
        meta: EverythingMeta {
            name: "meta".into(),
            version: u32::MAX,
            tags: vec!["t1".into(), UNICODE.into()],
        },
        tree: some(tree(3, 3)),
        which: EverythingWhich::Note(UNICODE.into()),
        ..zeros()
    }
}

/// Long lists: many elements of every list kind, and a 1 MiB text.
fn long_lists() -> Everything {
    Everything {
        text: "λ".repeat(512 * 1024),
        data: (0..1_000_000u32).map(|i| (i % 251) as u8).collect(),
        voids: vec![(); 100_000],
        bools: (0..100_003).map(|i| i % 7 < 3).collect(),
        i8s: (0..50_000).map(|i| (i % 256) as i8).collect(),
        i16s: (0..50_000).map(|i| (i * 37) as i16).collect(),
        i32s: (0..100_000).map(|i| i * 7919 - 400_000).collect(),
        i64s: (0..50_000i64)
            .map(|i| i * 1_000_000_007 - (1 << 40))
            .collect(),
        u8s: (0..50_000).map(|i| (i % 256) as u8).collect(),
        u16s: (0..50_000).map(|i| (i * 13) as u16).collect(),
        u32s: (0..50_000u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect(),
        u64s: (0..50_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect(),
        f32s: (0..50_000).map(|i| i as f32 / 3.0).collect(),
        f64s: (0..50_000).map(|i| i as f64 / 7.0 - 1000.0).collect(),
        texts: (0..5_000).map(|i| format!("text {i} ✓")).collect(),
        datas: (0..5_000u32)
            .map(|i| vec![(i % 256) as u8; (i % 13) as usize])
            .collect(),
        moods: (0..30_000)
            .map(|i| [Mood::Calm, Mood::Curious, Mood::Furious][i % 3])
            .collect(),
        points: (0..20_000)
            .map(|i| Point {
                x: i as f64,
                y: -(i as f64),
            })
            .collect(),
        variants: (0..5_000)
            .map(|i| Variant {
                which: match i % 4 {
                    0 => VariantWhich::Nothing,
                    1 => VariantWhich::Number(i),
                    2 => VariantWhich::Word(format!("w{i}")),
                    _ => VariantWhich::Spot(some(Point {
                        x: i as f64,
                        y: 0.5,
                    })),
                },
            })
            .collect(),
        nested: (0..2_000).map(|i| (0..(i % 17)).collect()).collect(),
        deep: (0..200)
            .map(|i| {
                (0..(i % 5))
                    .map(|j| (0..j).map(|k| format!("{i}.{j}.{k}")).collect())
                    .collect()
            })
            .collect(),
        point_grid: (0..500)
            .map(|i| {
                (0..(i % 9))
                    .map(|j| Point {
                        x: i as f64,
                        y: j as f64,
                    })
                    .collect()
            })
            .collect(),
        shape: EverythingShape {
            which: EverythingShapeWhich::Label("a label".into()),
        },
        tree: some(tree(5, 4)),
        which: EverythingWhich::Count(-42),
        ..Everything::default()
    }
}

/// The hand-picked corpus, named.
pub fn corpus() -> Vec<(&'static str, Everything)> {
    let mut out = vec![
        ("schema defaults", Everything::default()),
        ("zeros", zeros()),
        ("extremes", extremes()),
        ("long lists", long_lists()),
    ];
    let shapes = [
        EverythingShapeWhich::None,
        EverythingShapeWhich::Circle(-0.0),
        EverythingShapeWhich::Rect(some(Point {
            x: f64::NAN,
            y: f64::INFINITY,
        })),
        EverythingShapeWhich::Poly(vec![]),
        EverythingShapeWhich::Label(String::new()),
    ];
    let unions = [
        EverythingWhich::Idle,
        EverythingWhich::Count(i64::MAX),
        EverythingWhich::Note(String::new()),
        EverythingWhich::Mood2(Mood::Curious),
    ];
    for (i, (shape, which)) in shapes
        .into_iter()
        .zip(unions.into_iter().cycle())
        .enumerate()
    {
        let names = [
            "union: none / idle",
            "union: circle / count",
            "union: rect / note",
            "union: poly / mood2",
            "union: label / idle",
        ];
        out.push((
            names[i],
            Everything {
                shape: EverythingShape { which: shape },
                which,
                ..Everything::default()
            },
        ));
    }
    out.push((
        "a tree of depth 25",
        Everything {
            tree: some(deep_tree(25)),
            ..Everything::default()
        },
    ));
    out
}

fn mood() -> impl Strategy<Value = Mood> {
    prop_oneof![Just(Mood::Calm), Just(Mood::Curious), Just(Mood::Furious)]
}

fn point() -> impl Strategy<Value = Point> {
    (any::<f64>(), any::<f64>()).prop_map(|(x, y)| Point { x, y })
}

fn variant() -> impl Strategy<Value = Variant> {
    prop_oneof![
        Just(VariantWhich::Nothing),
        any::<i64>().prop_map(VariantWhich::Number),
        "\\PC{0,12}".prop_map(VariantWhich::Word),
        point().prop_map(|p| VariantWhich::Spot(some(p))),
    ]
    .prop_map(|which| Variant { which })
}

fn small_vec<S: Strategy>(s: S) -> prop::collection::VecStrategy<S> {
    prop::collection::vec(s, 0..12)
}

prop_compose! {
    fn primitives()(
        (bool, i8, i16, i32, i64, u8, u16, u32, u64) in (any::<bool>(), any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>(), any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>()),
        (f32, f64, text, data, mood, point) in (any::<f32>(), any::<f64>(), "\\PC{0,40}", small_vec(any::<u8>()), mood(), point()),
    ) -> Everything {
        Everything { bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, text, data, mood, point: some(point), ..Everything::default() }
    }
}

prop_compose! {
    fn defaults_touched()(
        base in primitives(),
        (bool_default, i8_default, i16_default, i32_default, i64_default, u8_default, u16_default, u32_default, u64_default) in (any::<bool>(), any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>(), any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>()),
        (f32_default, f64_default, nan_default, inf_default, neg_inf_default) in (any::<f32>(), any::<f64>(), any::<f64>(), any::<f64>(), any::<f32>()),
        (text_default, data_default, mood_default, point_default, list_default) in ("\\PC{0,10}", small_vec(any::<u8>()), mood(), point(), small_vec(any::<i16>())),
    ) -> Everything {
        Everything {
            bool_default, i8_default, i16_default, i32_default, i64_default, u8_default, u16_default, u32_default, u64_default,
            f32_default, f64_default, nan_default, inf_default, neg_inf_default, text_default, data_default, mood_default,
            point_default: some(point_default), list_default, ..base
        }
    }
}

prop_compose! {
    fn with_lists()(
        base in defaults_touched(),
        (voids, bools, i8s, i16s, i32s, i64s) in (small_vec(Just(())), prop::collection::vec(any::<bool>(), 0..150), small_vec(any::<i8>()), small_vec(any::<i16>()), small_vec(any::<i32>()), small_vec(any::<i64>())),
        (u8s, u16s, u32s, u64s, f32s, f64s) in (small_vec(any::<u8>()), small_vec(any::<u16>()), small_vec(any::<u32>()), small_vec(any::<u64>()), small_vec(any::<f32>()), small_vec(any::<f64>())),
        (texts, datas, moods, points, variants) in (small_vec("\\PC{0,8}"), small_vec(small_vec(any::<u8>())), small_vec(mood()), small_vec(point()), small_vec(variant())),
        (nested, deep, point_grid) in (small_vec(small_vec(any::<i32>())), prop::collection::vec(small_vec(small_vec("[a-z✓]{0,3}")), 0..4), prop::collection::vec(small_vec(point()), 0..4)),
    ) -> Everything {
        Everything { voids, bools, i8s, i16s, i32s, i64s, u8s, u16s, u32s, u64s, f32s, f64s, texts, datas, moods, points, variants, nested, deep, point_grid, ..base }
    }
}

fn everything() -> impl Strategy<Value = Everything> {
    let shape = prop_oneof![
        Just(EverythingShapeWhich::None),
        any::<f64>().prop_map(EverythingShapeWhich::Circle),
        prop::option::of(point()).prop_map(|p| EverythingShapeWhich::Rect(p.map(Box::new))),
        small_vec(point()).prop_map(EverythingShapeWhich::Poly),
        "\\PC{0,10}".prop_map(EverythingShapeWhich::Label),
    ];
    let which = prop_oneof![
        Just(EverythingWhich::Idle),
        any::<i64>().prop_map(EverythingWhich::Count),
        "\\PC{0,10}".prop_map(EverythingWhich::Note),
        mood().prop_map(EverythingWhich::Mood2),
    ];
    let meta =
        ("\\PC{0,10}", any::<u32>(), small_vec("\\PC{0,5}")).prop_map(|(name, version, tags)| {
            EverythingMeta {
                name,
                version,
                tags,
            }
        });
    let tree = (0u32..4, 0u32..4).prop_map(|(d, f)| tree(d, f));
    (with_lists(), shape, which, meta, tree).prop_map(|(base, shape, which, meta, tree)| {
        Everything {
            shape: EverythingShape { which: shape },
            which,
            meta,
            tree: some(tree),
            ..base
        }
    })
}

/// The hand-picked corpus and 48 generated values, named.
pub fn all() -> Vec<(String, Everything)> {
    let mut values: Vec<(String, Everything)> = corpus()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    values.extend(
        generated(48)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("generated #{i}"), v)),
    );
    values
}

/// `n` proptest-generated values (deterministic: the same on every run).
pub fn generated(n: usize) -> Vec<Everything> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let strategy = everything();
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("the strategy generates")
                .current()
        })
        .collect()
}
