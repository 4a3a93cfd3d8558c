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
use serde_json::{Value, json};

use crate::script::Outcome;
use crate::store::{self, Execution, Function, Spec, Version};
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
                .link("get", "get_admin_functions_by_name", &[("name", "$request.path.name")])
                .link("executions", "get_admin_functions_by_name_executions", &[("name", "$request.path.name")])
                .link("delete", "delete_admin_functions_by_name", &[("name", "$request.path.name")])
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
        .route(
            admin(Route::post("/v1/admin/executions/{id}/retry", retry))
                .summary("Run a dead after-trigger delivery again")
                .empty(202, "Queued again"),
        )
        .merge(crate::webhooks::api())
        .with_param("name", json!({"type": "string", "pattern": NAME_PATTERN}))
}

async fn retry(State(f): State<Functions>, Path(id): Path<String>) -> Result<StatusCode, Error> {
    let Some((status, delivery)) = store::delivery_of(&f.inner.executions, &id).await? else {
        return Err(Error::not_found("no execution with this id"));
    };
    let Some(delivery) = delivery else {
        return Err(Error::new(
            basalt_core::Code::FailedPrecondition,
            "only runs of after-triggers can be retried; call an http function again instead",
        ));
    };
    if status == "dead" && basalt_store::outbox::replay(&f.inner.db, &delivery).await? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(Error::new(
            basalt_core::Code::FailedPrecondition,
            "only the last run of a delivery that gave up (`dead`) can be retried",
        ))
    }
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
    /// `http`, `trigger` or `schedule`.
    #[schemars(extend("enum" = ["http", "trigger", "schedule"]))]
    kind: String,
    /// The Rhai script.
    source: String,
    /// For `http`: a rule (like a collection rule) that sees `auth`, `request` and `data` (the
    /// arguments). Without one, only admins and service keys may call the function.
    invoke: Option<String>,
    /// For `trigger`: the collection it watches, or `auth` (events `before_signup`, `signup`,
    /// `login`) or `storage` (events `upload`, `delete`).
    collection: Option<String>,
    /// For `trigger`: `before_create`, `before_update`, `before_delete` (in the write's
    /// transaction), `after_create`, `after_update` or `after_delete` (after commit, from the
    /// outbox).
    event: Option<String>,
    /// For `schedule`: a cron expression, 5 fields (minute hour day month weekday) or 6 with
    /// seconds first.
    cron: Option<String>,
    /// For `schedule`: an IANA time zone (`Europe/Paris`); UTC without one.
    timezone: Option<String>,
}

/// The events of `collection: "auth"`: before a sign-up (in it), after one, after a sign-in.
pub(crate) const AUTH_EVENTS: [&str; 3] = ["before_signup", "signup", "login"];
/// The events of `collection: "storage"`, after an upload or a delete.
pub(crate) const STORAGE_EVENTS: [&str; 2] = ["upload", "delete"];

/// The events of `auth` and `storage` besides those of a collection.
pub(crate) fn special_events(collection: &str) -> &'static [&'static str] {
    match collection {
        "auth" => &AUTH_EVENTS,
        "storage" => &STORAGE_EVENTS,
        _ => &[],
    }
}

/// The outbox event type an after-the-fact trigger listens to
/// (`posts.create`, `auth.signup`), or `None` for a before-trigger.
pub(crate) fn after_pattern(collection: &str, event: &str) -> Option<String> {
    if event.starts_with("before_") {
        return None;
    }
    let op = event.strip_prefix("after_").unwrap_or(event);
    Some(format!("{collection}.{op}"))
}

/// The events a trigger of a collection may listen to.
pub(crate) const DOCUMENT_EVENTS: [&str; 6] = [
    "before_create",
    "before_update",
    "before_delete",
    "after_create",
    "after_update",
    "after_delete",
];

