//! Functions: Rhai scripts admins store (`/v1/admin/functions`), compiled
//! when saved and versioned on every save, run in a sandbox with budgets.
//! This slice has `http` functions, called at `POST /v1/functions/{name}`
//! behind their `invoke` rule; every run is recorded as an execution.
#![forbid(unsafe_code)]

mod recorder;
mod routes;
pub mod script;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use basalt_core::metrics::{Histogram, LATENCY_BUCKETS};

use basalt_documents::Documents;
use basalt_rules::{Rule, RuleEngine};
use basalt_store::Db;
use tokio::sync::Semaphore;

pub use routes::api;
pub use script::Limits;

/// Settings of the functions slice.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `env.NAME` of every script (from `BASALT_FN_NAME`); never logged.
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    /// Scripts running at once on this node; more wait their turn.
    pub concurrency: usize,
    /// How long executions are kept.
    pub execution_retention: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            env: BTreeMap::new(),
            limits: Limits::default(),
            concurrency: 16,
            execution_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Counters for `/metrics`.
pub(crate) struct Metrics {
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    pub running: AtomicU64,
    pub duration: Histogram,
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
    metrics: Metrics,
    recorder: recorder::Recorder,
}

/// A function ready to run, as read from the database at `checked`.
pub(crate) struct Compiled {
    pub function: store::Function,
    pub checked: std::time::Instant,
    pub ast: Arc<rhai::AST>,
    pub invoke: Option<Rule>,
}

impl Functions {
    pub fn new(db: Db, documents: Documents, rules: Arc<RuleEngine>, settings: Settings) -> Functions {
        let recorder = recorder::Recorder::start(db.clone());
        Functions {
            inner: Arc::new(Inner {
                recorder,
                db,
                documents,
                rules,
                sandbox: script::Sandbox::new(settings.limits),
                env: settings.env,
                slots: Semaphore::new(settings.concurrency.max(1)),
                compiled: Mutex::new(HashMap::new()),
                metrics: Metrics {
                    ok: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    running: AtomicU64::new(0),
                    duration: Histogram::with_bounds(&LATENCY_BUCKETS),
                },
            }),
        }
    }

    /// Sweeps executions older than the retention, every minute, until the
    /// slice is dropped.
    pub fn start_sweeper(&self, retention: Duration) {
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = inner.upgrade() else { return };
                let cutoff = basalt_core::Timestamp::now().millis() - retention.as_millis() as i64;
                if let Err(e) = store::sweep(&inner.db, cutoff).await {
                    tracing::debug!(error = %e.message(), "functions: sweeping executions failed; trying again later");
                }
            }
        });
    }

    /// Executions older than `cutoff` (ms) are removed now; for tests.
    pub async fn sweep_executions(&self, cutoff: i64) -> Result<u64, basalt_core::Error> {
        store::sweep(&self.inner.db, cutoff).await
    }

    /// Prometheus lines for functions.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let m = &self.inner.metrics;
        let _ = writeln!(
            out,
            "# HELP basalt_function_runs_total Function runs, by outcome.\n\
             # TYPE basalt_function_runs_total counter\n\
             basalt_function_runs_total{{status=\"ok\"}} {}\n\
             basalt_function_runs_total{{status=\"error\"}} {}\n\
             # HELP basalt_function_running Function runs in progress or waiting for a slot.\n\
             # TYPE basalt_function_running gauge\n\
             basalt_function_running {}\n\
             # HELP basalt_function_duration_seconds Time of a function run.\n\
             # TYPE basalt_function_duration_seconds histogram",
            m.ok.load(Ordering::Relaxed),
            m.errors.load(Ordering::Relaxed),
            m.running.load(Ordering::Relaxed),
        );
        m.duration.render(out, "basalt_function_duration_seconds", "");
    }
}
