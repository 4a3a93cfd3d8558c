//! Functions: Rhai scripts admins store (`/v1/admin/functions`), compiled
//! when saved and versioned on every save, run in a sandbox with budgets.
//! This slice has `http` functions, called at `POST /v1/functions/{name}`
//! behind their `invoke` rule; every run is recorded as an execution.
#![forbid(unsafe_code)]

mod routes;
pub mod script;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use basalt_documents::Documents;
use basalt_rules::{Rule, RuleEngine};
use basalt_store::Db;
use tokio::sync::Semaphore;

pub use routes::api;
pub use script::Limits;

/// Settings of the functions slice.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `env.NAME` of every script (from `BASALT_FN_NAME`); never logged.
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    /// Scripts running at once on this node; more wait their turn.
    pub concurrency: usize,
}

/// The functions slice's state. Cloning shares it.
#[derive(Clone)]
pub struct Functions {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    documents: Documents,
    rules: Arc<RuleEngine>,
    sandbox: script::Sandbox,
    env: BTreeMap<String, String>,
    slots: Semaphore,
    /// Compiled functions by name, for the version they were compiled at.
    compiled: Mutex<HashMap<String, Arc<Compiled>>>,
}

/// A function ready to run.
pub(crate) struct Compiled {
    pub version: i64,
    pub ast: rhai::AST,
    pub invoke: Option<Rule>,
}

impl Functions {
    pub fn new(db: Db, documents: Documents, rules: Arc<RuleEngine>, settings: Settings) -> Functions {
        Functions {
            inner: Arc::new(Inner {
                db,
                documents,
                rules,
                sandbox: script::Sandbox::new(settings.limits),
                env: settings.env,
                slots: Semaphore::new(settings.concurrency.max(1)),
                compiled: Mutex::new(HashMap::new()),
            }),
        }
    }
}
