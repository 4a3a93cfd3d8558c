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
/// How lines look (format, colours), for lines written without tracing.
static STYLE: OnceLock<LineFormat> = OnceLock::new();

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
        self.queue.push(std::mem::take(&mut self.buf));
    }
}

impl Queue {
    /// Hands a line to the writer thread, or drops and counts it when the
    /// queue is full: never waits.
    fn push(&self, line: Vec<u8>) {
        self.depth.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                self.dropped.fetch_add(1, Ordering::Relaxed);
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
    let _ = STYLE.set(LineFormat { format, ansi });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .event_format(LineFormat { format, ansi })
        .try_init();
}

/// One line per event: time, level, the request id when the event
/// happened while handling a request, the message and its fields. Values
/// are escaped, so request data cannot break a line or colour a terminal.
#[derive(Clone, Copy)]
struct LineFormat {
    format: Format,
    ansi: bool,
}

impl LineFormat {
    /// The start of a line: time and level (text), or the object's first
    /// members (JSON).
    fn head(&self, out: &mut String, level: tracing::Level) {
        let time = basalt_core::Timestamp::now();
        match self.format {
            Format::Text => {
                push_time(out, time);
                let (on, off) = match (self.ansi, level) {
                    (false, _) => ("", ""),
                    (true, tracing::Level::ERROR) => ("\x1b[31m", "\x1b[0m"),
                    (true, tracing::Level::WARN) => ("\x1b[33m", "\x1b[0m"),
                    (true, tracing::Level::INFO) => ("\x1b[32m", "\x1b[0m"),
                    (true, _) => ("\x1b[34m", "\x1b[0m"),
                };
                out.push(' ');
                out.push_str(on);
                let name = level.as_str();
                for _ in name.len()..5 {
                    out.push(' ');
                }
                out.push_str(name);
                out.push_str(off);
            }
            Format::Json => {
                out.push_str("{\"time\":\"");
                push_time(out, time);
                out.push_str("\",\"level\":\"");
                out.push_str(level.as_str());
                out.push('"');
            }
        }
    }
}

fn push_time(out: &mut String, time: basalt_core::Timestamp) {
    match time.rfc3339() {
        Some(bytes) => out.push_str(std::str::from_utf8(&bytes).unwrap_or_default()),
        None => {
            let _ = write!(out, "{time}");
        }
    }
}

fn push_u64(out: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Microseconds as milliseconds with at most three decimals and no
/// trailing zeros (`156` → `0.156`, `1500` → `1.5`, `2000` → `2`).
fn push_millis(out: &mut String, micros: u64) {
    push_u64(out, micros / 1000);
    let mut frac = micros % 1000;
    if frac == 0 {
        return;
    }
    out.push('.');
    let mut width = 3;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    let mut digits = [b'0'; 3];
    for i in (0..width).rev() {
        digits[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[..width]).unwrap_or_default());
}

/// One request's line, as the request middleware logs it.
pub struct RequestLine<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub latency_us: u64,
    pub caller: &'a str,
    pub caller_id: &'a str,
}

/// Logs a request's line at `info`: the same line the formatter writes
/// for `info!(request_id, method, route, status, latency_ms, caller,
/// caller_id, "request")`, built without tracing's machinery, since it is
/// written once per request. The caller checks that `info` is on.
pub fn request(line: &RequestLine<'_>) {
    let (Some(queue), Some(style)) = (QUEUE_HANDLE.get(), STYLE.get()) else {
        return;
    };
    let mut out = String::with_capacity(224);
    style.head(&mut out, tracing::Level::INFO);
    let strings = [
        ("request_id", line.request_id),
        ("method", line.method),
        ("route", line.route),
    ];
    match style.format {
        Format::Text => {
            out.push_str(" request");
            for (name, value) in strings {
                text_field(&mut out, name, value);
            }
            out.push_str(" status=");
            push_u64(&mut out, u64::from(line.status));
            out.push_str(" latency_ms=");
            push_millis(&mut out, line.latency_us);
            text_field(&mut out, "caller", line.caller);
            text_field(&mut out, "caller_id", line.caller_id);
        }
        Format::Json => {
            out.push_str(",\"message\":\"request\"");
            for (name, value) in strings {
                json_field(&mut out, name, value);
            }
            out.push_str(",\"status\":");
            push_u64(&mut out, u64::from(line.status));
            out.push_str(",\"latency_ms\":");
            push_millis(&mut out, line.latency_us);
            json_field(&mut out, "caller", line.caller);
            json_field(&mut out, "caller_id", line.caller_id);
            out.push('}');
        }
    }
    out.push('\n');
    queue.push(out.into_bytes());
}

/// ` name="value"`, the value escaped.
fn text_field(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_text(out, value);
    out.push('"');
}

/// `,"name":"value"`, the value escaped.
fn json_field(out: &mut String, name: &str, value: &str) {
    out.push(',');
    json_string(out, name);
    out.push(':');
    json_string(out, value);
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
        let level = *event.metadata().level();
        let request_id = REQUEST_ID.try_with(Arc::clone).ok();
        let mut out = String::with_capacity(256);
        self.head(&mut out, level);
        match self.format {
            Format::Text => {
                if let Some(id) = &request_id {
                    out.push_str(" request_id=");
                    escape_text(&mut out, id);
                }
                event.record(&mut TextFields { out: &mut out });
            }
            Format::Json => {
                if let Some(id) = &request_id {
                    out.push_str(",\"request_id\":");
                    json_string(&mut out, id);
                }
                event.record(&mut JsonFields { out: &mut out });
                out.push('}');
            }
        }
        out.push('\n');
        w.write_str(&out)
    }
}

