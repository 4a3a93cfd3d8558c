//! The server log: tracing events formatted on the request's thread, then
//! handed to a bounded queue that one thread drains into a buffered
//! stderr. A request never waits for the disk or a slow terminal; when the
//! queue is full the line is dropped and counted (`/metrics`).

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Lines waiting for the writer thread.
const QUEUE: usize = 8192;

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    let _ = match format {
        Format::Text => builder.with_ansi(ansi).try_init(),
        Format::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
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
