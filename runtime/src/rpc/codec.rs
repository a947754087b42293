//! Owned values <-> capnp messages: the traits generated Rust bindings implement and
//! call.
//!
//! Every generated struct implements [`Struct`] (read from / write to capnpc's typed
//! reader and builder). Fields of list type go through [`FromReader`] and [`IntoBuilder`],
//! whose impls recurse over element types at compile time, so a `List(List(Point))`
//! field needs nothing special in the templates. Capabilities inside values cross
//! through a [`CapBridge`], which the RPC layer provides; plain values use [`NoCaps`].
//!
//! Elements of a list of zero-sized structs (sent with no data and no pointers) take
//! no bytes on the wire, and capnp's traversal limit charges them one word each, so a
//! tiny message could claim 8 Mi of them and make owned decoding build 8 Mi values.
//! Every decode therefore has a budget of [`ZERO_SIZED_STRUCTS`] of them
//! ([`decoding`]); a list that overdraws it fails the decode. A `List(Void)` element
//! counts 1/16 (it is a reference in the guests; a `Vec<()>` holds no memory here, but
//! the limits agree across languages).

use capnp::traits::{Owned, OwnedStruct};
use capnp::{data, data_list, enum_list, list_list, primitive_list, struct_list, text, text_list};

use crate::rpc::capability::Capability;
/// The capability traits generated code implements, also at the crate root.
pub use crate::rpc::capability::{CapBridge, CapabilityHandle};
use crate::rpc::layout::{StructIn, StructOut};

/// The bridge for messages without a connection: capabilities are refused with an
/// error saying so.
pub struct NoCaps;

impl CapBridge for NoCaps {
    fn import(
        &self,
        _: Box<dyn capnp::private::capability::ClientHook>,
    ) -> capnp::Result<Capability> {
        Err(capnp::Error::failed(
            "this message holds a capability, which needs a live connection to read".into(),
        ))
    }
    fn export(
        &self,
        _: &Capability,
    ) -> capnp::Result<Box<dyn capnp::private::capability::ClientHook>> {
        Err(capnp::Error::failed(
            "a capability can only be written into a message sent over a live connection".into(),
        ))
    }
}

/// An owned Rust value of a capnp struct type.
pub trait Struct: Sized {
    /// capnpc's marker type for the struct (`foo_capnp::foo::Owned`).
    type Raw: OwnedStruct + 'static;
    fn read(r: <Self::Raw as OwnedStruct>::Reader<'_>, caps: &dyn CapBridge)
        -> capnp::Result<Self>;
    fn write(
        &self,
        b: <Self::Raw as OwnedStruct>::Builder<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()>;
}

/// Zero-sized struct elements one decode may build (see the module doc); the guests
/// apply the same number per message.
pub const ZERO_SIZED_STRUCTS: u64 = 64 * 1024;

thread_local! {
    /// What the current [`decoding`] scope has left; `None` outside one.
    static ZERO_SIZED_LEFT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Runs one decode of a whole value (a message's root, a call's params or results)
/// with a fresh budget of [`ZERO_SIZED_STRUCTS`]. Outside such a scope each list
/// gets that budget on its own.
pub fn decoding<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            ZERO_SIZED_LEFT.with(|c| c.set(previous));
        }
    }
    let _restore = Restore(ZERO_SIZED_LEFT.with(|c| c.replace(Some(ZERO_SIZED_STRUCTS))));
    f()
}

/// Charges `count` zero-sized struct elements to the current decode.
fn charge_zero_sized(count: u32) -> capnp::Result<()> {
    ZERO_SIZED_LEFT.with(|c| {
        let scoped = c.get();
        let left = scoped.unwrap_or(ZERO_SIZED_STRUCTS);
        let count = u64::from(count);
        if count > left {
            return Err(capnp::Error::failed(format!(
                "zero-sized struct element limit exceeded: a list of {count} zero-sized elements \
                 with {left} of {ZERO_SIZED_STRUCTS} left for this value"
            )));
        }
        if scoped.is_some() {
            c.set(Some(left - count));
        }
        Ok(())
    })
}

/// Encodes `value` as the root of a new message (no capabilities).
pub fn to_message<T: Struct>(
    value: &T,
) -> capnp::Result<capnp::message::Builder<capnp::message::HeapAllocator>> {
    let mut message = capnp::message::Builder::new_default();
    value.write(message.init_root::<StructOut<T::Raw>>().0, &NoCaps)?;
    Ok(message)
}

