//! The server log: tracing events formatted on the request's thread, then
//! handed to a bounded queue that one thread drains into a buffered
//! stderr. A request never waits for the disk or a slow terminal; when the
//! queue is full the line is dropped and counted (`/metrics`).

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    /// The id of the request a task works for: every event logged while
    /// handling it carries it, without the cost of a tracing span.
    pub static REQUEST_ID: Arc<str>;
}

/// Lines waiting for the writer thread.
const QUEUE: usize = 8192;
/// How long the writer lets lines gather after writing a block.
const GATHER: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Format {
        match s {
            Some("json") => Format::Json,
            _ => Format::Text,
        }
    }
}

enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

struct Queue {
    tx: SyncSender<Message>,
    depth: AtomicUsize,
    dropped: AtomicU64,
    written: AtomicU64,
}

static QUEUE_HANDLE: OnceLock<Arc<Queue>> = OnceLock::new();

#[derive(Clone)]
struct QueueWriter(Arc<Queue>);

/// One formatted event; handed to the queue when the formatter drops it.
pub struct Line<'a> {
    buf: Vec<u8>,
    queue: &'a Queue,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.buf);
        self.queue.depth.fetch_add(1, Ordering::Relaxed);
        match self.queue.tx.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queue.depth.fetch_sub(1, Ordering::Relaxed);
                self.queue.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = Line<'a>;
    fn make_writer(&'a self) -> Line<'a> {
        Line {
            buf: Vec::with_capacity(256),
            queue: &self.0,
        }
    }
}

fn drain(rx: Receiver<Message>, queue: Arc<Queue>) {
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let handle = |m: Message, out: &mut BufWriter<std::io::Stderr>| match m {
        Message::Line(line) => {
            // A log that cannot be written has nowhere to complain to.
            let _ = out.write_all(&line);
            queue.depth.fetch_sub(1, Ordering::Relaxed);
            queue.written.fetch_add(1, Ordering::Relaxed);
        }
        Message::Flush(ack) => {
            let _ = out.flush();
            let _ = ack.send(());
        }
    };
    while let Ok(first) = rx.recv() {
        handle(first, &mut out);
        while let Ok(more) = rx.try_recv() {
            handle(more, &mut out);
        }
        let _ = out.flush();
        // Lines arrive in bursts under load: gathering them for a moment
        // spares every request a wake-up of this thread. The queue holds
        // far more than arrives in that time.
        std::thread::sleep(GATHER);
    }
}

/// Installs the global subscriber. Only the first call takes effect.
pub fn init(filter: &str, format: Format) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // sqlx reports every slow statement at info; keep that out of the default log.
        .add_directive("sqlx=warn".parse().expect("valid directive"));
    let queue = QUEUE_HANDLE.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE);
        let queue = Arc::new(Queue {
            tx,
            depth: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
        });
        let for_thread = queue.clone();
        let spawned = std::thread::Builder::new()
            .name("basalt-log".into())
            .spawn(move || drain(rx, for_thread));
        if let Err(e) = spawned {
            eprintln!("cannot start the log writer: {e}");
        }
        queue
    });
    let writer = QueueWriter(queue.clone());
    // Colours only for a person at a terminal; files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .event_format(LineFormat { format, ansi })
        .try_init();
}

/// One line per event: time, level, the request id when the event
/// happened while handling a request, the message and its fields. Values
/// are escaped, so request data cannot break a line or colour a terminal.
struct LineFormat {
    format: Format,
    ansi: bool,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let time = basalt_core::Timestamp::now();
        let level = *event.metadata().level();
        let request_id = REQUEST_ID.try_with(Arc::clone).ok();
        match self.format {
            Format::Text => {
                let (on, off) = match (self.ansi, level) {
                    (false, _) => ("", ""),
                    (true, tracing::Level::ERROR) => ("\x1b[31m", "\x1b[0m"),
                    (true, tracing::Level::WARN) => ("\x1b[33m", "\x1b[0m"),
                    (true, tracing::Level::INFO) => ("\x1b[32m", "\x1b[0m"),
                    (true, _) => ("\x1b[34m", "\x1b[0m"),
                };
                write!(w, "{time} {on}{level:>5}{off}")?;
                if let Some(id) = &request_id {
                    write!(w, " request_id={id}")?;
                }
                let mut v = TextFields {
                    out: &mut w,
                    result: Ok(()),
                };
                event.record(&mut v);
                v.result?;
                writeln!(w)
            }
            Format::Json => {
                let mut out = String::with_capacity(256);
                out.push_str("{\"time\":\"");
                let _ = write!(out, "{time}");
                out.push_str("\",\"level\":\"");
                out.push_str(level.as_str());
                out.push('"');
                if let Some(id) = &request_id {
                    out.push_str(",\"request_id\":");
                    json_string(&mut out, id);
                }
                let mut v = JsonFields { out: &mut out };
                event.record(&mut v);
                out.push('}');
                writeln!(w, "{out}")
            }
        }
    }
}

