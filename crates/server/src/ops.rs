//! Health, readiness, metrics and the OpenAPI document.

use std::fmt::Write;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use basalt_core::api::{Access, Api, Route};
use basalt_core::extract::Json;
use basalt_core::metrics::Metrics;
use basalt_core::{Error, metrics::escape};
use basalt_store::Db;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;

use crate::app::{AppState, VERSION};

const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn api() -> Api<AppState> {
    Api::new()
        .route(
            Route::get("/v1/health", health)
                .tag("ops")
                .summary("Liveness: 200 while the process runs")
                .access(Access::Public)
                .response::<Health>(200, "The process is up"),
        )
        .route(
            Route::get("/v1/health/ready", ready)
                .tag("ops")
                .summary("Readiness: 200 when the database and the file store answer, else 503")
                .access(Access::Public)
                .response::<Health>(200, "Ready to serve"),
        )
        .route(
            Route::get("/metrics", metrics)
                .tag("ops")
                .summary("Prometheus metrics")
                .access(Access::Public)
                .raw_response(
                    200,
                    "text/plain; version=0.0.4",
                    "Metrics in the Prometheus text format",
                ),
        )
        .route(
            Route::get("/v1/admin/stats", stats)
                .tag("admin")
                .summary("Counts: users, collections, documents (also per collection), objects, realtime connections")
                .access(Access::Admin)
                .response::<Stats>(200, "The counts"),
        )
        .route(
            Route::get("/v1/openapi.json", openapi)
                .tag("ops")
                .summary("This OpenAPI document")
                .access(Access::Public)
                .raw_response(200, "application/json", "OpenAPI 3.1"),
        )
}

#[derive(Serialize, JsonSchema)]
pub struct Stats {
    users: i64,
    collections: i64,
    documents: i64,
    objects: i64,
    /// Open realtime connections.
    connections: i64,
    /// Documents per collection, by name.
    documents_by_collection: std::collections::BTreeMap<String, i64>,
}

async fn stats(_: basalt_core::AdminCaller, State(state): State<AppState>) -> Result<Json<Stats>, Error> {
    let by_collection = state.documents.stats().await?;
    Ok(Json(Stats {
        users: state.auth.user_count().await?,
        collections: by_collection.len() as i64,
        documents: by_collection.iter().map(|(_, n)| n).sum(),
        objects: state.files.object_count().await?,
        connections: state.realtime.connections(),
        documents_by_collection: by_collection.into_iter().collect(),
    }))
}

#[derive(Serialize, JsonSchema)]
pub struct Health {
    /// Always `ok` on a 200.
    status: &'static str,
    version: &'static str,
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: VERSION,
    })
}

async fn ready(State(state): State<AppState>) -> Result<Json<Health>, Error> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::unavailable("the server is shutting down")
            .with_details(json!({"checks": {"shutdown": "draining"}})));
    }
    let (db, files) = tokio::join!(state.db.ping(READY_TIMEOUT), state.files.ping());
    if let Err(e) = &db {
        tracing::warn!(error = %e, "readiness check failed: database");
    }
    if let Err(e) = &files {
        tracing::warn!(error = %e, "readiness check failed: file store");
    }
    if db.is_ok() && files.is_ok() {
        return Ok(Json(Health {
            status: "ok",
            version: VERSION,
        }));
    }
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    Err(
        Error::unavailable("a backing service does not answer").with_details(
            json!({"checks": {"database": status(db.is_ok()), "file_store": status(files.is_ok())}}),
        ),
    )
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        axum::body::Bytes::copy_from_slice(&state.openapi),
    )
        .into_response()
}

/// Process and database-pool gauges, read at scrape time.
pub fn register_metrics(metrics: &Metrics, db: &Db) {
    metrics.register(crate::logging::render_metrics);
    let db = db.clone();
    let backend = db.backend().as_str();
    metrics.register(move |out| {
        let _ = writeln!(
            out,
            "# HELP basalt_build_info Basalt version and database backend."
        );
        let _ = writeln!(out, "# TYPE basalt_build_info gauge");
        let _ = writeln!(
            out,
            "basalt_build_info{{version=\"{}\",backend=\"{backend}\"}} 1",
            escape(VERSION)
        );
        let _ = writeln!(
            out,
            "# HELP basalt_db_pool_connections Database connections by pool and state."
        );
        let _ = writeln!(out, "# TYPE basalt_db_pool_connections gauge");
        for (pool, size, idle) in db.pool_stats() {
            let _ = writeln!(
                out,
                "basalt_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}} {idle}"
            );
            let _ = writeln!(
                out,
                "basalt_db_pool_connections{{pool=\"{pool}\",state=\"in_use\"}} {}",
                size.saturating_sub(idle)
            );
        }
        if let Some(rss) = resident_memory_bytes() {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes."
            );
            let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
    });
}

fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