/// Decodes the root of `message` (no capabilities).
pub fn from_message<T: Struct, S: capnp::message::ReaderSegments>(
    message: &capnp::message::Reader<S>,
) -> capnp::Result<T> {
    decoding(|| T::read(message.get_root::<StructIn<T::Raw>>()?.0, &NoCaps))
}

/// Encodes `value` in the standard stream framing.
pub fn to_bytes<T: Struct>(value: &T) -> capnp::Result<Vec<u8>> {
    Ok(capnp::serialize::write_message_to_words(&to_message(
        value,
    )?))
}

/// Decodes a message in the standard stream framing, with capnp's default limits.
pub fn from_bytes<T: Struct>(mut bytes: &[u8]) -> capnp::Result<T> {
    let message = capnp::serialize::read_message_from_flat_slice(&mut bytes, Default::default())?;
    from_message(&message)
}

/// The canonical encoding of `value` (one segment, no framing), as the encoding spec
/// defines it: equal values have equal bytes in every implementation.
pub fn to_canonical<T: Struct>(value: &T) -> capnp::Result<Vec<u8>> {
    let message = to_message(value)?;
    let reader = message.into_reader();
    let words = reader.canonicalize()?;
    Ok(capnp::Word::words_to_bytes(&words).to_vec())
}

/// Selects the union member `field` (its name in the schema) of the struct `b` with a
/// null pointer: an absent struct. capnpc's builders only select a struct member by
/// allocating it, which would turn `None` into a present default on the wire.
pub fn select_null_member<'a, B>(b: B, field: &str) -> capnp::Result<()>
where
    B: Into<capnp::dynamic_value::Builder<'a>>,
{
    let mut s: capnp::dynamic_struct::Builder<'a> = b.into().downcast();
    s.clear_named(field)
}

/// A value that can stand for a generic parameter (`Pair(Key, Value)`): Text, Data or
/// a struct. Capnp generics take pointer types only.
pub trait PointerValue: Sized {
    type Raw: Owned + 'static;
    /// Length to allocate before `write_value` (bytes or elements; 0 for structs).
    fn init_len(&self) -> u32;
    fn read_value(r: <Self::Raw as Owned>::Reader<'_>, caps: &dyn CapBridge)
        -> capnp::Result<Self>;
    fn write_value(
        &self,
        b: <Self::Raw as Owned>::Builder<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()>;
}

impl PointerValue for String {
    type Raw = text::Owned;
    fn init_len(&self) -> u32 {
        self.len() as u32
    }
    fn read_value(r: text::Reader<'_>, _: &dyn CapBridge) -> capnp::Result<Self> {
        Ok(r.to_str()?.to_string())
    }
    fn write_value(&self, b: text::Builder<'_>, _: &dyn CapBridge) -> capnp::Result<()> {
        b.as_bytes_mut().copy_from_slice(self.as_bytes());
        Ok(())
    }
}

impl PointerValue for Vec<u8> {
    type Raw = data::Owned;
    fn init_len(&self) -> u32 {
        self.len() as u32
    }
    fn read_value(r: data::Reader<'_>, _: &dyn CapBridge) -> capnp::Result<Self> {
        Ok(r.to_vec())
    }
    fn write_value(&self, b: data::Builder<'_>, _: &dyn CapBridge) -> capnp::Result<()> {
        b.copy_from_slice(self);
        Ok(())
    }
}

/// A generated enum's capnpc counterpart (for lists of it: `enum_list::Owned<Raw>`).
pub trait OwnedEnum {
    type Raw;
}

/// What capnpc's getter of an AnyPointer field returns: the reader, or a `Result` of it
/// for a field whose type is a generic method's parameter (`echo @0 [T] (v :T)`).
pub trait AnyPointerField<'a> {
    fn into_reader(self) -> capnp::Result<capnp::any_pointer::Reader<'a>>;
}

impl<'a> AnyPointerField<'a> for capnp::any_pointer::Reader<'a> {
    fn into_reader(self) -> capnp::Result<capnp::any_pointer::Reader<'a>> {
        Ok(self)
    }
}

