//! The functions' Rhai sandbox. Rhai is synchronous, so a run takes a
//! thread of the blocking pool (behind a semaphore); natives that wait for
//! the database block that thread on the runtime, each with its own timeout.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt_core::caller::ServiceIdentity;
use basalt_core::{Caller, Error};
use basalt_documents::hooks::Stage;
use basalt_documents::{Access, Documents, Query};
use rhai::{AST, Dynamic, Engine, EvalAltResult, ImmutableString, Map, OptimizationLevel, Scope};
use serde_json::Value;

/// Budgets of one run.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_operations: u64,
    pub max_time: Duration,
    pub max_string_bytes: usize,
    pub max_array_len: usize,
    pub max_map_len: usize,
    /// `db.*` calls per run.
    pub max_db_calls: usize,
    /// Time of one `db.*` call.
    pub db_timeout: Duration,
    pub max_source_bytes: usize,
    pub max_log_lines: usize,
}

impl Limits {
    /// A before-trigger's budget: it holds up the write, so it is tight,
    /// and it has no network.
    pub fn before_trigger(&self) -> Limits {
        Limits {
            max_operations: self.max_operations.min(500_000),
            max_time: self.max_time.min(Duration::from_millis(50)),
            max_db_calls: self.max_db_calls.min(50),
            db_timeout: self.db_timeout.min(Duration::from_millis(50)),
            ..self.clone()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_time: Duration::from_secs(5),
            max_string_bytes: 4 << 20,
            max_array_len: 100_000,
            max_map_len: 100_000,
            max_db_calls: 1000,
            db_timeout: Duration::from_secs(5),
            max_source_bytes: 256 * 1024,
            max_log_lines: 100,
        }
    }
}

const OUT_OF_TIME: &str = "basalt:out-of-time";
const MAX_LOG_LINE: usize = 2048;

/// Where a script's `db` calls go.
#[derive(Clone)]
pub enum Target {
    /// Each write commits at once (http functions, schedules).
    Direct(Documents),
    /// Writes are staged and commit together at the end of the run, with
    /// the write or the delivery the run belongs to (triggers).
    Staged(Documents, Stage),
    /// Reads only (`before_signup`, which runs before the user exists).
    ReadOnly(Documents),
}

impl Target {
    fn documents(&self) -> &Documents {
        match self {
            Target::Direct(d) | Target::Staged(d, _) | Target::ReadOnly(d) => d,
        }
    }
}

/// What a run needs from outside the sandbox, reachable from natives.
struct Run {
    deadline: Instant,
    handle: tokio::runtime::Handle,
    target: Target,
    /// `None` where the network is off limits (before-triggers).
    http: Option<basalt_net::Client>,
    fetches: usize,
    caller: Caller,
    logs: Vec<String>,
    db_calls: usize,
    limits: Limits,
}

thread_local! {
    static RUN: RefCell<Option<Run>> = const { RefCell::new(None) };
}

/// The `db` variable of a script.
#[derive(Clone)]
struct DbApi;

/// The `http` variable of a script.
#[derive(Clone)]
struct HttpApi;

/// Most `http.fetch` calls in one run.
const MAX_FETCHES: usize = 20;
/// Largest answer body `http.fetch` reads.
const MAX_FETCH_BODY: usize = 2 << 20;

/// How a run ended.
pub enum Outcome {
    /// The script's value, as JSON.
    Value(Value),
    /// `throw`: a client error (status, code, message).
    Thrown {
        status: u16,
        code: String,
        message: String,
    },
    /// A budget ran out or the script failed: a server error.
    Failed(String),
}

pub struct Finished {
    pub outcome: Outcome,
    pub logs: Vec<String>,
    /// The `data` variable as the script left it (before-triggers).
    pub data: Option<Value>,
}

/// One run of a script.
pub struct Call<'a> {
    pub ast: &'a AST,
    pub variables: BTreeMap<&'static str, Dynamic>,
    /// A `data` variable the script may change (before-triggers).
    pub data: Option<Value>,
    pub target: Target,
    pub limits: Limits,
    pub function: &'a str,
    /// The client of `http.fetch`; `None` refuses it.
    pub(crate) http: Option<basalt_net::Client>,
}

