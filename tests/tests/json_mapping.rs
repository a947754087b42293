//! The JSON mapping of calls by name, as the generated owned types serialise it (one
//! implementation serves both, `polyhost::json`): each rule of the README's "Dynamic
//! calls and JSON" section, and the schema model's doc comments and annotations.

use polyhost::json::{json_schema, validate, Schema};
use polyhost_tests::features::*;
use serde_json::{json, Value};

fn features() -> std::sync::Arc<Schema> {
    Schema::embedded(BINDINGS.schema_request).expect("the embedded request loads")
}

#[test]
fn integers_beyond_2_pow_53_are_strings_and_either_form_is_accepted() {
    let p = Primitives {
        i64: (1 << 53) - 1,
        u64: 1 << 53,
        ..Primitives::default()
    };
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["i64"], json!(9007199254740991i64));
    assert_eq!(v["u64"], json!("9007199254740992"));
    assert_eq!(v["big"], json!("18446744073709551615"));
    let back: Primitives =
        serde_json::from_value(json!({ "i64": "-12", "u64": 7, "big": "5" })).unwrap();
    assert_eq!((back.i64, back.u64, back.big), (-12, 7, 5));
    let e = serde_json::from_value::<Primitives>(json!({ "i8": 300 })).unwrap_err();
    assert!(e.to_string().contains("/i8"), "{e}");
    let e = serde_json::from_value::<Primitives>(json!({ "u64": "-1" })).unwrap_err();
    assert!(e.to_string().contains("/u64"), "{e}");
}

#[test]
fn data_is_padded_standard_base64_and_enums_go_by_name() {
    let v = serde_json::to_value(Primitives::default()).unwrap();
    assert_eq!(v["bytes"], json!("3q2+7w=="), "the default 0xdeadbeef");
    assert_eq!(v["color"], json!("green"));
    assert_eq!(v["notANumber"], json!("NaN"));
    assert_eq!(v["infinity"], json!("Infinity"));
    assert_eq!(v["void"], Value::Null);
    let back: Primitives =
        serde_json::from_value(json!({ "data": "AP8Q", "color": "blueish" })).unwrap();
    assert_eq!(back.data, vec![0x00, 0xff, 0x10]);
    assert_eq!(back.color, Color::Blueish);
    for bad in ["AP8", "AP8Q=", "A*8Q"] {
        let e = serde_json::from_value::<Primitives>(json!({ "data": bad })).unwrap_err();
        assert!(e.to_string().contains("base64"), "{bad}: {e}");
    }
    assert!(serde_json::from_value::<Primitives>(json!({ "color": "Green" })).is_err());
}

#[test]
fn defaults_may_be_omitted_or_given_and_unknown_fields_are_refused() {
    let omitted: Primitives = serde_json::from_value(json!({})).unwrap();
    let given: Primitives =
        serde_json::from_value(serde_json::to_value(Primitives::default()).unwrap()).unwrap();
    assert_eq!(
        format!("{omitted:?}"),
        format!("{:?}", Primitives::default())
    );
    assert_eq!(format!("{given:?}"), format!("{omitted:?}"));
    let e = serde_json::from_value::<Primitives>(json!({ "flagOnn": true })).unwrap_err();
    assert!(e.to_string().contains("unknown field `flagOnn`"), "{e}");
}

#[test]
fn a_union_is_its_one_member_and_a_group_a_nested_object() {
    let shape = Shape {
        name: "disc".into(),
        which: ShapeWhich::Circle(2.0),
        ..Shape::default()
    };
    let v = serde_json::to_value(&shape).unwrap();
    assert_eq!(v["circle"], json!(2.0));
    for other in ["rectangle", "polygon", "empty"] {
        assert!(v.get(other).is_none(), "{other} in {v}");
    }
    assert_eq!(v["style"], json!({ "color": "red", "width": 1.0 }));
    assert_eq!(v["anchor"], json!({ "center": null }));
    assert_eq!(v["label"], Value::Null, "an absent struct");
    assert_eq!(
        v["origin"],
        json!({ "x": 0.5, "y": 0.5 }),
        "a struct default"
    );
    let e = serde_json::from_value::<Shape>(json!({ "circle": 1.0, "empty": null })).unwrap_err();
    assert!(e.to_string().contains("one union"), "{e}");
    let empty: Shape = serde_json::from_value(json!({ "empty": null })).unwrap();
    assert_eq!(empty.which, ShapeWhich::Empty);
}