impl<'a> AnyPointerField<'a> for capnp::Result<capnp::any_pointer::Reader<'a>> {
    fn into_reader(self) -> capnp::Result<capnp::any_pointer::Reader<'a>> {
        self
    }
}

impl AnyValue {
    /// Reads an AnyPointer field, whichever form its getter returns.
    pub fn read_field<'a>(r: impl AnyPointerField<'a>) -> capnp::Result<Self> {
        Self::read(r.into_reader()?)
    }
}

/// `AnyPointer` as a generic argument (a generic used without parameters).
impl PointerValue for AnyValue {
    type Raw = capnp::any_pointer::Owned;
    fn init_len(&self) -> u32 {
        0
    }
    fn read_value(r: capnp::any_pointer::Reader<'_>, _: &dyn CapBridge) -> capnp::Result<Self> {
        AnyValue::read(r)
    }
    fn write_value(
        &self,
        b: capnp::any_pointer::Builder<'_>,
        _: &dyn CapBridge,
    ) -> capnp::Result<()> {
        self.write(b)
    }
}

impl<T: Struct> PointerValue for T
where
    T::Raw: Owned,
    for<'a> <T::Raw as Owned>::Reader<'a>: Into<<T::Raw as OwnedStruct>::Reader<'a>>,
    for<'a> <T::Raw as Owned>::Builder<'a>: Into<<T::Raw as OwnedStruct>::Builder<'a>>,
{
    type Raw = T::Raw;
    fn init_len(&self) -> u32 {
        0
    }
    fn read_value(r: <T::Raw as Owned>::Reader<'_>, caps: &dyn CapBridge) -> capnp::Result<Self> {
        T::read(r.into(), caps)
    }
    fn write_value(
        &self,
        b: <T::Raw as Owned>::Builder<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()> {
        self.write(b.into(), caps)
    }
}

/// Converts a capnpc reader (of a pointer field or list element) into an owned value.
pub trait FromReader<R>: Sized {
    fn from_reader(r: R, caps: &dyn CapBridge) -> capnp::Result<Self>;
}

/// Writes an owned list into a capnpc list builder already allocated with `len()`
/// elements.
pub trait IntoBuilder<B> {
    fn len(&self) -> u32;
    fn into_builder(&self, b: B, caps: &dyn CapBridge) -> capnp::Result<()>;
}

impl FromReader<text::Reader<'_>> for String {
    fn from_reader(r: text::Reader<'_>, _: &dyn CapBridge) -> capnp::Result<Self> {
        Ok(r.to_str()?.to_string())
    }
}

impl FromReader<data::Reader<'_>> for Vec<u8> {
    fn from_reader(r: data::Reader<'_>, _: &dyn CapBridge) -> capnp::Result<Self> {
        Ok(r.to_vec())
    }
}

impl<T: capnp::private::layout::PrimitiveElement + Copy> FromReader<primitive_list::Reader<'_, T>>
    for Vec<T>
{
    fn from_reader(r: primitive_list::Reader<'_, T>, _: &dyn CapBridge) -> capnp::Result<Self> {
        if std::mem::size_of::<T>() == 0 {
            // List(Void): free here, a reference each in the guests, which count 1/16
            // of a zero-sized struct; so does this side, to accept what they accept
            charge_zero_sized(r.len().div_ceil(16))?;
        }
        Ok(r.iter().collect())
    }
}

impl<T: capnp::private::layout::PrimitiveElement + Copy> IntoBuilder<primitive_list::Builder<'_, T>>
    for Vec<T>
{
    fn len(&self) -> u32 {
        self.len() as u32
    }
    fn into_builder(
        &self,
        mut b: primitive_list::Builder<'_, T>,
        _: &dyn CapBridge,
    ) -> capnp::Result<()> {
        for (i, v) in self.iter().enumerate() {
            b.set(i as u32, *v);
        }
        Ok(())
    }
}

impl FromReader<text_list::Reader<'_>> for Vec<String> {
    fn from_reader(r: text_list::Reader<'_>, _: &dyn CapBridge) -> capnp::Result<Self> {
        r.iter().map(|t| Ok(t?.to_str()?.to_string())).collect()
    }
}