struct TextFields<'a> {
    out: &'a mut String,
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.out.push(' ');
            escape_text(self.out, value);
        } else {
            text_field(self.out, field.name(), value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put_plain(field, value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        push_u64(self.out, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put_plain(field, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut raw = String::new();
        let _ = write!(raw, "{value:?}");
        if field.name() == "message" {
            self.out.push(' ');
        } else {
            self.key(field);
        }
        escape_text(self.out, &raw);
    }
}

impl TextFields<'_> {
    /// ` name=`
    fn key(&mut self, field: &Field) {
        self.out.push(' ');
        self.out.push_str(field.name());
        self.out.push('=');
    }

    /// A number: nothing in it needs escaping.
    fn put_plain(&mut self, field: &Field, value: impl std::fmt::Display) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }
}

/// Writes `value` with control characters (newlines, escape sequences)
/// as `\u{..}` and quotes and backslashes escaped, so request data cannot
/// break a line or colour a terminal.
fn escape_text(out: &mut String, value: &str) {
    // Most values are plain printable ASCII: copied at once.
    if value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push_str(value);
        return;
    }
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
    let mut plain = 0;
    for (at, b) in value.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0..0x20 | 0x7f => "",
            _ => continue,
        };
        out.push_str(&value[plain..at]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        plain = at + 1;
    }
    out.push_str(&value[plain..]);
    out.push('"');
}

struct JsonFields<'a> {
    out: &'a mut String,
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        json_field(self.out, field.name(), value);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_written_as_numbers_without_trailing_zeros() {
        for (micros, text) in [
            (0, "0"),
            (7, "0.007"),
            (156, "0.156"),
            (220, "0.22"),
            (1000, "1"),
            (1500, "1.5"),
            (12_345, "12.345"),
            (u64::MAX, "18446744073709551.615"),
        ] {
            let mut out = String::new();
            push_millis(&mut out, micros);
            assert_eq!(out, text);
            if micros < 1 << 40 {
                assert_eq!(out.parse::<f64>().unwrap(), micros as f64 / 1000.0);
            }
        }
    }

    #[test]
    fn values_cannot_break_a_line_or_reach_a_terminal() {
        let hostile = "a\"b\\c\nd\re\u{1b}[31mf\u{7f}g\u{85}h é";
        let mut text = String::new();
        escape_text(&mut text, hostile);
        assert_eq!(text, "a\\\"b\\\\c\\u{a}d\\u{d}e\\u{1b}[31mf\\u{7f}g\\u{85}h é");
        let mut json = String::new();
        json_string(&mut json, hostile);
        assert!(!json.contains(['\n', '\r', '\u{1b}', '\u{7f}']), "{json}");
        let back: String = serde_json::from_str(&json).unwrap();
        assert_eq!(back, hostile);
        let mut plain = String::new();
        escape_text(&mut plain, "/v1/db/{collection}/{id}");
        assert_eq!(plain, "/v1/db/{collection}/{id}");
    }
}