#[test]
fn the_model_keeps_doc_comments_and_annotations() {
    let schema = features();
    let add = schema.method("Calculator.add").unwrap();
    assert!(add.idempotent());
    assert_eq!(add.doc, "Adds two numbers.");
    assert_eq!(
        add.method.timeout_ms,
        Some(5000),
        "the interface's $timeoutMs"
    );
    let describe = schema.method("Calculator.describe").unwrap();
    assert!(!describe.idempotent());
    assert_eq!(describe.method.timeout_ms, Some(250));
    assert!(schema.method("Calculator.numbers").unwrap().sink.is_some());
    let e = schema.method("Calculator.divide").unwrap_err().to_string();
    assert!(
        e.contains("Calculator.add"),
        "names the methods there are: {e}"
    );
    assert!(
        schema.method("Logger.log").is_err(),
        "only $worker methods are called by name"
    );
}

#[test]
fn params_are_checked_against_their_schema_with_json_pointers() {
    let schema = features();
    let add = schema.method("Calculator.add").unwrap();
    assert!(validate::check(&schema, add.params, &json!({ "a": 1, "b": 2 })).is_ok());
    let errors = validate::check(&schema, add.params, &json!({ "a": "1", "c": 2 })).unwrap_err();
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert!(pointers.contains(&"/a"), "{errors:?}");
    assert!(
        pointers.contains(&""),
        "the unknown field, on the object: {errors:?}"
    );
    let describe = schema.method("Calculator.describe").unwrap();
    let doc = json_schema::document(&schema, describe.params);
    assert_eq!(doc["properties"]["shape"]["$ref"], "#/$defs/Shape");
    let ok = json!({ "shape": serde_json::to_value(Shape::default()).unwrap() });
    assert!(validate::check(&schema, describe.params, &ok).is_ok());
    let bad = json!({ "shape": { "style": { "width": "wide" } } });
    let errors = validate::check(&schema, describe.params, &bad).unwrap_err();
    assert!(
        errors.iter().any(|e| e.pointer == "/shape/style/width"),
        "{errors:?}"
    );
}

#[test]
fn generic_instantiations_map_with_their_bound_types() {
    let tagged = Tagged {
        entry: Some(Box::new(Pair {
            key: "origin".to_string(),
            value: Point { x: 1.0, y: -1.0 },
        })),
        points: None,
    };
    let v = serde_json::to_value(&tagged).unwrap();
    assert_eq!(
        v,
        json!({ "entry": { "key": "origin", "value": { "x": 1.0, "y": -1.0 } }, "points": null })
    );
    let back: Tagged = serde_json::from_value(v).unwrap();
    assert_eq!(back, tagged);
    assert_eq!(
        serde_json::to_value(Pair::<String, Point> {
            key: "origin".into(),
            value: Point { x: 1.0, y: -1.0 }
        })
        .unwrap(),
        json!({ "key": "origin", "value": { "x": 1.0, "y": -1.0 } }),
        "a generic struct on its own serialises the same"
    );
    let schema = features();
    let echo = schema.method("Calculator.echo").unwrap();
    let ok = json!({ "value": { "key": "k", "value": { "x": 1 } } });
    assert!(validate::check(&schema, echo.params, &ok).is_ok());
    let bad = json!({ "value": { "key": 5 } });
    let errors = validate::check(&schema, echo.params, &bad).unwrap_err();
    assert!(
        errors.iter().any(|e| e.pointer == "/value/key"),
        "{errors:?}"
    );
}

/// Zero-sized list elements take no bytes on the wire: a value may turn at most
/// `codec::ZERO_SIZED_STRUCTS` of them (a Void counting 1/16) into JSON, as the typed
/// decoding may build, so a small message cannot claim gigabytes of JSON.
#[test]
fn zero_sized_list_elements_are_bounded_when_decoded_to_json() {
    use polyhost_tests::conformance::conformance::Everything;
    let limit = polyhost::codec::ZERO_SIZED_STRUCTS as usize * 16;
    let within = Everything {
        voids: vec![(); limit],
        ..Everything::default()
    };
    let v = serde_json::to_value(&within).unwrap();
    assert_eq!(v["voids"].as_array().unwrap().len(), limit);
    let beyond = Everything {
        voids: vec![(); limit + 16],
        ..Everything::default()
    };
    let e = serde_json::to_value(&beyond).unwrap_err().to_string();
    assert!(e.contains("/voids") && e.contains("zero-sized"), "{e}");
}

/// A `Sink(T)` param is no part of the JSON: the call fills it and streams its items.
#[test]
fn a_sink_param_is_left_out_of_the_params() {
    let schema = features();
    let numbers = schema.method("Calculator.numbers").unwrap();
    let doc = json_schema::document(&schema, numbers.params);
    assert!(doc["properties"].get("count").is_some(), "{doc}");
    assert!(doc["properties"].get("out").is_none(), "{doc}");
    assert!(validate::check(&schema, numbers.params, &json!({ "count": 3 })).is_ok());
    assert!(validate::check(&schema, numbers.params, &json!({ "out": null })).is_err());
    let params = CalculatorNumbersParams {
        count: 3,
        out: None,
    };
    assert_eq!(
        serde_json::to_value(&params).unwrap(),
        json!({ "count": 3 })
    );
}