impl IntoBuilder<text_list::Builder<'_>> for Vec<String> {
    fn len(&self) -> u32 {
        self.len() as u32
    }
    fn into_builder(&self, mut b: text_list::Builder<'_>, _: &dyn CapBridge) -> capnp::Result<()> {
        for (i, v) in self.iter().enumerate() {
            b.set(i as u32, v.as_str());
        }
        Ok(())
    }
}

impl FromReader<data_list::Reader<'_>> for Vec<Vec<u8>> {
    fn from_reader(r: data_list::Reader<'_>, _: &dyn CapBridge) -> capnp::Result<Self> {
        r.iter().map(|d| Ok(d?.to_vec())).collect()
    }
}

impl IntoBuilder<data_list::Builder<'_>> for Vec<Vec<u8>> {
    fn len(&self) -> u32 {
        self.len() as u32
    }
    fn into_builder(&self, mut b: data_list::Builder<'_>, _: &dyn CapBridge) -> capnp::Result<()> {
        for (i, v) in self.iter().enumerate() {
            b.set(i as u32, v);
        }
        Ok(())
    }
}

impl<'a, O: OwnedStruct, T: Struct<Raw = O>> FromReader<struct_list::Reader<'a, O>> for Vec<T> {
    fn from_reader(r: struct_list::Reader<'a, O>, caps: &dyn CapBridge) -> capnp::Result<Self> {
        use capnp::traits::IntoInternalStructReader;
        // Elements all have the list's size: the first one says whether it is zero.
        if let Some(first) = r.reborrow().try_get(0) {
            if first.into_internal_struct_reader().total_size()?.word_count == 0 {
                charge_zero_sized(r.len())?;
            }
        }
        r.iter().map(|e| T::read(e, caps)).collect()
    }
}

impl<'a, O: OwnedStruct, T: Struct<Raw = O>> IntoBuilder<struct_list::Builder<'a, O>> for Vec<T> {
    fn len(&self) -> u32 {
        self.len() as u32
    }
    fn into_builder(
        &self,
        mut b: struct_list::Builder<'a, O>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()> {
        for (i, v) in self.iter().enumerate() {
            v.write(b.reborrow().get(i as u32), caps)?;
        }
        Ok(())
    }
}

impl<E, T> FromReader<enum_list::Reader<'_, E>> for Vec<T>
where
    E: TryFrom<u16, Error = capnp::NotInSchema> + Copy,
    T: From<E>,
{
    fn from_reader(r: enum_list::Reader<'_, E>, _: &dyn CapBridge) -> capnp::Result<Self> {
        r.iter().map(|e| Ok(T::from(e?))).collect()
    }
}

impl<E, T> IntoBuilder<enum_list::Builder<'_, E>> for Vec<T>
where
    E: TryFrom<u16, Error = capnp::NotInSchema> + Into<u16> + Copy,
    T: Into<E> + Copy,
{
    fn len(&self) -> u32 {
        self.len() as u32
    }
    fn into_builder(
        &self,
        mut b: enum_list::Builder<'_, E>,
        _: &dyn CapBridge,
    ) -> capnp::Result<()> {
        for (i, v) in self.iter().enumerate() {
            b.set(i as u32, (*v).into());
        }
        Ok(())
    }
}

impl<'a, O: Owned, T> FromReader<list_list::Reader<'a, O>> for Vec<T>
where
    T: FromReader<O::Reader<'a>>,
{
    fn from_reader(r: list_list::Reader<'a, O>, caps: &dyn CapBridge) -> capnp::Result<Self> {
        r.iter().map(|e| T::from_reader(e?, caps)).collect()
    }
}

impl<'a, O: Owned, T: ListElement<O>> IntoBuilder<list_list::Builder<'a, O>> for Vec<T> {
    fn len(&self) -> u32 {
        self.len() as u32
    }
    fn into_builder(
        &self,
        mut b: list_list::Builder<'a, O>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()> {
        for (i, v) in self.iter().enumerate() {
            v.write_element(b.reborrow().init(i as u32, v.element_len()), caps)?;
        }
        Ok(())
    }
}

