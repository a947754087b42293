//! The entry point of dynamic calls: [`Pool::call_json`]. Params are validated against
//! the method's JSON Schema and encoded before anything is sent; the call then takes
//! the pool's one call path (`PoolInner::route`: deadline, session, retry of
//! `$idempotent`, metrics, span) as an `OutgoingCall` like a typed call's. Results come
//! back as JSON; a method with a `Sink(T)` param returns its items as a stream of JSON
//! values.

use std::any::Any;
use std::sync::Arc;

use futures::FutureExt;
use serde_json::Value;

use crate::error::CallError;
use crate::json::model::{FieldKind, MethodSchema, Schema};
use crate::json::raw::PointerOut;
use crate::json::{JsonCallError, JsonReply};
use crate::pool::router::PoolCap;
use crate::pool::running::Pool;
use crate::rpc::capability::{CallOptions, Capability, CapabilityHandle, OutgoingCall};
use crate::rpc::stream::ItemStream;

impl Pool {
    /// Calls the `$worker` method `Interface.method` of the schemas this pool's
    /// bindings embed (`PoolBuilder::bindings`) with JSON params, and returns its
    /// results as JSON (see the crate README, "Dynamic calls and JSON"). Invalid params
    /// are refused with every mismatch and nothing is sent.
    pub async fn call_json(
        &self,
        method: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<JsonReply, JsonCallError> {
        let schema = self.json_schema_of(method)?;
        let m = schema.method(method)?;
        self.call_json_method(&schema, m, params, options).await
    }

    /// The loaded schema, of this pool's bindings, that declares `method`.
    fn json_schema_of(&self, method: &str) -> Result<Arc<Schema>, JsonCallError> {
        let bindings: Vec<_> = (self.inner.config.bindings.iter())
            .filter(|b| !b.schema_request.is_empty())
            .copied()
            .collect();
        if bindings.is_empty() {
            return Err(JsonCallError::NoBindings {
                method: method.into(),
            });
        }
        let mut first = None;
        for b in &bindings {
            let schema = Schema::embedded(b.schema_request)?;
            if schema.method(method).is_ok() {
                return Ok(schema);
            }
            first.get_or_insert(schema);
        }
        // None declares it: the first one's error names the methods it has.
        let schema = first.expect("bindings is not empty");
        schema.method(method)?;
        Ok(schema)
    }

    /// Calls `method` of `schema` (a schema loaded at run time, as the command line
    /// does) with JSON params; see [`Pool::call_json`].
    pub async fn call_json_method(
        &self,
        schema: &Arc<Schema>,
        method: &MethodSchema,
        params: Value,
        options: CallOptions,
    ) -> Result<JsonReply, JsonCallError> {
        let name = method.name();
        crate::json::validate::check(schema, method.params, &params).map_err(|errors| {
            JsonCallError::Invalid {
                method: name.into(),
                errors,
            }
        })?;
        let mut message = capnp::message::Builder::new_default();
        crate::json::encode::struct_into(schema, method.params, &params, message.init_root())
            .map_err(|source| JsonCallError::Encode {
                method: name.into(),
                source,
            })?;
        let encoded = Arc::new(capnp::serialize::write_message_to_words(&message));
        let cap = Capability::new(Arc::new(PoolCap {
            inner: self.inner.clone(),
            interface_id: method.method.interface_id,
            name,
        }));
        let call = OutgoingCall::to(method.method, options);
        match &method.sink {
            None => {
                let (schema, results) = (schema.clone(), method.results);
                let mut call =
                    call.write_with(write_params(encoded, method.params, schema.clone(), None));
                call.read_results = Arc::new(move |r, _| {
                    let decoded = crate::json::decode::struct_at(&schema, results, r);
                    Ok(Box::new(decoded) as Box<dyn Any + Send>)
                });
                let out = cap.hook().call(call).await?;
                let decoded = out
                    .downcast::<Result<Value, crate::json::decode::DecodeError>>()
                    .map_err(|_| CallError::Protocol {
                        message: format!("{name}: the results were not read as JSON"),
                    })?;
                decoded
                    .map(JsonReply::Value)
                    .map_err(|source| JsonCallError::Decode {
                        method: name.into(),
                        source,
                    })
            }
            Some((field, item)) => {
                let sink_field = sink_pointer(schema, method.params, field);
                let (schema, item) = (schema.clone(), item.clone());
                let read_schema = schema.clone();
                let read = Arc::new(
                    move |list: capnp::any_pointer::Reader<'_>,
                          _: &dyn crate::rpc::capability::CapBridge| {
                        crate::json::decode::list_at(&read_schema, &item, list)
                            .map_err(|e| capnp::Error::failed(e.to_string()))
                    },
                );
                let params_id = method.params;
                let stream = ItemStream::open_reading(&cap.clone(), read, move |sink| {
                    let call = call.write_with(write_params(
                        encoded,
                        params_id,
                        schema,
                        sink_field.map(|f| (f, sink.capability().clone())),
                    ));
                    cap.hook().call(call).map(|r| r.map(|_| ()))
                });
                Ok(JsonReply::Stream(stream))
            }
        }
    }
}

/// The pointer index of the `Sink(T)` field `field` of params struct `id`.
fn sink_pointer(schema: &Schema, id: u64, field: &str) -> Option<u32> {
    schema.structs.get(&id).and_then(|s| {
        s.fields.iter().find_map(|f| match &f.kind {
            FieldKind::Slot { offset, .. } if f.name == field => Some(*offset),
            _ => None,
        })
    })
}

/// Copies the params encoded before the call into the request (again, for a retry),
/// and sets the sink, if any.
fn write_params(
    encoded: Arc<Vec<u8>>,
    params: u64,
    schema: Arc<Schema>,
    sink: Option<(u32, Capability)>,
) -> crate::rpc::capability::WriteParams {
    Arc::new(move |mut b, caps| {
        let message = capnp::serialize::read_message(&mut &encoded[..], Default::default())?;
        let root: capnp::any_pointer::Reader<'_> = message.get_root()?;
        b.reborrow().set_as::<capnp::any_pointer::Owned>(root)?;
        if let Some((offset, cap)) = &sink {
            let size = schema.struct_(params)?.size();
            let s = b.get_as::<PointerOut<'_>>()?.0.get_struct(size, None)?;
            let mut pointer = s.get_pointer_field(*offset as usize);
            pointer.set_capability(caps.export(cap)?);
        }
        Ok(())
    })
}
