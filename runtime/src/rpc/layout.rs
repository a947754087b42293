//! Struct pointers read and initialised as capnpc's typed readers and builders, for
//! messages whose pointers are untyped (`AnyPointer` params and results).

use capnp::private::layout::{PointerBuilder, PointerReader};
use capnp::traits::{FromPointerBuilder, FromPointerReader, HasStructSize, OwnedStruct};

/// A struct pointer read as capnpc's typed reader `O::Reader`.
pub(crate) struct StructIn<'a, O: OwnedStruct>(pub O::Reader<'a>);

impl<'a, O: OwnedStruct> FromPointerReader<'a> for StructIn<'a, O> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(StructIn(reader.get_struct(default)?.into()))
    }
}

/// A struct pointer initialised as capnpc's typed builder `O::Builder`.
pub(crate) struct StructOut<'a, O: OwnedStruct>(pub O::Builder<'a>);

impl<'a, O: OwnedStruct> FromPointerBuilder<'a> for StructOut<'a, O> {
    fn init_pointer(builder: PointerBuilder<'a>, _size: u32) -> Self {
        StructOut(
            builder
                .init_struct(<O::Builder<'a> as HasStructSize>::STRUCT_SIZE)
                .into(),
        )
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(StructOut(
            builder
                .get_struct(<O::Builder<'a> as HasStructSize>::STRUCT_SIZE, default)?
                .into(),
        ))
    }
}
