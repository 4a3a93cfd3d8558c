//! Functions: Rhai scripts admins store (`/v1/admin/functions`), compiled
//! when saved and versioned on every save, run in a sandbox with budgets.
//! This slice has `http` functions, called at `POST /v1/functions/{name}`
//! behind their `invoke` rule; every run is recorded as an execution.
#![forbid(unsafe_code)]

mod dispatch;
mod recorder;
mod routes;
mod schedules;
pub mod script;
mod store;
mod triggers;
mod webhooks;

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
pub use schedules::Plan;
pub use script::Limits;
pub use store::open_executions;

/// Settings of the functions slice.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `env.NAME` of every script (from `BASALT_FN_NAME`); never logged.
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    /// Scripts running at once on this node; more wait their turn.
    pub concurrency: usize,
    /// How long executions (and finished deliveries) are kept.
    pub execution_retention: Duration,
    /// Let `http.fetch` and webhooks reach private and loopback addresses.
    pub allow_private_net: bool,
    /// How long a webhook's receiver has to answer.
    pub webhook_timeout: Duration,
    /// Waits before each retry of a delivery; the try after the last is `dead`.
    pub retry_delays: Vec<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            env: BTreeMap::new(),
            limits: Limits::default(),
            concurrency: 16,
            execution_retention: Duration::from_secs(7 * 24 * 3600),
            allow_private_net: false,
            webhook_timeout: Duration::from_secs(10),
            retry_delays: dispatch::RETRIES.to_vec(),
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
    /// Where executions are kept ([`store::open_executions`]).
    executions: Db,
    documents: Documents,
    rules: Arc<RuleEngine>,
    sandbox: script::Sandbox,
    env: BTreeMap<String, String>,
    slots: Semaphore,
    slots_total: usize,
    /// Compiled functions by name, for the version they were compiled at.
    compiled: Mutex<HashMap<String, Arc<Compiled>>>,
    metrics: Metrics,
    recorder: recorder::Recorder,
    retry_delays: Vec<Duration>,
    execution_retention: Duration,
    /// Rung when a schedule is saved or deleted on this node.
    schedules_changed: Arc<tokio::sync::Notify>,
    /// The HTTP client of webhooks and `http.fetch`, with the address guard.
    http: basalt_net::Client,
    /// Which functions listen to which writes.
    triggers: triggers::Directory,
    /// Every webhook's URL and secret, by name.
    webhooks: std::sync::RwLock<HashMap<String, Arc<webhooks::Target>>>,
    dispatch: dispatch::Counters,
    /// Delivers the outbox's push rows.
    push: basalt_push::Push,
}

/// What an execution says besides the run itself.
pub(crate) struct Record<'a> {
    /// `http`, `before_create`, `after_update`, …
    pub trigger: &'a str,
    /// `ok`, `error`, `retrying` or `dead`.
    pub status: &'a str,
    pub attempts: i64,
    pub error: Option<String>,
    /// The outbox delivery it ran for.
    pub delivery: Option<String>,
}

/// A finished run, with when it started and how long it took.
pub(crate) struct Ran {
    pub finished: script::Finished,
    pub started_at: basalt_core::Timestamp,
    pub elapsed: Duration,
}

/// Counts a run in progress until it ends (or its request is dropped).
struct Running<'a>(&'a AtomicU64);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A function ready to run, as read from the database at `checked`.
pub(crate) struct Compiled {
    pub function: store::Function,
    pub checked: std::time::Instant,
    pub ast: Arc<rhai::AST>,
    pub invoke: Option<Rule>,
    /// Whether the script may wait (it names `db`, `http`, `enqueue` or `push`):
    /// only such a script needs a blocking thread.
    pub waits: bool,
}

/// Whether `source` names anything that waits for I/O. A word in a string
/// or a comment counts too: then the run merely takes the blocking pool.
pub(crate) fn waits(source: &str) -> bool {
    source
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| matches!(word, "db" | "http" | "enqueue" | "push" | "push_many"))
}

impl Functions {
    /// `executions` is where runs are recorded: [`open_executions`] gives it.
    /// Fails only when the outbound HTTP client cannot be built.
    pub fn new(
        db: Db,
        executions: Db,
        documents: Documents,
        rules: Arc<RuleEngine>,
        push: basalt_push::Push,
        settings: Settings,
    ) -> Result<Functions, String> {
        let http = basalt_net::Client::new(settings.allow_private_net, settings.webhook_timeout)?;
        let recorder = recorder::Recorder::start(executions.clone());
        let functions = Functions {
            inner: Arc::new(Inner {
                triggers: triggers::Directory::default(),
                webhooks: std::sync::RwLock::default(),
                dispatch: dispatch::Counters::default(),
                recorder,
                db,
                executions,
                documents,
                rules,
                push,
                sandbox: script::Sandbox::new(settings.limits),
                env: settings.env,
                http,
                retry_delays: settings.retry_delays,
                execution_retention: settings.execution_retention,
                schedules_changed: Arc::default(),
                slots: Semaphore::new(settings.concurrency.max(1)),
                slots_total: settings.concurrency.max(1),
                compiled: Mutex::new(HashMap::new()),
                metrics: Metrics {
                    ok: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    running: AtomicU64::new(0),
                    duration: Histogram::with_bounds(&LATENCY_BUCKETS),
                },
            }),
        };
        functions
            .inner
            .documents
            .set_hooks(Arc::new(triggers::Hooks(Arc::downgrade(&functions.inner))));
        triggers::spawn_refresher(Arc::downgrade(&functions.inner));
        dispatch::spawn(Arc::downgrade(&functions.inner));
        schedules::spawn(Arc::downgrade(&functions.inner));
        Ok(functions)
    }