pub struct Sandbox {
    engine: Engine,
    limits: Limits,
}

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// A failure of a native (a database call, a budget): a server-side error
/// of the run, unlike a script's own `throw`.
fn fail(message: impl Into<String>) -> Box<EvalAltResult> {
    let message = message.into();
    Box::new(EvalAltResult::ErrorSystem(message.clone(), message.into()))
}

fn with_run<T>(f: impl FnOnce(&mut Run) -> Fallible<T>) -> Fallible<T> {
    RUN.with(|run| {
        let mut run = run.borrow_mut();
        let run = run
            .as_mut()
            .ok_or_else(|| fail("db is only available while a function runs"))?;
        f(run)
    })
}

fn to_json(value: &Dynamic) -> Fallible<Value> {
    rhai::serde::from_dynamic::<Value>(value)
}

fn to_dynamic(value: &Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

fn object(map: Map) -> Fallible<serde_json::Map<String, Value>> {
    match to_json(&Dynamic::from_map(map))? {
        Value::Object(m) => Ok(m),
        _ => Err(fail("expected a map")),
    }
}

/// Runs `f` (a database call) on the runtime, within the call's timeout.
fn block<T>(
    what: &str,
    f: impl FnOnce(Target, Caller) -> std::pin::Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>,
) -> Fallible<T> {
    let (handle, target, caller, timeout) = with_run(|run| {
        run.db_calls += 1;
        if run.db_calls > run.limits.max_db_calls {
            return Err(fail(format!(
                "more than {} db calls in one run",
                run.limits.max_db_calls
            )));
        }
        // A call never outlasts the run's own deadline.
        let left = run.deadline.saturating_duration_since(Instant::now());
        Ok((
            run.handle.clone(),
            run.target.clone(),
            run.caller.clone(),
            run.limits.db_timeout.min(left),
        ))
    })?;
    match handle.block_on(async { tokio::time::timeout(timeout, f(target, caller)).await }) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(fail(format!("{what}: {}", e.message()))),
        Err(_) => Err(fail(format!(
            "{what}: took longer than {} ms",
            timeout.as_millis()
        ))),
    }
}

fn access<'a>(caller: &'a Caller, method: &'static str) -> Access<'a> {
    Access {
        caller,
        ip: IpAddr::from([127, 0, 0, 1]),
        method,
    }
}

fn document_value(doc: &basalt_documents::Document, collection: &str) -> Fallible<Dynamic> {
    let json = doc.to_json(collection).map_err(|e| fail(e.message()))?;
    let value: Value = serde_json::from_str(&json).map_err(|e| fail(e.to_string()))?;
    Ok(to_dynamic(&value))
}

fn write(operation: serde_json::Map<String, Value>) -> Fallible<Dynamic> {
    let collection = operation
        .get("collection")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let what = format!(
        "db.{}",
        operation.get("op").and_then(Value::as_str).unwrap_or("write")
    );
    let op = basalt_documents::operation(operation).map_err(|e| fail(format!("{what}: {}", e.message())))?;
    let document = block(&what, move |target, caller| {
        Box::pin(async move {
            match target {
                Target::Direct(d) => Ok(d.write(op, &access(&caller, "POST")).await?.document),
                Target::Staged(_, stage) => stage.write(op).await,
                Target::ReadOnly(_) => Err(Error::invalid_argument(
                    "db writes are not available here; write from a `signup` trigger, after the sign-up",
                )),
            }
        })
    })?;
    match document {
        Some(doc) => document_value(&doc, &collection),
        None => Ok(Dynamic::UNIT),
    }
}

