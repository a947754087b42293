//! A plugin as the command line sees it: a schema file compiled at run time with the
//! embedded Cap'n Proto compiler, its `$worker` methods as tools (name, doc comment,
//! `$idempotent`, params and results JSON Schemas), and a pool of workers running the
//! plugin, called by method name with JSON. `polyhost schema` and `polyhost call` are
//! thin layers over this module; so can be any other front end (an MCP server).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polyhost::__private::capnp;
use polyhost::json::{json_schema, model::Type, Schema};
use polyhost::{
    Adapter, Bindings, CallOptions, CapBridge, Dispatch, DispatchError, GuestModules, HandlerError,
    Invocation, JsonCallError, JsonReply, Pool,
};
use serde_json::Value;

/// Why a schema could not be loaded or a plugin started.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot compile `{path}`: {source}")]
    Compile {
        path: PathBuf,
        source: Box<polyhost_codegen::CodegenError>,
    },
    #[error("`{path}`: {source}")]
    Schema {
        path: PathBuf,
        source: polyhost::json::SchemaError,
    },
    #[error("`{path}` declares no `$worker` interface: nothing can be called (mark the plugin's interface with `$Polyhost.worker`)")]
    NoWorker { path: PathBuf },
    #[error("no `{language}` modules could be generated for `{path}`: {source}")]
    Guest {
        path: PathBuf,
        language: String,
        source: Box<polyhost_codegen::CodegenError>,
    },
    #[error(transparent)]
    Adapter(#[from] polyhost::AdapterError),
    #[error("the plugin did not start: {0}")]
    Start(#[from] polyhost::PoolError),
}

/// One callable method, described for a caller that knows only JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Tool {
    /// `Interface.method`.
    pub name: String,
    /// The method's doc comment (empty when it has none).
    pub description: String,
    /// `$idempotent`: calling it again is safe.
    pub idempotent: bool,
    /// Whether its results are a stream of items (a `Sink(T)` param).
    pub streams: bool,
    /// JSON Schema of the params object.
    pub params_schema: Value,
    /// JSON Schema of the results object; of one item for a streaming method.
    pub results_schema: Value,
}

/// A schema file, compiled and loaded.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    pub path: PathBuf,
    pub schema: Arc<Schema>,
    /// The file's name as the bindings name it (`greeter.capnp`).
    pub name: String,
    /// Its fingerprint: workers must report the same.
    pub fingerprint: String,
}

impl SchemaFile {
    /// Compiles `path` (it may `import "/polyhost.capnp"`) and loads its model.
    pub fn load(path: &Path) -> Result<SchemaFile, PluginError> {
        let compile = |source| PluginError::Compile {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        let builder = builder(path);
        let request = builder.request().map_err(compile)?;
        let ir = polyhost_codegen::ir_of_request(&request).map_err(compile)?;
        let schema = Schema::from_request(&request).map_err(|source| PluginError::Schema {
            path: path.to_path_buf(),
            source,
        })?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (name, fingerprint) = ir
            .files
            .iter()
            .find(|f| f.path == file)
            .or(ir.files.first())
            .map(|f| (f.path.clone(), f.fingerprint.clone()))
            .unwrap_or_default();
        if schema.worker_methods().next().is_none() {
            return Err(PluginError::NoWorker {
                path: path.to_path_buf(),
            });
        }
        Ok(SchemaFile {
            path: path.to_path_buf(),
            schema: Arc::new(schema),
            name,
            fingerprint,
        })
    }

    /// Every `$worker` method, in declaration order.
    pub fn tools(&self) -> Vec<Tool> {
        self.schema
            .worker_methods()
            .map(|m| Tool {
                name: m.name().to_string(),
                description: m.doc.clone(),
                idempotent: m.idempotent(),
                streams: m.sink.is_some(),
                params_schema: json_schema::document(&self.schema, m.params),
                results_schema: match &m.sink {
                    None => json_schema::document(&self.schema, m.results),
                    Some((_, item)) => item_schema(&self.schema, item),
                },
            })
            .collect()
    }

    /// The tool `Interface.method`.
    pub fn tool(&self, name: &str) -> Result<Tool, polyhost::json::SchemaError> {
        self.schema.method(name)?;
        Ok(self
            .tools()
            .into_iter()
            .find(|t| t.name == name)
            .expect("method() found it"))
    }
}

fn builder(path: &Path) -> polyhost_codegen::Builder {
    polyhost_codegen::Builder::new()
        .schema(path)
        .emit_rerun_if_changed(false)
}

/// The schema of one stream item.
fn item_schema(schema: &Schema, item: &Type) -> Value {
    match item {
        Type::Struct(id) => json_schema::document(schema, *id),
        other => json_schema::type_schema(schema, other),
    }
}

/// A `$host` interface the command line does not implement: its calls fail with a
/// `NotServed` error the worker sees as an exception.
struct NoHost {
    interface_id: u64,
    name: &'static str,
    methods: Vec<String>,
}

impl Dispatch for NoHost {
    fn interface_name(&self) -> &'static str {
        self.name
    }
    fn interface_id(&self) -> u64 {
        self.interface_id
    }
    fn dispatch(
        &self,
        _interface_id: u64,
        method_id: u16,
        _params: capnp::any_pointer::Reader<'_>,
        _caps: &dyn CapBridge,
    ) -> Result<Invocation, DispatchError> {
        let method = self
            .methods
            .get(method_id as usize)
            .cloned()
            .unwrap_or_else(|| format!("method {method_id}"));
        let message = format!(
            "{}.{method}: the command line serves no `$host` callbacks; call this plugin from a Rust host that implements {}",
            self.name, self.name
        );
        Ok(Box::pin(async move {
            Err(HandlerError::new("NotServed", message))
        }))
    }
}

