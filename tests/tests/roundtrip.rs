//! Owned values of the feature schema round-trip through capnp messages, defaults
//! and constants are the schema's, and values convert to and from capnpc's readers.

use polyhost::codec::{from_bytes, to_bytes, to_canonical};
use polyhost_tests::features::*;
use proptest::prelude::*;

/// Equality that treats NaN as equal to NaN (Debug prints every other float exactly).
fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn roundtrip<T: polyhost::Struct + std::fmt::Debug>(value: &T) -> T {
    let bytes = to_bytes(value).expect("encodes");
    let back: T = from_bytes(&bytes).expect("decodes");
    assert!(same(value, &back), "{value:?}\n!=\n{back:?}");
    assert_eq!(to_canonical(value).unwrap(), to_canonical(&back).unwrap());
    back
}

fn color() -> impl Strategy<Value = Color> {
    prop_oneof![Just(Color::Red), Just(Color::Green), Just(Color::Blueish)]
}

fn point() -> impl Strategy<Value = Point> {
    (any::<f64>(), any::<f64>()).prop_map(|(x, y)| Point { x, y })
}

prop_compose! {
    fn primitives()(
        flag in any::<bool>(), i8 in any::<i8>(), i16 in any::<i16>(), i32 in any::<i32>(), i64 in any::<i64>(),
        u8 in any::<u8>(), u16 in any::<u16>(), u32 in any::<u32>(), u64 in any::<u64>(),
        f32 in any::<f32>(), f64 in any::<f64>(), text in ".*", data in prop::collection::vec(any::<u8>(), 0..64),
        flag_on in any::<bool>(), minus in any::<i32>(), big in any::<u64>(), ratio in any::<f32>(),
        not_a_number in any::<f64>(), infinity in any::<f64>(), named in "\\PC*", bytes in prop::collection::vec(any::<u8>(), 0..8),
        color in color(),
    ) -> Primitives {
        Primitives { flag, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, text, data, void: (), flag_on, minus, big, ratio, not_a_number, infinity, named, bytes, color }
    }
}

prop_compose! {
    fn lists()(
        bools in prop::collection::vec(any::<bool>(), 0..70),
        ints in prop::collection::vec(any::<i32>(), 0..20),
        floats in prop::collection::vec(any::<f64>(), 0..20),
        texts in prop::collection::vec(".*", 0..5),
        blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..9), 0..5),
        points in prop::collection::vec(point(), 0..5),
        colors in prop::collection::vec(color(), 0..5),
        nested in prop::collection::vec(prop::collection::vec(any::<i16>(), 0..5), 0..4),
        matrix in prop::collection::vec(prop::collection::vec(point(), 0..3), 0..3),
        words in prop::collection::vec(prop::collection::vec("[a-z]*", 0..3), 0..3),
        defaulted in prop::collection::vec(any::<i32>(), 0..5),
    ) -> Lists {
        Lists { bools, ints, floats, texts, blobs, points, colors, nested, matrix, words, defaulted }
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    let which = prop_oneof![
        any::<f64>().prop_map(ShapeWhich::Circle),
        prop::option::of(point()).prop_map(|p| ShapeWhich::Rectangle(p.map(Box::new))),
        prop::collection::vec(point(), 0..4).prop_map(ShapeWhich::Polygon),
        Just(ShapeWhich::Empty),
    ];
    let anchor = prop_oneof![
        Just(ShapeAnchorWhich::Center),
        prop::option::of(point()).prop_map(|p| ShapeAnchorWhich::Corner(p.map(Box::new))),
    ];
    let kind = prop_oneof![Just(ShapeLabelKind::Plain), Just(ShapeLabelKind::Bold)];
    (
        ".*",
        which,
        color(),
        any::<f32>(),
        anchor,
        point(),
        ".*",
        kind,
        any::<bool>(),
    )
        .prop_map(
            |(name, which, color, width, anchor, origin, text, kind, labelled)| Shape {
                name,
                which,
                style: ShapeStyle { color, width },
                anchor: ShapeAnchor { which: anchor },
                // a field with a default reads as it when null: always present
                origin: Some(Box::new(origin)),
                label: labelled.then(|| Box::new(ShapeLabel { text, kind })),
            },
        )
}

proptest! {
    #[test]
    fn primitives_roundtrip(value in primitives()) { roundtrip(&value); }

    #[test]
    fn lists_roundtrip(value in lists()) { roundtrip(&value); }

    #[test]
    fn unions_and_groups_roundtrip(value in shape()) { roundtrip(&value); }

    #[test]
    fn generic_structs_roundtrip(key in ".*", value in point(), a in point(), b in point()) {
        roundtrip(&Tagged {
            entry: Some(Box::new(Pair { key, value })),
            points: Some(Box::new(Pair { key: a, value: b })),
        });
    }
}

