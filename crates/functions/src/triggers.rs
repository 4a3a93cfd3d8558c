//! Triggers: which functions listen to which writes, and the before-triggers
//! the document store runs while it prepares a write.
//!
//! The directory lives in memory, so a write that nothing listens to pays
//! one lookup. A save or delete on this node updates it at once; the
//! stored functions are read again every two seconds, so a save on another
//! node takes effect here within that.

use std::collections::{BTreeMap, HashMap};
use std::sync::{RwLock, Weak};
use std::time::Duration;

use basalt_core::caller::BoxFuture;
use basalt_core::{Code, Error};
use basalt_documents::hooks::{BeforeCall, BeforeHooks};
use basalt_store::outbox::{Subscriber, TargetKind};
use rhai::Dynamic;
use serde_json::{Map, Value};

use crate::script::{Outcome, Target};
use crate::{Functions, Inner};

/// How often the stored triggers are read again, at the latest.
const REFRESH: Duration = Duration::from_secs(2);
/// The channel a node's save or delete of a trigger or webhook rings, so
/// every other node reads them again at once (PostgreSQL).
pub(crate) const CHANGED: &str = "basalt_functions";

#[derive(Default)]
pub(crate) struct Directory {
    /// `(collection, event)` → the before-trigger's name.
    before: RwLock<HashMap<(String, String), String>>,
}

impl Directory {
    pub fn before(&self, collection: &str, event: &str) -> Option<String> {
        self.before
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(collection.to_owned(), event.to_owned()))
            .cloned()
    }
}

impl Inner {
    /// After a save or a delete on this node: reads them again here and
    /// tells the other nodes to.
    pub(crate) async fn triggers_changed(&self) {
        self.reload_triggers().await;
        if let Err(e) = self.db.notify(CHANGED).await {
            tracing::debug!(error = %e, "functions: could not tell the other nodes; they read again within 2 s");
        }
    }

    /// Reads the stored triggers and webhooks again and updates the
    /// directory and the outbox's listeners.
    pub(crate) async fn reload_triggers(&self) {
        let rows = self
            .db
            .fetch_all(
                "SELECT name, collection, event FROM functions WHERE kind = 'trigger' ORDER BY name",
                &[],
            )
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!(error = %e, "functions: could not read the triggers; keeping the last ones");
                return;
            }
        };
        let mut before = HashMap::new();
        let mut subscribers = Vec::new();
        for r in rows {
            let (Ok(name), Ok(Some(collection)), Ok(Some(event))) = (r.text(0), r.opt_text(1), r.opt_text(2))
            else {
                continue;
            };
            if let Some(pattern) = crate::routes::after_pattern(&collection, &event) {
                subscribers.push(Subscriber {
                    kind: TargetKind::Function,
                    name,
                    pattern,
                });
            } else {
                // The first by name wins, should two nodes have saved one each.
                before.entry((collection, event)).or_insert(name);
            }
        }
        let (hooks, targets) = crate::webhooks::subscribers(&self.db).await;
        subscribers.extend(hooks);
        *self.webhooks.write().unwrap_or_else(|e| e.into_inner()) = targets;
        *self.triggers.before.write().unwrap_or_else(|e| e.into_inner()) = before;
        self.db.outbox().set(subscribers);
    }
}

pub(crate) fn spawn_refresher(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut listener = None;
        loop {
            if listener.is_none() {
                let Some(strong) = inner.upgrade() else { return };
                let db = strong.db.clone();
                drop(strong);
                listener = db.listen(CHANGED).await.ok().flatten();
            }
            tokio::select! {
                _ = tick.tick() => {}
                n = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if !matches!(n, Ok(Some(_))) {
                        listener = None;
                    }
                }
            }
            let Some(inner) = inner.upgrade() else { return };
            inner.reload_triggers().await;
        }
    });
}

/// The document store's way into the before-triggers.
pub(crate) struct Hooks(pub Weak<Inner>);

impl BeforeHooks for Hooks {
    fn listens(&self, collection: &str, event: &'static str) -> bool {
        self.0
            .upgrade()
            .is_some_and(|inner| inner.triggers.before(collection, event).is_some())
    }

    fn run(&self, call: BeforeCall) -> BoxFuture<'static, Result<Option<Map<String, Value>>, Error>> {
        let inner = self.0.upgrade();
        Box::pin(async move {
            let Some(inner) = inner else { return Ok(None) };
            let Some(name) = inner.triggers.before(&call.collection, call.event) else {
                return Ok(None);
            };
            Functions { inner }.run_before(&name, call).await
        })
    }
}