/// How to start a plugin's workers.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginOptions {
    /// The plugin's entry point in the adapter's syntax (`greeter_plugin:make`).
    pub entry: String,
    /// A bundled adapter: `python`, `node` or `ruby`.
    pub adapter: String,
    /// Folders put on the workers' module path (the plugin's own code).
    pub module_paths: Vec<PathBuf>,
    /// Workers in the pool.
    pub size: usize,
}

/// A running plugin: a pool of its workers with the schema's modules.
pub struct Plugin {
    pub schema: SchemaFile,
    pool: Pool,
}

impl Plugin {
    /// Generates the adapter language's modules for the schema and starts a pool.
    pub async fn start(schema: SchemaFile, options: PluginOptions) -> Result<Plugin, PluginError> {
        let adapter = Adapter::bundled(&options.adapter)?;
        let language = adapter.definition.language.clone();
        let generated = builder(&schema.path)
            .guest(&options.adapter)
            .generated_files()
            .map_err(|source| PluginError::Guest {
                path: schema.path.clone(),
                language: language.clone(),
                source: Box::new(source),
            })?;
        let prefix = format!("{}/", options.adapter);
        // A pool holds `&'static` bindings: these live as long as the process.
        let files: Vec<(&'static str, &'static str)> = generated
            .into_iter()
            .filter_map(|(key, contents)| {
                key.strip_prefix(&prefix).map(|path| {
                    (
                        &*Box::leak(path.to_string().into_boxed_str()),
                        &*Box::leak(contents.into_boxed_str()),
                    )
                })
            })
            .collect();
        let guests: &'static [GuestModules] = Box::leak(Box::new([GuestModules {
            language: Box::leak(language.into_boxed_str()),
            files: Box::leak(files.into_boxed_slice()),
        }]));
        let bindings = Bindings {
            schema: Box::leak(schema.name.clone().into_boxed_str()),
            fingerprint: Box::leak(schema.fingerprint.clone().into_boxed_str()),
            guests,
            schema_request: &[],
        };
        let mut builder = Pool::builder(adapter, options.entry.clone())
            .size(options.size.max(1))
            .bindings(&bindings);
        for dir in &options.module_paths {
            builder = builder.module_path(dir.clone());
        }
        // The plugin may look its `$host` callbacks up at start: each is offered, and
        // refuses every call with an error saying why.
        for i in schema.schema.interfaces.iter().filter(|i| i.is_host) {
            builder = builder.callback(Arc::new(NoHost {
                interface_id: i.id,
                name: Box::leak(i.name.clone().into_boxed_str()),
                methods: i.methods.iter().map(|m| m.short_name.clone()).collect(),
            }));
        }
        let pool = builder.start().await?;
        Ok(Plugin { schema, pool })
    }

    /// Calls `Interface.method` with JSON params.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<JsonReply, JsonCallError> {
        let m = self.schema.schema.method(method)?;
        self.pool
            .call_json_method(&self.schema.schema, m, params, options)
            .await
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Stops the workers.
    pub async fn shutdown(self) {
        self.pool.shutdown().await;
    }
}
