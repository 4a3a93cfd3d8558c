//! The request log: every request the server answers, kept for
//! `log_retention` in a store that can never slow or break the API.
//!
//! Requests hand their entry to a bounded queue with `try_send` and move
//! on; one writer task drains it in batches. On SQLite the entries go to
//! their own database file (`logs.db`, its own writer), on PostgreSQL to a
//! table of the main database. A full queue drops entries and counts them;
//! a failing store drops batches and counts them. Per-minute rollups
//! (requests, errors, a latency histogram) feed the dashboard's charts.
#![forbid(unsafe_code)]

mod routes;
mod series;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use basalt_core::metrics::Histogram;
use basalt_store::Db;
use tokio::sync::mpsc;

pub use routes::api;
pub use series::Rollup;

/// Longest path kept; longer ones are cut (at a character boundary).
pub const MAX_PATH: usize = 512;
/// Entries waiting for the writer; more are dropped, never waited for.
const QUEUE: usize = 16_384;
/// Rows per INSERT.
const BATCH: usize = 500;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Keep entries this long.
    pub retention: Duration,
    /// Keep at most this many entries, whatever their age.
    pub max_entries: u64,
    /// How often old entries are swept.
    pub sweep_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retention: Duration::from_secs(7 * 24 * 3600),
            max_entries: 1_000_000,
            sweep_every: Duration::from_secs(60),
        }
    }
}

/// One answered request, as the middleware hands it over: only what the
/// request already has. The writer formats it (and gives it its id), so an
/// entry the writer has no time for costs the request almost nothing.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Milliseconds since the epoch.
    pub time: i64,
    pub method: &'static str,
    /// The route template (`/v1/db/{collection}/{id}`), or `unmatched`.
    pub route: String,
    pub path: String,
    pub status: u16,
    pub duration_us: u64,
    /// `None` for an anonymous caller.
    pub caller: Option<basalt_core::Caller>,
    pub ip: std::net::IpAddr,
    pub request_id: Arc<str>,
    pub error: Option<&'static str>,
}

/// Gives the calling thread (and the threads it starts, such as SQLite's
/// connection thread) the lowest scheduling priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
        tracing::debug!(error = %e, "request log: could not lower the writer's priority");
    }
}

/// Cuts `path` to at most [`MAX_PATH`] bytes.
pub fn truncate_path(path: &str) -> String {
    if path.len() <= MAX_PATH {
        return path.to_owned();
    }
    let mut end = MAX_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path[..end].to_owned()
}

/// The longest an admin's read waits for the entries handed over before it.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Counters {
    queued: AtomicUsize,
    /// Entries handed to the writer, ever.
    handed: AtomicU64,
    /// Entries the writer has finished with (stored or dropped), ever.
    processed: AtomicU64,
    /// Of those, the ones whose per-minute counts are stored.
    rolled: AtomicU64,
    /// Asks the writer to store the per-minute counts now.
    want_minutes: tokio::sync::Notify,
    written: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
    write_latency: Histogram,
}