#[test]
fn defaults_are_the_schemas() {
    let p = Primitives::default();
    assert!(p.flag_on);
    assert_eq!(p.minus, -7);
    assert_eq!(p.big, u64::MAX);
    assert_eq!(p.ratio, 0.5);
    assert!(p.not_a_number.is_nan());
    assert_eq!(p.infinity, f64::INFINITY);
    assert_eq!(p.named, "polyhost");
    assert_eq!(p.bytes, vec![0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(p.color, Color::Green);
    assert_eq!(Lists::default().defaulted, vec![1, 2, 3]);
    let shape = Shape::default();
    assert_eq!(
        shape.which,
        ShapeWhich::Circle(0.0),
        "discriminant 0 is the first member"
    );
    assert_eq!(shape.style.width, 1.0);
    assert_eq!(shape.origin, Some(Box::new(Point { x: 0.5, y: 0.5 })));
    assert_eq!(shape.label, None, "a null struct field is absent");
    assert_eq!(shape.anchor.which, ShapeAnchorWhich::Center);
}

#[test]
fn constants_are_the_schemas() {
    assert_eq!(ANSWER, 42);
    assert_eq!(GREETING, "hello, \"world\"");
    assert_eq!(ORIGIN(), Point { x: 1.5, y: -2.0 });
}

#[test]
fn converts_to_and_from_capnpc_readers_and_builders() {
    use polyhost_tests::features_capnp::shape;
    // Built with capnpc's builder, read as an owned value.
    let mut message = capnp::message::Builder::new_default();
    {
        let mut b = message.init_root::<shape::Builder<'_>>();
        b.set_name("tri");
        let mut poly = b.reborrow().init_polygon(2);
        poly.reborrow().get(1).set_x(3.0);
        b.reborrow()
            .get_style()
            .set_color(polyhost_tests::features_capnp::Color::Blueish);
    }
    let reader = message.get_root_as_reader::<shape::Reader<'_>>().unwrap();
    let owned = <Shape as polyhost::Struct>::read(reader, &polyhost::NoCaps).unwrap();
    assert_eq!(owned.name, "tri");
    assert_eq!(
        owned.which,
        ShapeWhich::Polygon(vec![Point { x: 0.0, y: 0.0 }, Point { x: 3.0, y: 0.0 }])
    );
    assert_eq!(owned.style.color, Color::Blueish);
    assert_eq!(
        owned.style.width, 1.0,
        "unset fields read as schema defaults"
    );

    // Written into capnpc's builder, read with capnpc's reader.
    let mut out = capnp::message::Builder::new_default();
    polyhost::Struct::write(
        &owned,
        out.init_root::<shape::Builder<'_>>(),
        &polyhost::NoCaps,
    )
    .unwrap();
    let r = out.get_root_as_reader::<shape::Reader<'_>>().unwrap();
    assert_eq!(r.get_name().unwrap().to_str().unwrap(), "tri");
    match r.which().unwrap() {
        shape::Polygon(list) => assert_eq!(list.unwrap().get(1).get_x(), 3.0),
        _ => panic!("the union member survives"),
    }
}

#[test]
fn capability_fields_need_a_connection() {
    // A null capability is `None` and needs no connection; a set one is refused by
    // the connection-less bridge with an error that says why.
    let holder = Holder::default();
    assert!(holder.counter.is_none());
    let back = roundtrip(&holder);
    assert!(back.counters.is_empty());
}

#[test]
fn unknown_enum_values_are_errors_not_panics() {
    // Enumerant 7 is not in the schema; a newer peer could send it.
    let mut bytes = polyhost::codec::to_bytes(&Primitives::default()).unwrap();
    // Framing header (8 bytes), root pointer (8), then the data section; the wire
    // holds the value XOR the default (green = 1).
    let at = 16 + 2 * polyhost_tests_color_offset();
    bytes[at..at + 2].copy_from_slice(&(7u16 ^ 1).to_le_bytes());
    let err = polyhost::codec::from_bytes::<Primitives>(&bytes).unwrap_err();
    assert!(err.to_string().contains("not in this schema"), "{err}");
}

/// Offset (in u16 units) of `Primitives.color`, from the IR.
fn polyhost_tests_color_offset() -> usize {
    let ir = polyhost_codegen::Builder::new()
        .schema(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/features.capnp"
        ))
        .emit_rerun_if_changed(false)
        .ir()
        .unwrap();
    let s = ir.files[0]
        .structs
        .iter()
        .find(|s| s.name.scope == ["Primitives"])
        .unwrap();
    let f = s.fields.iter().find(|f| f.name == "color").unwrap();
    match &f.kind {
        polyhost_codegen::ir::FieldKind::Slot { offset, .. } => *offset as usize,
        _ => unreachable!(),
    }
}

/// The owned types' JSON Schema (schemars) is the JSON mapping's: every field and
/// union member by its schema name, and what the types serialise validates.
#[test]
fn json_schemas_describe_the_owned_types() {
    let schema = serde_json::to_value(schemars::schema_for!(Shape)).unwrap();
    assert_eq!(schema["$ref"], "#/$defs/Shape", "{schema}");
    let props = &schema["$defs"]["Shape"]["properties"];
    for field in [
        "name",
        "style",
        "anchor",
        "origin",
        "label",
        "circle",
        "rectangle",
        "polygon",
        "empty",
    ] {
        assert!(props.get(field).is_some(), "{field} missing from {schema}");
    }
    let validator = jsonschema::validator_for(&schema).unwrap();
    let value = serde_json::to_value(Shape::default()).unwrap();
    assert!(
        validator.is_valid(&value),
        "{value} does not match {schema}"
    );
    let json = serde_json::to_string(&Point { x: 1.0, y: 2.0 }).unwrap();
    assert_eq!(json, r#"{"x":1.0,"y":2.0}"#);
}

fn chain(value: i32, next: Option<Chain>) -> Chain {
    Chain {
        value,
        next: next.map(Box::new),
        branches: vec![],
    }
}

/// Recursive and mutually recursive structs: the owned types used to have infinite
/// size (E0072); a null struct field is `None`, present is `Some`, both round-trip.
#[test]
fn recursive_structs_hold_absent_fields_as_none() {
    assert_eq!(Chain::default().next, None);
    let deep = Chain {
        value: 1,
        next: Some(Box::new(chain(2, Some(chain(3, None))))),
        branches: vec![chain(4, Some(chain(5, None))), chain(6, None)],
    };
    let back = roundtrip(&deep);
    assert_eq!(back.next.unwrap().next.unwrap().next, None);
    // present but empty is not absent
    assert_eq!(
        roundtrip(&chain(0, Some(chain(0, None)))).next,
        Some(Box::new(chain(0, None)))
    );
    let ping = Ping {
        pong: Some(Box::new(Pong {
            ping: PongPing {
                back: Some(Box::new(Ping::default())),
            },
        })),
        which: PingWhich::Again(Some(Box::new(Ping {
            pong: None,
            which: PingWhich::Again(None),
        }))),
    };
    roundtrip(&ping);
    assert_eq!(
        Ping::default(),
        Ping {
            pong: None,
            which: PingWhich::Stop
        }
    );
    assert_eq!(CHAINED(), chain(1, Some(chain(2, Some(chain(3, None))))));
}

/// Structs and groups whose fields are all Void, and an empty struct.
#[test]
fn all_void_and_empty_structs_roundtrip() {
    roundtrip(&Silent {
        a: (),
        quiet: SilentQuiet { b: () },
        hush: SilentHush {
            which: SilentHushWhich::D,
        },
    });
    roundtrip(&Nothing {});
}

/// One framed message of `words`.
fn framed(words: &[u64]) -> Vec<u8> {
    let mut out = 0u32.to_le_bytes().to_vec();
    out.extend_from_slice(&(words.len() as u32).to_le_bytes());
    out.extend(words.iter().flat_map(|w| w.to_le_bytes()));
    out
}

/// A `WorkerInfo` (1 data word, 4 pointers) whose `fingerprints` (pointer 3) is a
/// list of `count` zero-sized structs: 7 words on the wire.
fn zero_sized_fingerprints(count: u64) -> Vec<u8> {
    let root = 1u64 << 32 | 4u64 << 48; // struct pointer, offset 0: 1 data word, 4 pointers
    let list = 1 | 7u64 << 32; // list pointer, offset 0, inline composite, 0 words
    let tag = count << 2; // struct-shaped tag: `count` elements of 0 data words, 0 pointers
    framed(&[root, 0, 0, 0, 0, list, tag])
}

/// The traversal limit charges a zero-sized list element one word, so a 56-byte
/// message could make owned decoding build millions of values (about 400 MB for
/// `WorkerInfo.fingerprints`); a decode may build 64 Ki of them.
#[test]
fn zero_sized_list_elements_have_a_budget_per_decode() {
    use polyhost::polyhost::WorkerInfo;
    let started = std::time::Instant::now();
    let err = from_bytes::<WorkerInfo>(&zero_sized_fingerprints(4 << 20)).unwrap_err();
    assert!(
        err.to_string().contains("zero-sized struct element limit"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let info = from_bytes::<WorkerInfo>(&zero_sized_fingerprints(1000)).unwrap();
    assert_eq!(info.fingerprints.len(), 1000);
    assert_eq!(polyhost::codec::ZERO_SIZED_STRUCTS, 64 * 1024);
}

/// A `List(Void)` element counts 1/16 of a zero-sized struct (the guests decode it to a
/// reference), so a value holds at most 1 Mi of them, in Rust as in the guests.
#[test]
fn void_list_elements_count_a_sixteenth() {
    use polyhost_tests::conformance::conformance::Everything;
    let most = Everything {
        voids: vec![(); 1 << 20],
        ..Everything::default()
    };
    assert_eq!(
        from_bytes::<Everything>(&to_bytes(&most).unwrap())
            .unwrap()
            .voids
            .len(),
        1 << 20
    );
    let over = Everything {
        voids: vec![(); (1 << 20) + 1],
        ..Everything::default()
    };
    let err = from_bytes::<Everything>(&to_bytes(&over).unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("zero-sized struct element limit"),
        "{err}"
    );
}