    /// Runs a compiled function on the blocking pool, behind the slots of
    /// this node; counted in the metrics.
    pub(crate) async fn execute(
        &self,
        compiled: Arc<Compiled>,
        variables: BTreeMap<&'static str, rhai::Dynamic>,
        data: Option<serde_json::Value>,
        target: script::Target,
        limits: Limits,
        network: bool,
    ) -> Result<Ran, basalt_core::Error> {
        let inner = &self.inner;
        let metrics = &inner.metrics;
        metrics.running.fetch_add(1, Ordering::Relaxed);
        let _running = Running(&metrics.running);
        let _slot = inner
            .slots
            .acquire()
            .await
            .map_err(|_| basalt_core::Error::unavailable("functions are shutting down"))?;
        let started = std::time::Instant::now();
        let started_at = basalt_core::Timestamp::now();
        let handle = tokio::runtime::Handle::current();
        let state = self.clone();
        let http = network.then(|| inner.http.clone());
        // A short script that never waits (a before-trigger's budget is
        // 50 ms) runs right here: handing it to another thread would cost
        // more than running it.
        if !compiled.waits && limits.max_time <= script::Limits::default().before_trigger().max_time {
            let finished = inner.sandbox.run(
                script::Call {
                    ast: &compiled.ast,
                    variables,
                    data,
                    target,
                    limits,
                    function: &compiled.function.name,
                    http,
                },
                &inner.env,
                handle,
            );
            return Ok(self.ran(finished, started, started_at));
        }
        let finished = tokio::task::spawn_blocking(move || {
            let inner = &state.inner;
            inner.sandbox.run(
                script::Call {
                    ast: &compiled.ast,
                    variables,
                    data,
                    target,
                    limits,
                    function: &compiled.function.name,
                    http,
                },
                &inner.env,
                handle,
            )
        })
        .await
        .map_err(basalt_core::Error::internal)?;
        Ok(self.ran(finished, started, started_at))
    }

    fn ran(
        &self,
        finished: script::Finished,
        started: std::time::Instant,
        started_at: basalt_core::Timestamp,
    ) -> Ran {
        let metrics = &self.inner.metrics;
        let elapsed = started.elapsed();
        metrics.duration.observe(elapsed);
        let counter = match &finished.outcome {
            script::Outcome::Value(_) => &metrics.ok,
            _ => &metrics.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ran {
            finished,
            started_at,
            elapsed,
        }
    }

    /// Records a run as an execution; its id.
    pub(crate) async fn record(&self, compiled: &Compiled, ran: Ran, what: Record<'_>) -> String {
        let execution = store::Execution {
            id: basalt_core::id::new_id(),
            function: compiled.function.name.clone(),
            version: compiled.function.version,
            trigger: what.trigger.to_owned(),
            status: what.status.to_owned(),
            attempts: what.attempts,
            started_at: ran.started_at,
            duration_ms: ran.elapsed.as_secs_f64() * 1000.0,
            logs: ran.finished.logs,
            error: what.error,
            delivery: what.delivery,
        };
        let id = execution.id.clone();
        self.inner.recorder.record(execution).await;
        id
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
                if let Err(e) = store::sweep(&inner.executions, cutoff).await {
                    tracing::debug!(error = %e.message(), "functions: sweeping executions failed; trying again later");
                }
                if let Err(e) = basalt_store::outbox::sweep(&inner.db, cutoff).await {
                    tracing::debug!(error = %e, "functions: sweeping finished deliveries failed; trying again later");
                }
            }
        });
    }

    /// Executions older than `cutoff` (ms) are removed now; for tests.
    pub async fn sweep_executions(&self, cutoff: i64) -> Result<u64, basalt_core::Error> {
        store::sweep(&self.inner.executions, cutoff).await
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
        self.render_dispatch_metrics(out);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scripts_that_wait() {
        assert!(super::waits("db.get(\"a\", \"b\")"));
        assert!(super::waits("let r = http.fetch(#{url: u});"));
        assert!(super::waits("enqueue(\"x\", 1)"));
        assert!(!super::waits("data.slug = data.title.to_lower();"));
        assert!(!super::waits("let mydb = 1; let dbx = 2; db_name"));
    }
}