/// `http.fetch(#{method, url, headers, body, timeout})` → `#{status,
/// headers, body, json}`: no redirects followed, private addresses refused
/// (unless allowed), at most [`MAX_FETCH_BODY`] read, within the run's time.
fn fetch(o: serde_json::Map<String, Value>) -> Fallible<Dynamic> {
    let (handle, client, left) = with_run(|run| {
        let client = run
            .http
            .clone()
            .ok_or_else(|| fail("http.fetch is not available in before-triggers"))?;
        run.fetches += 1;
        if run.fetches > MAX_FETCHES {
            return Err(fail(format!(
                "more than {MAX_FETCHES} http.fetch calls in one run"
            )));
        }
        Ok((
            run.handle.clone(),
            client,
            run.deadline.saturating_duration_since(Instant::now()),
        ))
    })?;
    let text = |key: &str| o.get(key).and_then(Value::as_str);
    let url = text("url").ok_or_else(|| fail("http.fetch: `url` is required"))?;
    let url = client.check(url).map_err(|e| fail(format!("http.fetch: {e}")))?;
    let method = reqwest::Method::from_bytes(text("method").unwrap_or("GET").to_ascii_uppercase().as_bytes())
        .map_err(|_| fail("http.fetch: `method` is not an HTTP method"))?;
    let mut timeout = left.min(Duration::from_secs(10));
    if let Some(ms) = o.get("timeout").and_then(Value::as_u64) {
        timeout = timeout.min(Duration::from_millis(ms));
    }
    let mut req = client.http.request(method, url).timeout(timeout);
    if let Some(Value::Object(headers)) = o.get("headers") {
        for (k, v) in headers {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            req = req.header(k.as_str(), v);
        }
    }
    match o.get("body") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => req = req.body(s.clone()),
        Some(other) => {
            req = req
                .header("content-type", "application/json")
                .body(other.to_string());
        }
    }
    let answer = handle.block_on(async move {
        let mut res = req.send().await.map_err(basalt_net::describe)?;
        let status = res.status().as_u16();
        let mut headers = Map::new();
        for (k, v) in res.headers() {
            headers.insert(
                k.as_str().into(),
                Dynamic::from(v.to_str().unwrap_or_default().to_owned()),
            );
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(basalt_net::describe)? {
            if body.len() + chunk.len() > MAX_FETCH_BODY {
                return Err(format!("the answer is larger than {} MiB", MAX_FETCH_BODY >> 20));
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, String>((status, headers, body))
    });
    let (status, headers, body) = answer.map_err(|e| fail(format!("http.fetch: {e}")))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_str::<Value>(&text).map_or(Dynamic::UNIT, |v| to_dynamic(&v));
    let mut out = Map::new();
    out.insert("status".into(), Dynamic::from(i64::from(status)));
    out.insert("headers".into(), Dynamic::from_map(headers));
    out.insert("body".into(), Dynamic::from(text));
    out.insert("json".into(), json);
    Ok(Dynamic::from_map(out))
}

/// `enqueue(name, args, #{delay})`: runs function `name` later, durably
/// (with a trigger's writes when the run has any).
fn enqueue(name: &str, args: Value, delay: i64) -> Fallible<Dynamic> {
    let (handle, target) = with_run(|run| Ok((run.handle.clone(), run.target.clone())))?;
    let id = basalt_core::id::new_id();
    let now = basalt_core::Timestamp::now();
    let payload = serde_json::json!({"id": id, "type": "job", "timestamp": now, "args": args}).to_string();
    let target_fn = basalt_store::outbox::Subscriber {
        kind: basalt_store::outbox::TargetKind::Function,
        name: name.to_owned(),
        pattern: "job".into(),
    };
    let rows = basalt_store::outbox::Delivery::for_event(
        &[target_fn],
        &id,
        "job",
        payload.into(),
        now.millis() + delay,
    );
    deliver_later(handle, target, rows, "enqueue")?;
    Ok(Dynamic::from(id))
}

/// Outbox rows of a run: with a trigger's writes when it has them,
/// otherwise committed at once.
fn deliver_later(
    handle: tokio::runtime::Handle,
    target: Target,
    rows: Vec<basalt_store::outbox::Delivery>,
    what: &str,
) -> Fallible<()> {
    match target {
        Target::Staged(_, stage) => stage.enqueue(rows),
        Target::ReadOnly(_) => return Err(fail(format!("{what} is not available here"))),
        Target::Direct(d) => {
            let db = d.db().clone();
            handle
                .block_on(async move {
                    let mut tx = db.begin().await?;
                    basalt_store::outbox::append(&mut tx, &rows).await?;
                    tx.commit().await?;
                    db.outbox().ring();
                    Ok::<_, basalt_store::StoreError>(())
                })
                .map_err(|e| fail(format!("{what}: {e}")))?;
        }
    }
    Ok(())
}

/// The user ids of `push_many`.
fn user_ids(users: rhai::Array) -> Fallible<Vec<String>> {
    users
        .into_iter()
        .map(|v| {
            v.into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|_| fail("push_many: users are ids (strings)"))
        })
        .collect()
}

/// `push(uid, #{title, body, data, url}, #{ttl, urgency})` and
/// `push_many([uid, …], …)`: a notification to every device of the users,
/// durably (with a trigger's writes when the run has any); the send's id.
fn push(users: Vec<String>, notification: Map, options: Option<Map>) -> Fallible<Dynamic> {
    let notification: basalt_push::Notification =
        serde_json::from_value(Value::Object(object(notification)?))
            .map_err(|e| fail(format!("push: the notification: {e}")))?;
    let (mut ttl, mut urgency) = (None, None);
    if let Some(options) = options {
        for (k, v) in object(options)? {
            match k.as_str() {
                "ttl" => {
                    ttl = Some(
                        v.as_u64()
                            .and_then(|t| u32::try_from(t).ok())
                            .ok_or_else(|| fail("push: `ttl` is seconds"))?,
                    )
                }
                "urgency" => {
                    urgency = Some(
                        serde_json::from_value(v)
                            .map_err(|_| fail("push: `urgency` is very-low, low, normal or high"))?,
                    )
                }
                other => return Err(fail(format!("push: unknown option `{other}`"))),
            }
        }
    }
    let (handle, target, sender) = with_run(|run| {
        let sender = match &run.caller {
            Caller::Service(s) => s.key_id.clone(),
            _ => "function".to_owned(),
        };
        Ok((run.handle.clone(), run.target.clone(), sender))
    })?;
    let (id, row) = basalt_push::send_row(&sender, &users, notification, ttl, urgency)
        .map_err(|e| fail(format!("push: {}", e.message())))?;
    deliver_later(handle, target, vec![row], "push")?;
    Ok(Dynamic::from(id))
}

fn op_map(op: &str, collection: &str, id: Option<&str>) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("op".into(), op.into());
    m.insert("collection".into(), collection.into());
    if let Some(id) = id {
        m.insert("id".into(), id.into());
    }
    m
}

