//! `/v1/admin/functions` and `POST /v1/functions/{name}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{ClientIp, Json, Path, Query};
use basalt_core::{AdminCaller, Caller, Error, Timestamp};
use basalt_rules::{RuleContext, auth_value, json_value, request_value};
use basalt_store::audit::Actor;
use rhai::Dynamic;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::script::{Finished, Outcome};
use crate::store::{self, Execution, Function, Version};
use crate::{Compiled, Functions};

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Functions: FromRef<S>,
    Authenticator: FromRef<S>,
{
    let admin = |r: Route<S>| r.tag("functions").access(Access::Admin);
    Api::new()
        .route(
            admin(Route::get("/v1/admin/functions", list))
                .summary("List functions")
                .response::<FunctionList>(200, "Every function, by name"),
        )
        .route(
            admin(Route::put("/v1/admin/functions/{name}", save))
                .summary("Create or change a function; the source is compiled first, and each save is a new version")
                .body::<SaveFunction>()
                .response::<Function>(200, "The function, changed")
                .response::<Function>(201, "The function, created"),
        )
        .route(
            admin(Route::get("/v1/admin/functions/{name}", get))
                .summary("One function with its last versions")
                .response::<FunctionWithVersions>(200, "The function"),
        )
        .route(
            admin(Route::delete("/v1/admin/functions/{name}", delete))
                .summary("Delete a function and its versions (its executions stay)")
                .empty(204, "Deleted"),
        )
        .route(
            admin(Route::get("/v1/admin/functions/{name}/executions", executions))
                .summary("Runs of a function, newest first")
                .query::<ExecutionQuery>()
                .response::<ExecutionPage>(200, "A page of executions"),
        )
        .route(
            Route::post("/v1/functions/{name}", invoke)
                .tag("functions")
                .access(Access::Caller)
                .summary("Call an http function: the body is its `args`, the answer its value")
                .body::<Value>()
                .response::<Value>(200, "What the function returned"),
        )
}

#[derive(Serialize, JsonSchema)]
pub struct FunctionList {
    functions: Vec<Function>,
}

#[derive(Serialize, JsonSchema)]
pub struct FunctionWithVersions {
    #[serde(flatten)]
    function: Function,
    /// The last 20 versions, newest first.
    versions: Vec<Version>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveFunction {
    /// `http` (triggers and schedules are not available yet).
    kind: String,
    /// The Rhai script.
    source: String,
    /// For `http`: a rule (like a collection rule) that sees `auth`, `request` and `data` (the
    /// arguments). Without one, only admins and service keys may call the function.
    invoke: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionQuery {
    /// `ok` or `error`.
    status: Option<String>,
    /// 1 to 100, default 50.
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ExecutionPage {
    executions: Vec<Execution>,
    next_cursor: Option<String>,
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "a function name is 1 to 64 of a-z, 0-9, _ and -, starting with a letter",
        ))
    }
}

fn not_found() -> Error {
    Error::not_found("no function with this name")
}

async fn list(State(f): State<Functions>) -> Result<Json<FunctionList>, Error> {
    Ok(Json(FunctionList {
        functions: store::list(&f.inner.db).await?,
    }))
}

async fn get(
    State(f): State<Functions>,
    Path(name): Path<String>,
) -> Result<Json<FunctionWithVersions>, Error> {
    let function = store::get(&f.inner.db, &name).await?.ok_or_else(not_found)?;
    Ok(Json(FunctionWithVersions {
        versions: store::versions(&f.inner.db, &name, 20).await?,
        function,
    }))
}

async fn save(
    caller: AdminCaller,
    State(f): State<Functions>,
    Path(name): Path<String>,
    Json(body): Json<SaveFunction>,
) -> Result<Response, Error> {
    check_name(&name)?;
    match body.kind.as_str() {
        "http" => {}
        "trigger" | "schedule" => {
            return Err(Error::invalid_argument(format!(
                "`{}` functions are not available yet; this server runs `http` functions",
                body.kind
            )));
        }
        _ => return Err(Error::invalid_argument("`kind` must be http")),
    }
    // Compiled before anything is stored: a script with an error is refused.
    f.inner.sandbox.compile(&body.source)?;
    if let Some(rule) = &body.invoke {
        f.inner.rules.compile(rule).map_err(|e| {
            let e: Error = e.into();
            let details = e.details().cloned().unwrap_or_default();
            Error::invalid_argument(format!("the invoke rule: {}", e.message())).with_details(
                serde_json::json!({"rule": "invoke", "line": details["line"], "column": details["column"]}),
            )
        })?;
    }
    let (function, created) = store::save(
        &f.inner.db,
        &name,
        &body.kind,
        &body.source,
        body.invoke.as_deref(),
        Actor::of(&caller.0),
    )
    .await?;
    f.inner.forget(&name);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(function)).into_response())
}

async fn delete(
    caller: AdminCaller,
    State(f): State<Functions>,
    Path(name): Path<String>,
) -> Result<StatusCode, Error> {
    if !store::delete(&f.inner.db, &name, Actor::of(&caller.0)).await? {
        return Err(not_found());
    }
    f.inner.forget(&name);
    Ok(StatusCode::NO_CONTENT)
}

async fn executions(
    State(f): State<Functions>,
    Path(name): Path<String>,
    Query(q): Query<ExecutionQuery>,
) -> Result<Json<ExecutionPage>, Error> {
    let limit = q.limit.unwrap_or(50) as usize;
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 100"));
    }
    if q.status.as_deref().is_some_and(|s| s != "ok" && s != "error") {
        return Err(Error::invalid_argument("`status` must be ok or error"));
    }
    // Runs of this node that are still on their way to the store are listed too.
    f.inner.recorder.flush(std::time::Duration::from_secs(2)).await;
    let mut executions = store::executions(
        &f.inner.db,
        &name,
        q.status.as_deref(),
        limit + 1,
        q.after.as_deref(),
    )
    .await?;
    let next_cursor = if executions.len() > limit {
        executions.truncate(limit);
        executions.last().map(|e| e.id.clone())
    } else {
        None
    };
    Ok(Json(ExecutionPage {
        executions,
        next_cursor,
    }))
}

