//! Untyped access to messages at capnp's layout level: a struct read or built with the
//! size the schema model says, and the marker that lets `struct_list` hold such
//! structs. The dynamic path has no capnpc-generated types to name.

use capnp::private::layout::{
    PointerBuilder, PointerReader, StructBuilder, StructReader, StructSize,
};
use capnp::traits::{FromPointerBuilder, FromPointerReader};

/// A struct pointer read without a generated type.
pub(crate) struct StructIn<'a>(pub StructReader<'a>);

impl<'a> FromPointerReader<'a> for StructIn<'a> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(StructIn(reader.get_struct(default)?))
    }
}

/// The pointer itself, to initialise at the layout level.
pub(crate) struct PointerOut<'a>(pub PointerBuilder<'a>);

impl<'a> FromPointerBuilder<'a> for PointerOut<'a> {
    fn init_pointer(builder: PointerBuilder<'a>, _size: u32) -> Self {
        PointerOut(builder)
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(PointerOut(builder))
    }
}

/// A struct type known only at run time, as a `struct_list` element.
pub(crate) struct AnyStruct;

impl capnp::introspect::Introspect for AnyStruct {
    fn introspect() -> capnp::introspect::Type {
        capnp::introspect::TypeVariant::AnyPointer.into()
    }
}

pub(crate) struct AnyStructReader<'a>(pub StructReader<'a>);
pub(crate) struct AnyStructBuilder<'a>(pub StructBuilder<'a>);

impl<'a> From<StructReader<'a>> for AnyStructReader<'a> {
    fn from(r: StructReader<'a>) -> Self {
        AnyStructReader(r)
    }
}

impl<'a> From<StructBuilder<'a>> for AnyStructBuilder<'a> {
    fn from(b: StructBuilder<'a>) -> Self {
        AnyStructBuilder(b)
    }
}

impl<'a> capnp::traits::IntoInternalStructReader<'a> for AnyStructReader<'a> {
    fn into_internal_struct_reader(self) -> StructReader<'a> {
        self.0
    }
}

impl capnp::traits::SetterInput<AnyStruct> for AnyStructReader<'_> {
    fn set_pointer_builder(
        mut builder: PointerBuilder<'_>,
        input: Self,
        canonicalize: bool,
    ) -> capnp::Result<()> {
        builder.set_struct(&input.0, canonicalize)
    }
}

impl capnp::traits::HasStructSize for AnyStructBuilder<'_> {
    /// Never used to allocate: lists of these are initialised with the model's size
    /// first, and a smaller size asked for later does not resize them.
    const STRUCT_SIZE: StructSize = StructSize {
        data: 0,
        pointers: 0,
    };
}

impl capnp::traits::OwnedStruct for AnyStruct {
    type Reader<'a> = AnyStructReader<'a>;
    type Builder<'a> = AnyStructBuilder<'a>;
}
