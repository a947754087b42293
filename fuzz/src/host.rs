//! The host codec target, run in process: the capnp framing read with the runtime's
//! reader limits (from a flat slice and from a byte stream), the message decoded into
//! owned values through polyhost's public codec (the fuzz schema's `Value`, every
//! worker-protocol struct, an `AnyValue`), and canonicalisation. A typed error is
//! fine; a panic, a decoded value that does not survive encoding and decoding again,
//! or a canonical form that is not canonical is a failure. (Hangs are caught by the
//! runner's watchdog.)

use capnp::message::ReaderOptions;
use polyhost::codec::{from_bytes, to_bytes, to_canonical, AnyValue};

use crate::fuzz::{Color, Empty, Point, Value, ValueGroup, ValueWhich};

/// The runtime's reader limits for messages from workers (`connection::Limits`):
/// 8 Mi words, nesting 64.
pub const READER_OPTIONS: ReaderOptions = ReaderOptions {
    traversal_limit_in_words: Some(8 * 1024 * 1024),
    nesting_limit: 64,
};

/// What one input did: `Ok(true)` refused with a typed error somewhere, `Ok(false)`
/// accepted everywhere, `Err(why)` a failure.
pub fn run(input: &[u8]) -> Result<bool, String> {
    let mut typed = false;
    // framing, from a slice and from a stream
    let mut slice = input;
    let message = match capnp::serialize::read_message_from_flat_slice(&mut slice, READER_OPTIONS) {
        Ok(m) => Some(m),
        Err(_) => {
            typed = true;
            None
        }
    };
    match capnp::serialize::read_message(&mut &input[..], READER_OPTIONS) {
        Ok(m) => {
            if message.is_none() {
                // the stream reader accepts trailing bytes the slice reader refuses too:
                // both must agree on the frame itself
                let _ = m.get_root::<capnp::any_pointer::Reader>();
            }
        }
        Err(_) => typed = true,
    }
    // owned values through the public codec
    typed |= check_owned::<Value>(input)?;
    typed |= check_owned::<polyhost::polyhost::WorkerInfo>(input)?;
    typed |= check_owned::<polyhost::polyhost::CallContext>(input)?;
    typed |= check_owned::<polyhost::polyhost::Failure>(input)?;
    typed |= check_owned::<polyhost::polyhost::WorkerProcessStartResults>(input)?;
    let Some(message) = message else {
        return Ok(typed);
    };
    // AnyValue: the root, canonicalised, then read as a Value
    match message
        .get_root::<capnp::any_pointer::Reader>()
        .and_then(AnyValue::read)
    {
        Ok(any) => {
            if !any.is_null() {
                check_canonical_bytes(&any.canonical)?;
            }
            if any.get::<Value>().is_err() {
                typed = true;
            }
        }
        Err(_) => typed = true,
    }
    // canonicalisation of the raw message
    match message.canonicalize() {
        Ok(words) => check_canonical_bytes(capnp::Word::words_to_bytes(&words))?,
        Err(_) => typed = true,
    }
    Ok(typed)
}

/// Decodes `input` as `T`; a decoded value must encode, decode to the same canonical
/// bytes, and canonicalise.
fn check_owned<T: polyhost::Struct>(input: &[u8]) -> Result<bool, String> {
    let value: T = match from_bytes(input) {
        Ok(v) => v,
        Err(_) => return Ok(true),
    };
    let type_name = std::any::type_name::<T>();
    let bytes = to_bytes(&value)
        .map_err(|e| format!("a decoded {type_name} does not encode again: {e}"))?;
    let back: T =
        from_bytes(&bytes).map_err(|e| format!("a re-encoded {type_name} does not decode: {e}"))?;
    let (a, b) = (to_canonical(&value), to_canonical(&back));
    match (a, b) {
        (Ok(a), Ok(b)) if a == b => Ok(false),
        (Ok(_), Ok(_)) => Err(format!(
            "a decoded {type_name} changed when encoded and decoded again"
        )),
        (Err(e), _) | (_, Err(e)) => Err(format!(
            "a decoded {type_name} cannot be canonicalised: {e}"
        )),
    }
}