/// The request log. Cloning shares it.
#[derive(Clone)]
pub struct RequestLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` when the log is off.
    queue: Option<mpsc::Sender<Entry>>,
    store: Option<store::Store>,
    settings: Settings,
    counters: Arc<Counters>,
}

impl RequestLog {
    /// A log that records nothing (`request_log = false`); its routes
    /// answer empty pages.
    pub fn off() -> RequestLog {
        RequestLog {
            inner: Arc::new(Inner {
                queue: None,
                store: None,
                settings: Settings::default(),
                counters: Arc::default(),
            }),
        }
    }

    /// Opens the store (on SQLite `logs.db` beside the main database) and
    /// starts the writer and the sweeper. A store that cannot be opened
    /// is retried in the background; requests never wait for it.
    pub fn start(main: &Db, data_dir: &std::path::Path, settings: Settings) -> RequestLog {
        let counters = Arc::new(Counters::default());
        let rollup = Arc::new(Rollup::new());
        let store = store::Store::new(main, data_dir);
        let (tx, rx) = mpsc::channel(QUEUE);
        // The writer has a thread of its own at the lowest priority: it
        // gets the CPU the API leaves idle, never the CPU the API needs.
        // Under a load that takes every core, entries are dropped (and
        // counted) instead of slowing requests.
        let writer = store.own_connections();
        let (for_writer, for_sweep) = (counters.clone(), settings.clone());
        let started = std::thread::Builder::new()
            .name("basalt-request-log".into())
            .spawn(move || {
                lower_priority();
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "request log: no runtime for the writer; entries are dropped");
                        return;
                    }
                };
                runtime.block_on(async move {
                    // The sweeper ends with the writer, when the log is dropped.
                    tokio::select! {
                        () = store::write_loop(writer.clone(), rx, for_writer, rollup) => {}
                        () = store::sweep_loop(writer, for_sweep) => {}
                    }
                });
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "request log: cannot start the writer thread; entries are dropped");
        }
        RequestLog {
            inner: Arc::new(Inner {
                queue: Some(tx),
                store: Some(store),
                settings,
                counters,
            }),
        }
    }

    /// Hands an entry to the writer; never waits.
    pub fn record(&self, entry: Entry) {
        let Some(queue) = &self.inner.queue else {
            return;
        };
        let counters = &self.inner.counters;
        counters.queued.fetch_add(1, Ordering::Relaxed);
        if queue.try_send(entry).is_err() {
            counters.queued.fetch_sub(1, Ordering::Relaxed);
            counters.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.handed.fetch_add(1, Ordering::Release);
        }
    }

    /// Waits until the entries handed over before this call are stored
    /// (with `minutes`, their per-minute counts too), so an admin sees the
    /// request made just before looking. Gives up after [`SETTLE`]: a
    /// writer that is behind (it only gets idle CPU) delays a read a
    /// little, never for long.
    pub(crate) async fn settle(&self, minutes: bool) {
        if self.inner.queue.is_none() {
            return;
        }
        let c = &self.inner.counters;
        let ticket = c.handed.load(Ordering::Acquire);
        let done = |c: &Counters| {
            let stored = if minutes { &c.rolled } else { &c.processed };
            stored.load(Ordering::Acquire) >= ticket
        };
        let deadline = tokio::time::Instant::now() + SETTLE;
        while !done(c) && tokio::time::Instant::now() < deadline {
            if minutes && c.processed.load(Ordering::Acquire) >= ticket {
                c.want_minutes.notify_one();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn is_on(&self) -> bool {
        self.inner.queue.is_some()
    }

    fn store(&self) -> Option<&store::Store> {
        self.inner.store.as_ref()
    }

    /// Waits until every entry queued so far has been written (or
    /// dropped); for tests and shutdown. Gives up after `timeout`.
    pub async fn flush(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.inner.counters.queued.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sweeps entries past their retention (and beyond the row cap) now,
    /// as the background sweeper does every minute.
    pub async fn sweep(&self) -> Result<(), basalt_core::Error> {
        match self.store() {
            Some(store) => Ok(store.sweep(&self.inner.settings).await?),
            None => Ok(()),
        }
    }

    /// Prometheus lines for the request log.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let c = &self.inner.counters;
        let _ = writeln!(
            out,
            "# HELP basalt_request_log_queue_depth Request log entries waiting for the writer.\n\
             # TYPE basalt_request_log_queue_depth gauge\n\
             basalt_request_log_queue_depth {}\n\
             # HELP basalt_request_log_written_total Request log entries stored.\n\
             # TYPE basalt_request_log_written_total counter\n\
             basalt_request_log_written_total {}\n\
             # HELP basalt_request_log_dropped_total Request log entries dropped: the queue was full or the store failed.\n\
             # TYPE basalt_request_log_dropped_total counter\n\
             basalt_request_log_dropped_total {}\n\
             # HELP basalt_request_log_write_errors_total Batches the request log store refused.\n\
             # TYPE basalt_request_log_write_errors_total counter\n\
             basalt_request_log_write_errors_total {}\n\
             # HELP basalt_request_log_write_seconds Time to store one batch of request log entries.\n\
             # TYPE basalt_request_log_write_seconds histogram",
            c.queued.load(Ordering::Relaxed),
            c.written.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed),
            c.write_errors.load(Ordering::Relaxed),
        );
        c.write_latency
            .render(out, "basalt_request_log_write_seconds", "");
    }
}