impl Sandbox {
    pub fn new(limits: Limits) -> Sandbox {
        let mut engine = Engine::new();
        engine
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(32)
            .set_max_expr_depths(64, 32)
            .set_max_string_size(limits.max_string_bytes)
            .set_max_array_size(limits.max_array_len)
            .set_max_map_size(limits.max_map_len)
            .set_max_variables(1024)
            .set_max_functions(256)
            .set_strict_variables(true)
            .set_optimization_level(OptimizationLevel::Simple);
        engine.disable_symbol("eval");
        engine.on_print(|s| {
            let _ = with_run(|run| {
                push_log(run, s);
                Ok(())
            });
        });
        engine.on_debug(|s, _, _| {
            let _ = with_run(|run| {
                push_log(run, s);
                Ok(())
            });
        });
        engine.on_progress(|operations| {
            RUN.with(|run| {
                let run = run.borrow();
                let run = run.as_ref()?;
                // The engine's limit is the largest budget; each kind's is checked here.
                let over = operations > run.limits.max_operations
                    || (operations % 256 == 0 && Instant::now() > run.deadline);
                over.then(|| Dynamic::from(OUT_OF_TIME))
            })
        });
        engine.register_fn("log", |value: Dynamic| {
            let text = if value.is_string() {
                value.into_string().unwrap_or_default()
            } else {
                to_json(&value).map_or_else(|_| value.to_string(), |v| v.to_string())
            };
            let _ = with_run(|run| {
                push_log(run, &text);
                Ok(())
            });
        });
        engine.register_fn("now", || -> rhai::INT { basalt_core::Timestamp::now().millis() });
        engine.register_type_with_name::<DbApi>("Db");
        engine.register_fn(
            "get",
            |_: &mut DbApi, collection: ImmutableString, id: ImmutableString| -> Fallible<Dynamic> {
                let c = collection.to_string();
                let found = block("db.get", move |target, caller| {
                    let id = id.to_string();
                    let c = c.clone();
                    Box::pin(async move {
                        let found = match target {
                            Target::Direct(d) | Target::ReadOnly(d) => {
                                d.get(&c, &id, &access(&caller, "GET")).await.map(Some)
                            }
                            Target::Staged(_, stage) => stage.get(&c, &id).await,
                        };
                        match found {
                            Err(e) if e.code() == basalt_core::Code::NotFound => Ok(None),
                            other => other,
                        }
                    })
                })?;
                match found {
                    Some(doc) => document_value(&doc, &collection),
                    None => Ok(Dynamic::UNIT),
                }
            },
        );
        engine.register_fn(
            "query",
            |_: &mut DbApi, collection: ImmutableString, options: Map| -> Fallible<rhai::Array> {
                let o = object(options)?;
                let limit = match o.get("limit") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        v.as_u64()
                            .ok_or_else(|| fail("db.query: `limit` must be a number"))?,
                    ),
                };
                let q = Query::parse(
                    o.get("where"),
                    o.get("order_by"),
                    limit,
                    o.get("after").and_then(Value::as_str),
                    None,
                )
                .map_err(|e| fail(format!("db.query: {}", e.message())))?;
                let c = collection.to_string();
                let page = block("db.query", move |target, caller| {
                    Box::pin(async move { target.documents().query(&c, &q, &access(&caller, "POST")).await })
                })?;
                page.documents
                    .iter()
                    .map(|doc| document_value(doc, &collection))
                    .collect()
            },
        );
        engine.register_fn(
            "create",
            |_: &mut DbApi, collection: ImmutableString, data: Map| {
                let mut op = op_map("create", &collection, None);
                op.insert("data".into(), Value::Object(object(data)?));
                write(op)
            },
        );
        engine.register_fn(
            "create",
            |_: &mut DbApi, collection: ImmutableString, data: Map, options: Map| {
                let mut op = op_map("create", &collection, None);
                op.insert("data".into(), Value::Object(object(data)?));
                if let Some(id) = object(options)?.remove("id") {
                    op.insert("id".into(), id);
                }
                write(op)
            },
        );
        engine.register_fn(
            "set",
            |_: &mut DbApi, collection: ImmutableString, id: ImmutableString, data: Map| {
                let mut op = op_map("set", &collection, Some(&id));
                op.insert("data".into(), Value::Object(object(data)?));
                write(op)
            },
        );
        engine.register_fn(
            "update",
            |_: &mut DbApi, collection: ImmutableString, id: ImmutableString, patch: Map| {
                let mut op = op_map("update", &collection, Some(&id));
                for (k, v) in object(patch)? {
                    if matches!(k.as_str(), "op" | "collection" | "id") {
                        return Err(fail(format!("db.update: `{k}` is not a patch field")));
                    }
                    op.insert(k, v);
                }
                write(op)
            },
        );
        engine.register_fn(
            "delete",
            |_: &mut DbApi, collection: ImmutableString, id: ImmutableString| {
                write(op_map("delete", &collection, Some(&id)))
            },
        );
        engine.register_type_with_name::<HttpApi>("Http");
        engine.register_fn("fetch", |_: &mut HttpApi, options: Map| fetch(object(options)?));
        engine.register_fn("enqueue", |name: ImmutableString, args: Dynamic| {
            enqueue(&name, to_json(&args)?, 0)
        });
        engine.register_fn("enqueue", |name: ImmutableString, args: Dynamic, options: Map| {
            let delay = match object(options)?.get("delay") {
                None | Some(Value::Null) => 0,
                Some(v) => v
                    .as_u64()
                    .filter(|d| *d <= 30 * 24 * 3600 * 1000)
                    .ok_or_else(|| fail("enqueue: `delay` is milliseconds, at most 30 days"))?,
            };
            enqueue(&name, to_json(&args)?, delay as i64)
        });
        // Typed, so that an array's own `push` stays the array's.
        engine.register_fn("push", |user: ImmutableString, notification: Map| {
            push(vec![user.to_string()], notification, None)
        });
        engine.register_fn(
            "push",
            |user: ImmutableString, notification: Map, options: Map| {
                push(vec![user.to_string()], notification, Some(options))
            },
        );
        engine.register_fn("push_many", |users: rhai::Array, notification: Map| {
            push(user_ids(users)?, notification, None)
        });
        engine.register_fn(
            "push_many",
            |users: rhai::Array, notification: Map, options: Map| {
                push(user_ids(users)?, notification, Some(options))
            },
        );
        Sandbox { engine, limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles a script; the error carries its line and column.
    /// The variables a script of `kind` sees (besides `db` and `env`).
    pub fn variables(kind: &str) -> &'static [&'static str] {
        match kind {
            "trigger" => &["event", "auth", "data", "document"],
            "schedule" | "job" => &["event", "args"],
            _ => &["args", "auth", "request", "event"],
        }
    }

    pub fn compile(&self, source: &str, kind: &str) -> Result<AST, Error> {
        if source.len() > self.limits.max_source_bytes {
            return Err(Error::invalid_argument(format!(
                "the source is longer than {} bytes",
                self.limits.max_source_bytes
            )));
        }
        let mut scope = Scope::new();
        for name in Self::variables(kind).iter().chain(&["db", "env", "http"]) {
            scope.push(*name, ());
        }
        // Dot access works for field names Rhai keeps for itself (`data.default`).
        let (text, shifts) = basalt_rules::keywords::quote_keyword_properties(source);
        self.engine.compile_with_scope(&scope, &text).map_err(|e| {
            let line = e.position().line();
            let column = match (line, e.position().position()) {
                (Some(l), Some(c)) => Some(basalt_rules::keywords::original_column(&shifts, l, c)),
                (_, c) => c,
            };
            Error::invalid_argument(format!("function does not compile: {e}"))
                .with_details(serde_json::json!({"line": line, "column": column}))
        })
    }

    /// Runs a script on this (blocking) thread.
    pub fn run(
        &self,
        call: Call<'_>,
        env: &BTreeMap<String, String>,
        handle: tokio::runtime::Handle,
    ) -> Finished {
        let function = call.function;
        let caller = Caller::Service(Arc::new(ServiceIdentity {
            key_id: format!("function:{function}"),
            name: format!("function {function}"),
        }));
        RUN.with(|run| {
            *run.borrow_mut() = Some(Run {
                deadline: Instant::now() + call.limits.max_time,
                handle,
                target: call.target,
                http: call.http,
                fetches: 0,
                caller,
                logs: Vec::new(),
                db_calls: 0,
                limits: call.limits,
            });
        });
        let mut scope = Scope::new();
        for (name, value) in call.variables {
            scope.push_constant(name, value);
        }
        let with_data = call.data.is_some();
        if let Some(data) = &call.data {
            scope.push("data", to_dynamic(data));
        }
        scope.push_constant("db", DbApi);
        scope.push_constant("http", HttpApi);
        let env_map: Map = env
            .iter()
            .map(|(k, v)| (k.into(), Dynamic::from(v.clone())))
            .collect();
        scope.push_constant("env", Dynamic::from_map(env_map));
        let result = basalt_rules::eval_guarded(&self.engine, &mut scope, call.ast);
        let run = RUN.with(|run| run.borrow_mut().take());
        let mut logs = run.map(|r| r.logs).unwrap_or_default();
        let mut data = None;
        let outcome = match result {
            Ok(value) => match to_json(&value) {
                Ok(v) => {
                    if with_data {
                        // A returned map replaces `data`; otherwise `data` as the script left it.
                        data = match &v {
                            Value::Object(_) => Some(v.clone()),
                            _ => scope.get_value::<Dynamic>("data").and_then(|d| to_json(&d).ok()),
                        };
                    }
                    Outcome::Value(v)
                }
                Err(_) => Outcome::Failed("the function returned a value that is not JSON".into()),
            },
            Err(e) => outcome_of_error(*e),
        };
        // `env` values never leave the sandbox, even when a script logs or throws them.
        for line in &mut logs {
            *line = redact(line, env);
        }
        let outcome = match outcome {
            Outcome::Thrown {
                status,
                code,
                message,
            } => Outcome::Thrown {
                status,
                code,
                message: redact(&message, env),
            },
            Outcome::Failed(m) => Outcome::Failed(redact(&m, env)),
            v => v,
        };
        Finished { outcome, logs, data }
    }
}