/// Canonical bytes must read back as a canonical one-segment message.
fn check_canonical_bytes(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() % 8 != 0 {
        return Err(format!(
            "canonical form of {} bytes is not whole words",
            bytes.len()
        ));
    }
    let mut words = capnp::Word::allocate_zeroed_vec(bytes.len() / 8);
    capnp::Word::words_to_bytes_mut(&mut words).copy_from_slice(bytes);
    let segments: &[&[u8]] = &[capnp::Word::words_to_bytes(&words)];
    let reader = capnp::message::Reader::new(
        capnp::message::SegmentArray::new(segments),
        ReaderOptions {
            traversal_limit_in_words: None,
            nesting_limit: 64,
        },
    );
    match reader.is_canonical() {
        Ok(true) => Ok(()),
        Ok(false) => Err("a canonicalised message is not canonical".into()),
        Err(e) => Err(format!("a canonicalised message does not read: {e}")),
    }
}

fn point(x: f64, y: f64) -> Point {
    Point { x, y }
}

/// Encoded values of the fuzz schema for the corpus: every field kind set at least
/// once, recursion, a far pointer (a large value spills into a second segment), an
/// AnyValue holding a struct.
pub fn sample_values() -> capnp::Result<Vec<(&'static str, Vec<u8>)>> {
    let full = Value {
        flag: true,
        i8: -8,
        i16: -16,
        i32: -32,
        i64: i64::MIN,
        u8: 8,
        u16: 16,
        u32: 32,
        u64: u64::MAX,
        f32: 1.5,
        f64: f64::NAN,
        text: "héllo".into(),
        data: vec![0, 1, 2, 255],
        color: Color::Blue,
        bools: vec![true, false, true, true, false, false, false, true, true],
        ints: vec![1, -2, 3],
        floats: vec![0.5, f64::INFINITY],
        texts: vec!["a".into(), "".into(), "ccc".into()],
        blobs: vec![vec![1], vec![]],
        points: vec![point(1.0, 2.0), point(-1.0, -2.0)],
        colors: vec![Color::Red, Color::Green],
        nested: vec![vec![1, 2], vec![], vec![-3]],
        matrix: vec![vec![point(0.0, 0.0)], vec![]],
        voids: vec![(); 3],
        empties: vec![Empty::default(); 2],
        any: AnyValue::from_struct(&point(3.0, 4.0))?,
        child: Some(Box::new(Value {
            text: "child".into(),
            which: ValueWhich::Number(7),
            ..Default::default()
        })),
        children: vec![
            Value {
                which: ValueWhich::Name("first".into()),
                ..Default::default()
            },
            Value {
                which: ValueWhich::Point(Some(Box::new(point(5.0, 6.0)))),
                ..Default::default()
            },
        ],
        which: ValueWhich::Words(vec!["x".into(), "y".into()]),
        group: ValueGroup {
            a: 1,
            b: "group".into(),
        },
    };
    let mut chain = Value::default();
    for depth in 0..40 {
        chain = Value {
            i32: depth,
            child: Some(Box::new(chain)),
            ..Default::default()
        };
    }
    let big = Value {
        // over the first segment's 8 KiB: a second segment and a far pointer
        data: vec![0xAB; 9_000],
        texts: (0..30).map(|i| format!("text {i}")).collect(),
        ..Default::default()
    };
    Ok(vec![
        ("value-default", to_bytes(&Value::default())?),
        ("value-full", to_bytes(&full)?),
        ("value-chain-40", to_bytes(&chain)?),
        ("value-big", to_bytes(&big)?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_decode_without_errors() {
        for (name, bytes) in sample_values().unwrap() {
            assert!(check_owned::<Value>(&bytes) == Ok(false), "{name}");
        }
    }

    #[test]
    fn garbage_is_a_typed_error_not_a_failure() {
        assert_eq!(run(&[]), Ok(true));
        assert_eq!(run(&[0xFF; 24]), Ok(true));
    }
}