struct TextFields<'a, 'w> {
    out: &'a mut Writer<'w>,
    result: std::fmt::Result,
}

impl Visit for TextFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let quote = field.name() != "message";
        // Most values need no escaping: written as they are, without a copy.
        if value.chars().any(needs_escape) {
            let mut escaped = String::with_capacity(value.len() + 8);
            escape_text(&mut escaped, value);
            self.put(field, &escaped, quote);
        } else {
            self.put(field, value, quote);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put_plain(field, value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put_plain(field, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put_plain(field, value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put_plain(field, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut raw = String::new();
        let _ = write!(raw, "{value:?}");
        let mut escaped = String::with_capacity(raw.len());
        escape_text(&mut escaped, &raw);
        self.put(field, &escaped, false);
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '"' || c == '\\'
}

impl TextFields<'_, '_> {
    /// A number or a boolean: nothing in it needs escaping.
    fn put_plain(&mut self, field: &Field, value: impl std::fmt::Display) {
        if self.result.is_ok() {
            self.result = write!(self.out, " {}={value}", field.name());
        }
    }

    fn put(&mut self, field: &Field, value: &str, quote: bool) {
        if self.result.is_err() {
            return;
        }
        self.result = if field.name() == "message" {
            write!(self.out, " {value}")
        } else if quote {
            write!(self.out, " {}=\"{value}\"", field.name())
        } else {
            write!(self.out, " {}={value}", field.name())
        };
    }
}

/// Control characters (newlines, escape sequences) become `\u{..}`.
fn escape_text(out: &mut String, value: &str) {
    for c in value.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else if c == '"' || c == '\\' {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
}

fn json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct JsonFields<'a> {
    out: &'a mut String,
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        json_string(self.out, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            self.out.push_str("null");
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        let mut raw = String::new();
        let _ = write!(raw, "{value:?}");
        json_string(self.out, &raw);
    }
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.out.push(',');
        json_string(self.out, field.name());
        self.out.push(':');
    }
}

/// Writes out what is queued; waits at most `timeout`. Called before exit.
pub fn flush(timeout: Duration) {
    let Some(queue) = QUEUE_HANDLE.get() else {
        return;
    };
    let (ack_tx, ack_rx) = sync_channel(1);
    if queue.tx.send(Message::Flush(ack_tx)).is_ok() {
        let _ = ack_rx.recv_timeout(timeout);
    }
}

/// Prometheus lines for the server log's queue.
pub fn render_metrics(out: &mut String) {
    use std::fmt::Write;
    let Some(q) = QUEUE_HANDLE.get() else {
        return;
    };
    let _ = write!(
        out,
        "# HELP basalt_log_queue_depth Server log lines waiting to be written.\n\
         # TYPE basalt_log_queue_depth gauge\n\
         basalt_log_queue_depth {}\n\
         # HELP basalt_log_lines_written_total Server log lines written.\n\
         # TYPE basalt_log_lines_written_total counter\n\
         basalt_log_lines_written_total {}\n\
         # HELP basalt_log_lines_dropped_total Server log lines dropped because the queue was full.\n\
         # TYPE basalt_log_lines_dropped_total counter\n\
         basalt_log_lines_dropped_total {}\n",
        q.depth.load(Ordering::Relaxed),
        q.written.load(Ordering::Relaxed),
        q.dropped.load(Ordering::Relaxed),
    );
}