impl SaveFunction {
    /// The spec to store, or why it is refused.
    fn spec(self) -> Result<Spec, Error> {
        let absent = |what: &str, v: &Option<String>| match v {
            Some(_) => Err(Error::invalid_argument(format!(
                "`{what}` is not a field of {} functions",
                self.kind
            ))),
            None => Ok(()),
        };
        match self.kind.as_str() {
            "http" => {
                absent("collection", &self.collection)?;
                absent("event", &self.event)?;
                absent("cron", &self.cron)?;
                absent("timezone", &self.timezone)?;
            }
            "trigger" => {
                absent("invoke", &self.invoke)?;
                absent("cron", &self.cron)?;
                absent("timezone", &self.timezone)?;
                let collection = self.collection.as_deref().ok_or_else(|| {
                    Error::invalid_argument("a trigger needs `collection`, the collection it watches")
                })?;
                basalt_documents::check_collection_name(collection)?;
                let event = self.event.as_deref().unwrap_or_default();
                let special = special_events(collection);
                if !DOCUMENT_EVENTS.contains(&event) && !special.contains(&event) {
                    let all: Vec<&str> = DOCUMENT_EVENTS.iter().chain(special).copied().collect();
                    return Err(Error::invalid_argument(format!(
                        "`event` must be one of {}",
                        all.join(", ")
                    )));
                }
            }
            "schedule" => {
                absent("invoke", &self.invoke)?;
                absent("collection", &self.collection)?;
                absent("event", &self.event)?;
                let cron = self
                    .cron
                    .as_deref()
                    .ok_or_else(|| Error::invalid_argument("a schedule needs `cron`"))?;
                crate::schedules::Plan::parse(cron, self.timezone.as_deref())?;
            }
            _ => {
                return Err(Error::invalid_argument(
                    "`kind` must be http, trigger or schedule",
                ));
            }
        }
        Ok(Spec {
            kind: self.kind,
            source: self.source,
            invoke: self.invoke,
            collection: self.collection,
            event: self.event,
            cron: self.cron,
            timezone: self.timezone,
        })
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionQuery {
    /// `ok`, `error`, `retrying` or `dead`.
    #[schemars(extend("enum" = ["ok", "error", "retrying", "dead", null]))]
    status: Option<String>,
    /// 1 to 100, default 50.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ExecutionPage {
    executions: Vec<Execution>,
    next_cursor: Option<String>,
}

/// A function's or a webhook's name (`what`): 1 to 64 of a-z, 0-9, _ and -.
/// What [`check_name`] accepts, as a JSON Schema pattern.
pub(crate) const NAME_PATTERN: &str = "^[a-z][a-z0-9_-]{0,63}$";

pub(crate) fn check_name(name: &str, what: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "a {what} name is 1 to 64 of a-z, 0-9, _ and -, starting with a letter"
        )))
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
    check_name(&name, "function")?;
    let spec = body.spec()?;
    // Compiled before anything is stored: a script with an error is refused.
    f.inner.sandbox.compile(&spec.source, &spec.kind)?;
    if let Some(rule) = &spec.invoke {
        f.inner.rules.compile(rule).map_err(|e| {
            let e: Error = e.into();
            let details = e.details().cloned().unwrap_or_default();
            Error::invalid_argument(format!("the invoke rule: {}", e.message())).with_details(
                serde_json::json!({"rule": "invoke", "line": details["line"], "column": details["column"]}),
            )
        })?;
    }
    if let (Some(collection), Some(event)) = (&spec.collection, &spec.event)
        && event.starts_with("before_")
        && let Some(other) = f.inner.triggers.before(collection, event)
        && other != name
    {
        return Err(Error::already_exists(format!(
            "`{other}` is the {event} trigger of `{collection}`; a write runs one before-trigger per event"
        )));
    }
    let (function, created) = store::save(&f.inner.db, &name, &spec, Actor::of(&caller.0)).await?;
    f.inner.forget(&name);
    f.inner.triggers_changed().await;
    f.inner.schedules_changed.notify_one();
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
    f.inner.triggers_changed().await;
    f.inner.schedules_changed.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

async fn executions(
    State(f): State<Functions>,
    Path(name): Path<String>,
    Query(q): Query<ExecutionQuery>,
) -> Result<Json<ExecutionPage>, Error> {
    check_name(&name, "function")?;
    let limit = q.limit.unwrap_or(50) as usize;
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 100"));
    }
    if q.status
        .as_deref()
        .is_some_and(|s| !matches!(s, "ok" | "error" | "retrying" | "dead"))
    {
        return Err(Error::invalid_argument(
            "`status` must be ok, error, retrying or dead",
        ));
    }
    // Runs of this node that are still on their way to the store are listed too.
    f.inner.recorder.flush(std::time::Duration::from_secs(2)).await;
    let mut executions = store::executions(
        &f.inner.executions,
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
    pub(crate) async fn compiled(&self, name: &str) -> Result<Arc<Compiled>, Error> {
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
                waits: c.waits,
            }),
            _ => Arc::new(Compiled {
                checked: Instant::now(),
                waits: crate::waits(&function.spec.source),
                ast: Arc::new(self.sandbox.compile(&function.spec.source, &function.spec.kind)?),
                invoke: function
                    .spec
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
    if function.spec.kind != "http" {
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
    let mut vars = BTreeMap::new();
    vars.insert("args", rhai::serde::to_dynamic(&args).unwrap_or(Dynamic::UNIT));
    vars.insert("auth", auth);
    vars.insert("request", request);
    // Called over HTTP; the same function run as a job sees `event.type == "job"`.
    let mut event = rhai::Map::new();
    event.insert("type".into(), Dynamic::from("http"));
    vars.insert("event", Dynamic::from_map(event));
    let mut ran = f
        .execute(
            compiled.clone(),
            vars,
            None,
            crate::script::Target::Direct(inner.documents.clone()),
            inner.sandbox.limits().clone(),
            true,
        )
        .await?;
    let outcome = std::mem::replace(&mut ran.finished.outcome, Outcome::Value(Value::Null));
    let (status, error) = match &outcome {
        Outcome::Value(_) => ("ok", None),
        Outcome::Thrown { message, .. } => ("error", Some(format!("thrown: {message}"))),
        Outcome::Failed(message) => ("error", Some(message.clone())),
    };
    let execution_id = f
        .record(
            &compiled,
            ran,
            crate::Record {
                trigger: "http",
                status,
                attempts: 1,
                error,
                delivery: None,
            },
        )
        .await;
    match outcome {
        Outcome::Value(v) => Ok(Json(v).into_response()),
        Outcome::Thrown {
            status,
            code,
            message,
        } => {
            let code = crate::script::code_named(&code).unwrap_or_else(|| {
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