fn dynamic(value: &Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

impl Functions {
    async fn run_before(&self, name: &str, call: BeforeCall) -> Result<Option<Map<String, Value>>, Error> {
        let inner = &self.inner;
        let compiled = match inner.compiled(name).await {
            Ok(c) => c,
            // Deleted meanwhile: nothing listens any more.
            Err(e) if e.code() == Code::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut event = Map::new();
        event.insert("type".into(), call.event.into());
        event.insert("collection".into(), call.collection.as_str().into());
        event.insert("id".into(), call.id.as_str().into());
        let mut vars = BTreeMap::new();
        vars.insert("event", dynamic(&Value::Object(event)));
        vars.insert("auth", basalt_rules::auth_value(&call.caller));
        vars.insert("document", call.document.as_ref().map_or(Dynamic::UNIT, dynamic));
        let data = call.data.map(Value::Object);
        let has_data = data.is_some();
        self.run_in_write(
            &compiled,
            call.event,
            vars,
            // A delete has no data; the script still sees the variable.
            Some(data.unwrap_or(Value::Null)),
            Target::Staged(inner.documents.clone(), call.stage),
            |data| match data {
                _ if !has_data => Ok(None),
                Some(Value::Object(map)) => Ok(Some(map)),
                _ => Err("the trigger left `data` that is not a map"),
            },
        )
        .await
    }

    /// Runs a trigger that holds up a write (tight budget, no network),
    /// records it, and turns its end into the write's answer: what `take`
    /// makes of the `data` it left, its `throw` as the refusal, or a failure
    /// as `500` naming the execution.
    #[allow(clippy::too_many_arguments)]
    async fn run_in_write<T>(
        &self,
        compiled: &std::sync::Arc<crate::Compiled>,
        trigger: &'static str,
        vars: BTreeMap<&'static str, Dynamic>,
        data: Option<Value>,
        target: Target,
        take: impl FnOnce(Option<Value>) -> Result<T, &'static str>,
    ) -> Result<T, Error> {
        let limits = self.inner.sandbox.limits().before_trigger();
        let mut ran = self
            .execute(compiled.clone(), vars, data, target, limits, false)
            .await?;
        let outcome = std::mem::replace(&mut ran.finished.outcome, Outcome::Value(Value::Null));
        let data = ran.finished.data.take();
        let (result, error) = match outcome {
            Outcome::Value(_) => match take(data) {
                Ok(v) => (Ok(v), None),
                Err(message) => (Err(None), Some(message.to_owned())),
            },
            Outcome::Thrown { code, message, .. } => {
                let code = crate::script::code_named(&code).unwrap_or(Code::InvalidArgument);
                let error = format!("thrown: {message}");
                (Err(Some(Error::new(code, message))), Some(error))
            }
            Outcome::Failed(message) => (Err(None), Some(message)),
        };
        let failed = error.clone();
        let execution = self
            .record(
                compiled,
                ran,
                crate::Record {
                    trigger,
                    status: if error.is_none() { "ok" } else { "error" },
                    attempts: 1,
                    error,
                    delivery: None,
                },
            )
            .await;
        match result {
            Ok(v) => Ok(v),
            Err(Some(refusal)) => Err(refusal),
            Err(None) => {
                let message = failed.unwrap_or_default();
                tracing::warn!(function = %compiled.function.name, %execution, error = %message, "{trigger} trigger failed");
                Err(Error::new(
                    Code::Internal,
                    if message == "function exceeded its limits" {
                        format!("the {trigger} trigger exceeded its limits; see execution {execution}")
                    } else {
                        format!("the {trigger} trigger failed; see execution {execution}")
                    },
                ))
            }
        }
    }
}

/// The auth slice's way into the `before_signup` trigger.
pub(crate) struct SignupHook(pub Weak<Inner>);

use basalt_auth::Profile;

impl basalt_auth::SignupHook for SignupHook {
    fn listens(&self) -> bool {
        self.0
            .upgrade()
            .is_some_and(|inner| inner.triggers.before("auth", "before_signup").is_some())
    }

    fn run(
        &self,
        email: String,
        data: Profile,
        claims: Profile,
    ) -> BoxFuture<'static, Result<(Profile, Profile), Error>> {
        let inner = self.0.upgrade();
        Box::pin(async move {
            let Some(inner) = inner else {
                return Ok((data, claims));
            };
            let Some(name) = inner.triggers.before("auth", "before_signup") else {
                return Ok((data, claims));
            };
            Functions { inner }
                .run_before_signup(&name, email, data, claims)
                .await
        })
    }
}

impl Functions {
    pub fn signup_hook(&self) -> std::sync::Arc<dyn basalt_auth::SignupHook> {
        std::sync::Arc::new(SignupHook(std::sync::Arc::downgrade(&self.inner)))
    }

    /// `before_signup`: sees `data #{email, data, claims}`; may change the
    /// profile `data` and the `claims`, or `throw` to refuse the sign-up.
    async fn run_before_signup(
        &self,
        name: &str,
        email: String,
        profile: Profile,
        claims: Profile,
    ) -> Result<(Profile, Profile), Error> {
        let inner = &self.inner;
        let compiled = match inner.compiled(name).await {
            Ok(c) => c,
            Err(e) if e.code() == Code::NotFound => return Ok((profile, claims)),
            Err(e) => return Err(e),
        };
        let mut vars = BTreeMap::new();
        vars.insert(
            "event",
            dynamic(&serde_json::json!({"type": "before_signup", "collection": "auth"})),
        );
        vars.insert("auth", Dynamic::UNIT);
        vars.insert("document", Dynamic::UNIT);
        let data = serde_json::json!({"email": email, "data": profile, "claims": claims});
        self.run_in_write(
            &compiled,
            "before_signup",
            vars,
            Some(data),
            Target::ReadOnly(inner.documents.clone()),
            |data| {
                let data = data.unwrap_or(Value::Null);
                match (data.get("data"), data.get("claims")) {
                    (Some(Value::Object(p)), Some(Value::Object(c))) => Ok((p.clone(), c.clone())),
                    _ => Err("the trigger left `data.data` or `data.claims` that is not a map"),
                }
            },
        )
        .await
    }
}