fn push_log(run: &mut Run, text: &str) {
    if run.logs.len() < run.limits.max_log_lines {
        let mut line = text.to_owned();
        if line.len() > MAX_LOG_LINE {
            let mut end = MAX_LOG_LINE;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
        }
        run.logs.push(line);
    } else if run.logs.len() == run.limits.max_log_lines {
        run.logs.push("(more log lines were dropped)".into());
    }
}

fn redact(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for value in env.values().filter(|v| v.len() >= 4) {
        out = out.replace(value.as_str(), "[env]");
    }
    out
}

/// The error code of this name (`failed_precondition`), if there is one.
pub(crate) fn code_named(name: &str) -> Option<basalt_core::Code> {
    basalt_core::Code::ALL.into_iter().find(|c| c.as_str() == name)
}

/// The code a `throw #{status}` without `code` answers with.
fn code_of_status(status: i64) -> Option<basalt_core::Code> {
    use basalt_core::Code;
    Some(match status {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        412 => Code::FailedPrecondition,
        413 => Code::PayloadTooLarge,
        422 => Code::ValidationFailed,
        429 => Code::RateLimited,
        500 => Code::Internal,
        503 => Code::Unavailable,
        _ => return None,
    })
}

/// `throw #{code, message}` or `throw #{status, message}`: `code` (from
/// the error table) decides the answer; without it, `status` picks its
/// code. An unknown code or status is the script's bug: the run fails.
fn thrown_map(map: &Map) -> Outcome {
    let message = map
        .get("message")
        .map(|m| m.clone().into_string().unwrap_or_else(|_| m.to_string()))
        .unwrap_or_else(|| "the function refused the request".into());
    let code = match (map.get("code"), map.get("status")) {
        (Some(code), _) => {
            let name = code.clone().into_string().unwrap_or_default();
            match code_named(&name) {
                Some(c) => c,
                None => return Outcome::Failed(format!("throw: `{name}` is not an error code")),
            }
        }
        (None, Some(status)) => match status.as_int().ok().and_then(code_of_status) {
            Some(c) => c,
            None => return Outcome::Failed(format!("throw: status {status} has no error code")),
        },
        (None, None) => basalt_core::Code::InvalidArgument,
    };
    Outcome::Thrown {
        status: code.status().as_u16(),
        code: code.as_str().to_owned(),
        message,
    }
}

fn outcome_of_error(e: EvalAltResult) -> Outcome {
    match e {
        EvalAltResult::ErrorRuntime(value, _) => {
            if let Some(map) = value.read_lock::<Map>() {
                return thrown_map(&map);
            }
            let message = value.clone().into_string().unwrap_or_else(|_| value.to_string());
            Outcome::Thrown {
                status: 400,
                code: "invalid_argument".into(),
                message,
            }
        }
        EvalAltResult::ErrorTooManyOperations(_)
        | EvalAltResult::ErrorDataTooLarge(..)
        | EvalAltResult::ErrorStackOverflow(_)
        | EvalAltResult::ErrorTooManyVariables(_)
        | EvalAltResult::ErrorTerminated(..) => Outcome::Failed("function exceeded its limits".into()),
        EvalAltResult::ErrorSystem(message, _) => Outcome::Failed(message),
        other => Outcome::Failed(other.to_string()),
    }
}