/// An owned list that can be an element of a list of lists, whose raw element type is
/// `O` (`primitive_list::Owned<i16>`, `struct_list::Owned<point::Owned>`, ...).
pub trait ListElement<O: Owned> {
    fn element_len(&self) -> u32;
    fn write_element(&self, b: O::Builder<'_>, caps: &dyn CapBridge) -> capnp::Result<()>;
}

macro_rules! list_element {
    ([$($generics:tt)*] $owned:ty, $element:ty) => {
        impl<$($generics)*> ListElement<$owned> for Vec<$element> {
            fn element_len(&self) -> u32 {
                self.len() as u32
            }
            fn write_element(&self, b: <$owned as Owned>::Builder<'_>, caps: &dyn CapBridge) -> capnp::Result<()> {
                self.into_builder(b, caps)
            }
        }
    };
}

list_element!([T: capnp::private::layout::PrimitiveElement + capnp::introspect::Introspect + Copy + 'static] primitive_list::Owned<T>, T);
list_element!([] text_list::Owned, String);
list_element!([] data_list::Owned, Vec<u8>);
list_element!([O: OwnedStruct + 'static, T: Struct<Raw = O>] struct_list::Owned<O>, T);
list_element!([O: Owned, T: ListElement<O>] list_list::Owned<O>, T);
list_element!([E: TryFrom<u16, Error = capnp::NotInSchema> + Into<u16> + capnp::introspect::Introspect + Copy + 'static, T: Into<E> + Copy] enum_list::Owned<E>, T);

impl<'a, C, T> FromReader<capnp::capability_list::Reader<'a, C>> for Vec<T>
where
    C: capnp::capability::FromClientHook,
    T: CapabilityHandle,
{
    fn from_reader(
        r: capnp::capability_list::Reader<'a, C>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<Self> {
        r.iter()
            .map(|c| Ok(T::from_capability(caps.import(c?.into_client_hook())?)))
            .collect()
    }
}

impl<'a, C, T> IntoBuilder<capnp::capability_list::Builder<'a, C>> for Vec<T>
where
    C: capnp::capability::FromClientHook,
    T: CapabilityHandle,
{
    fn len(&self) -> u32 {
        self.len() as u32
    }
    fn into_builder(
        &self,
        mut b: capnp::capability_list::Builder<'a, C>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()> {
        for (i, v) in self.iter().enumerate() {
            b.set(i as u32, caps.export(v.capability())?);
        }
        Ok(())
    }
}

/// Reads a capability field: `read_capability(r.get_counter()?, caps)`.
pub fn read_capability<C: capnp::capability::FromClientHook, T: CapabilityHandle>(
    client: C,
    caps: &dyn CapBridge,
) -> capnp::Result<T> {
    Ok(T::from_capability(caps.import(client.into_client_hook())?))
}

/// Writes a capability field: `b.set_counter(write_capability(&self.counter, caps)?)`.
pub fn write_capability<C: capnp::capability::FromClientHook, T: CapabilityHandle>(
    handle: &T,
    caps: &dyn CapBridge,
) -> capnp::Result<C> {
    Ok(C::new(caps.export(handle.capability())?))
}

/// Reads a capability field that may be null (capnp capability pointers are
/// nullable): `None` for a null pointer.
pub fn read_optional_capability<C: capnp::capability::FromClientHook, T: CapabilityHandle>(
    client: capnp::Result<C>,
    caps: &dyn CapBridge,
) -> capnp::Result<Option<T>> {
    match client {
        Ok(c) => Ok(Some(T::from_capability(caps.import(c.into_client_hook())?))),
        Err(e) if e.kind == capnp::ErrorKind::MessageContainsNullCapabilityPointer => Ok(None),
        Err(e) => Err(e),
    }
}

/// The value every field of a struct takes in an all-zero message: the schema's
/// defaults. Generated `Default` impls call this.
pub fn default_value<T: Struct>() -> T {
    // One segment holding a null root pointer: every field reads as its default.
    let words = [capnp::word(0, 0, 0, 0, 0, 0, 0, 0)];
    let segments: &[&[u8]] = &[capnp::Word::words_to_bytes(&words)];
    let message = capnp::message::Reader::new(
        capnp::message::SegmentArray::new(segments),
        Default::default(),
    );
    from_message(&message).expect("a null root decodes to the schema's defaults")
}

/// Decodes a list constant that the generator embedded as a canonical message in hex;
/// `O` is capnp's type of the list (`primitive_list::Owned<u16>`, ...).
pub fn list_from_canonical_hex<O, T>(hex: &str) -> capnp::Result<T>
where
    O: Owned,
    T: for<'a> FromReader<O::Reader<'a>>,
{
    let words = aligned(&hex_bytes(hex)?);
    let segments: &[&[u8]] = &[capnp::Word::words_to_bytes(&words)];
    let message = capnp::message::Reader::new(
        capnp::message::SegmentArray::new(segments),
        Default::default(),
    );
    decoding(|| T::from_reader(message.get_root::<O::Reader<'_>>()?, &NoCaps))
}

fn hex_bytes(hex: &str) -> capnp::Result<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| capnp::Error::failed(e.to_string()))
        })
        .collect()
}

/// Decodes a constant that the generator embedded as a canonical message in hex.
pub fn from_canonical_hex<T: Struct>(hex: &str) -> capnp::Result<T> {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| capnp::Error::failed(e.to_string()))
        })
        .collect::<capnp::Result<_>>()?;
    let words = aligned(&bytes);
    let segments: &[&[u8]] = &[capnp::Word::words_to_bytes(&words)];
    let message = capnp::message::Reader::new(
        capnp::message::SegmentArray::new(segments),
        Default::default(),
    );
    from_message(&message)
}

/// The owned form of an `AnyPointer` field: the pointed-to value as a canonical
/// message (root pointer first), so it survives leaving the message it came from.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct AnyValue {
    /// Canonical single-segment message; empty for a null pointer.
    pub canonical: Vec<u8>,
}

impl AnyValue {
    pub fn is_null(&self) -> bool {
        self.canonical.is_empty()
    }