impl crate::Inner {
    fn forget(&self, name: &str) {
        self.compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// The function compiled at its stored version. The stored row is read
    /// again at most once a second (a save on this node takes effect at
    /// once, one on another node within a second); the script is compiled
    /// again only when its version changed.
    async fn compiled(&self, name: &str) -> Result<Arc<Compiled>, Error> {
        if let Some(c) = self.compiled.lock().unwrap_or_else(|e| e.into_inner()).get(name)
            && c.checked.elapsed() < FRESH
        {
            return Ok(c.clone());
        }
        let function = store::get(&self.db, name).await?.ok_or_else(|| {
            self.forget(name);
            not_found()
        })?;
        let cached = self
            .compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        let compiled = match cached {
            Some(c) if c.function.version == function.version => Arc::new(Compiled {
                checked: Instant::now(),
                function,
                ast: c.ast.clone(),
                invoke: c.invoke.clone(),
            }),
            _ => Arc::new(Compiled {
                checked: Instant::now(),
                ast: Arc::new(self.sandbox.compile(&function.source)?),
                invoke: function
                    .invoke
                    .as_deref()
                    .map(|r| self.rules.compile(r))
                    .transpose()
                    .map_err(Error::from)?,
                function,
            }),
        };
        let mut cache = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(name.to_owned(), compiled.clone());
        Ok(compiled)
    }
}

/// How long a function read from the database is used without reading it again.
const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

async fn invoke(
    caller: Caller,
    State(f): State<Functions>,
    ClientIp(ip): ClientIp,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Error> {
    // Any JSON value is an argument (an empty body is `()`).
    let args: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Error::invalid_argument(format!("the body is not JSON: {e}")))?
    };
    let inner = &f.inner;
    let compiled = inner.compiled(&name).await?;
    let function = &compiled.function;
    if function.kind != "http" {
        return Err(not_found());
    }
    let now = Timestamp::now().millis();
    let request = request_value("POST", now, &ip.to_string(), "invoke");
    let auth = auth_value(&caller);
    // Who may call it: the invoke rule, or only admins and service keys.
    let allowed = match &compiled.invoke {
        _ if caller.is_privileged() => true,
        None => false,
        Some(rule) => {
            let ctx = RuleContext::new(auth.clone(), request.clone()).with_data(json_value(&args));
            inner.rules.evaluate_now(rule, &ctx).allowed
        }
    };
    if !allowed {
        return Err(match caller {
            Caller::Anonymous => Error::unauthenticated("sign in to call this function"),
            _ => Error::permission_denied("the function's invoke rule denies this call"),
        });
    }
    let metrics = &inner.metrics;
    metrics.running.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _running = Running(&metrics.running);
    let _slot = inner
        .slots
        .acquire()
        .await
        .map_err(|_| Error::unavailable("functions are shutting down"))?;
    let started = Instant::now();
    let started_at = Timestamp::now();
    let handle = tokio::runtime::Handle::current();
    let state = f.clone();
    let run_name = name.clone();
    let for_run = compiled.clone();
    let finished: Finished = tokio::task::spawn_blocking(move || {
        let mut vars = BTreeMap::new();
        vars.insert("args", rhai::serde::to_dynamic(&args).unwrap_or(Dynamic::UNIT));
        vars.insert("auth", auth);
        vars.insert("request", request);
        let inner = &state.inner;
        inner.sandbox.run(
            &for_run.ast,
            vars,
            &inner.env,
            inner.documents.clone(),
            handle,
            &run_name,
        )
    })
    .await
    .map_err(Error::internal)?;
    let elapsed = started.elapsed();
    metrics.duration.observe(elapsed);
    let counter = match &finished.outcome {
        Outcome::Value(_) => &metrics.ok,
        _ => &metrics.errors,
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let (status, error) = match &finished.outcome {
        Outcome::Value(_) => ("ok", None),
        Outcome::Thrown { message, .. } => ("error", Some(format!("thrown: {message}"))),
        Outcome::Failed(message) => ("error", Some(message.clone())),
    };
    let execution = Execution {
        id: basalt_core::id::new_id(),
        function: name.clone(),
        version: function.version,
        trigger: "http".into(),
        status: status.into(),
        attempts: 1,
        started_at,
        duration_ms,
        logs: finished.logs,
        error,
    };
    let execution_id = execution.id.clone();
    inner.recorder.record(execution).await;
    match finished.outcome {
        Outcome::Value(v) => Ok(Json(v).into_response()),
        Outcome::Thrown {
            status,
            code,
            message,
        } => {
            let code = basalt_core::Code::ALL
                .into_iter()
                .find(|c| c.as_str() == code)
                .unwrap_or_else(|| {
                    basalt_core::Code::from_status(
                        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    )
                });
            Err(Error::new(code, message))
        }
        Outcome::Failed(message) => {
            tracing::warn!(function = %name, execution = %execution_id, error = %message, "function failed");
            Err(Error::new(
                basalt_core::Code::Internal,
                if message == "function exceeded its limits" {
                    "function exceeded its limits".to_owned()
                } else {
                    format!("the function failed; see execution {execution_id}")
                },
            ))
        }
    }
}

/// Counts a run in progress until it ends (or its request is dropped).
struct Running<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}
