//! The accept loop. Each connection is HTTP/1.1 with a deadline for its
//! request headers (which also ends a keep-alive connection left idle), a
//! bound on the size of those headers (431 past it, and past 100 headers),
//! and a cap on how many connections are open at once, so that clients which
//! connect and then say nothing cannot hold the server's memory and file
//! descriptors.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Largest request line plus headers, in bytes. Tokens, cookies and the
/// usual proxy headers fit many times over.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// What the accept loop allows a connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time a client has to send a request's headers, counted from when the
    /// connection opens or its previous response was written.
    pub header_timeout: Duration,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Set while the server drains before it stops: responses then close
    /// their connection, so keep-alive clients reconnect elsewhere.
    pub draining: Arc<AtomicBool>,
}

/// Connections closed at once because `max_connections` were open.
pub static REFUSED: AtomicU64 = AtomicU64::new(0);
/// HTTP connections open now (a WebSocket leaves this count at its upgrade).
pub static OPEN: AtomicU64 = AtomicU64::new(0);

/// The accept loop's numbers in the Prometheus text format.
pub fn render_metrics(out: &mut String) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "# HELP basalt_http_connections Open HTTP connections.\n# TYPE basalt_http_connections gauge\nbasalt_http_connections {}",
        OPEN.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP basalt_http_connections_refused_total Connections closed on accept because max_connections were open.\n# TYPE basalt_http_connections_refused_total counter\nbasalt_http_connections_refused_total {}",
        REFUSED.load(Ordering::Relaxed)
    );
}

/// Counts a connection open while it lives.
struct Open;

impl Open {
    fn new() -> Open {
        OPEN.fetch_add(1, Ordering::Relaxed);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts connections until `shutdown` resolves, then stops accepting, asks
/// every connection to finish its request in flight, and returns when they
/// have all closed. Upgraded connections (WebSockets) belong to their
/// handlers from the upgrade on.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_HEADER_BYTES);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a receiver; `closed()` resolves when all are gone.
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, addr) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // A connection reset before it was accepted concerns only that
                // client; anything else (out of file descriptors) gets a pause
                // so the loop does not spin.
                if !is_per_connection(&e) {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        // Responses are written as they stream: without TCP_NODELAY a small
        // write after the headers waits ~40 ms for the client's delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let router = router.clone();
        let draining = limits.draining.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
            let response = router.clone().oneshot(req);
            let draining = draining.clone();
            async move {
                let mut response = response.await?;
                if draining.load(Ordering::Relaxed)
                    && response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS
                {
                    response.headers_mut().insert(
                        hyper::header::CONNECTION,
                        hyper::header::HeaderValue::from_static("close"),
                    );
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let connection = http.serve_connection(TokioIo::new(tcp), service).with_upgrades();
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _open = open;
            let _counted = Open::new();
            let mut connection = pin!(connection);
            let stopping = async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            };
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
}

fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    )
}