    pub fn read(r: capnp::any_pointer::Reader<'_>) -> capnp::Result<Self> {
        if r.is_null() {
            return Ok(AnyValue::default());
        }
        // set_root_canonical needs the whole value in the first segment (capnp panics
        // when it spills into a second one), so the segment is sized to the value: a
        // worker's AnyPointer over 8 KiB used to panic the host here.
        let words = r.target_size()?.word_count + 1;
        let words = u32::try_from(words)
            .ok()
            .filter(|w| *w <= 1 << 29)
            .ok_or_else(|| {
                capnp::Error::failed(format!(
                    "an AnyPointer value of {words} words is too large to hold"
                ))
            })?;
        let mut message = capnp::message::Builder::new(
            capnp::message::HeapAllocator::new().first_segment_words(words),
        );
        message.set_root_canonical(r)?;
        let segments = message.get_segments_for_output();
        Ok(AnyValue {
            canonical: segments[0].to_vec(),
        })
    }

    pub fn write(&self, mut b: capnp::any_pointer::Builder<'_>) -> capnp::Result<()> {
        if self.is_null() {
            b.clear();
            return Ok(());
        }
        let words = aligned(&self.canonical);
        let segments: &[&[u8]] = &[capnp::Word::words_to_bytes(&words)];
        let message = capnp::message::Reader::new(
            capnp::message::SegmentArray::new(segments),
            Default::default(),
        );
        let root: capnp::any_pointer::Reader<'_> = message.get_root()?;
        b.set_as(root)
    }

    /// Reads the value as `T` (a struct type).
    pub fn get<T: Struct>(&self) -> capnp::Result<T> {
        let words = aligned(&self.canonical);
        let segments: &[&[u8]] = &[capnp::Word::words_to_bytes(&words)];
        let message = capnp::message::Reader::new(
            capnp::message::SegmentArray::new(segments),
            Default::default(),
        );
        from_message(&message)
    }

    /// Stores `value` (a struct).
    pub fn from_struct<T: Struct>(value: &T) -> capnp::Result<Self> {
        Ok(AnyValue {
            canonical: to_canonical(value)?,
        })
    }
}

/// Copies message bytes into word-aligned storage (capnp reads words in place).
fn aligned(bytes: &[u8]) -> Vec<capnp::Word> {
    let mut words = capnp::Word::allocate_zeroed_vec(bytes.len().div_ceil(8));
    capnp::Word::words_to_bytes_mut(&mut words)[..bytes.len()].copy_from_slice(bytes);
    words
}

/// Reads an enum field, turning an enumerant this build does not know into an error
/// that names the value.
pub fn read_enum<E, T: From<E>>(value: Result<E, capnp::NotInSchema>) -> capnp::Result<T> {
    value.map(T::from).map_err(|e| {
        capnp::Error::failed(format!(
            "enum value not in this schema: {e}; regenerate the bindings"
        ))
    })
}
