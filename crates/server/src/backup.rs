//! `basalt backup` and `basalt restore`: a consistent copy of a SQLite
//! project (its databases and the bytes of its files), taken while the
//! server runs, to a directory or an S3 prefix, and put back into a new
//! data directory.
//!
//! A backup is a folder: `basalt.db` (and `executions.db`, `logs.db` when
//! they exist), each a `VACUUM INTO` snapshot; `files/<key>` for the bytes
//! of every object in that snapshot; and `manifest.json` last, with the size
//! and SHA-256 of each database, so a folder without one is an unfinished
//! backup. Objects deleted between the snapshot and the copy of their bytes
//! are listed as `missing` in the manifest.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use basalt_core::config::Config;
use basalt_files::Backing;
use futures_util::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::transfer::copy;

/// The databases a backup holds, the first required.
const DATABASES: [&str; 3] = ["basalt.db", "executions.db", "logs.db"];
const MANIFEST: &str = "manifest.json";
const CHUNK: usize = 8 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub version: String,
    pub created_at: basalt_core::Timestamp,
    pub databases: Vec<DatabaseCopy>,
    pub objects: u64,
    pub object_bytes: u64,
    /// Objects of the snapshot whose bytes were gone when they were copied.
    pub missing: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DatabaseCopy {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Where a backup goes or comes from: a store and a prefix in it.
struct Place {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    label: String,
}

impl Place {
    fn path(&self, name: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(name)
        } else {
            StorePath::from(format!("{}/{name}", self.prefix))
        }
    }

    /// `s3://bucket[/prefix]` (with the S3 settings of `config`) or a directory.
    fn open(location: &str, config: &Config, create: bool) -> Result<Place, String> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("{location}: use s3://<bucket>[/<prefix>]"));
            }
            let backing = crate::app::s3_backing(config, bucket);
            let (store, _) = basalt_files::open_store(&backing).map_err(|e| e.message().to_owned())?;
            return Ok(Place {
                store,
                prefix: prefix.trim_matches('/').to_owned(),
                label: location.to_owned(),
            });
        }
        if location.contains("://") && !location.starts_with("file://") {
            return Err(format!("{location}: use a directory or s3://<bucket>[/<prefix>]"));
        }
        let dir = PathBuf::from(location.trim_start_matches("file://"));
        if !create && !dir.is_dir() {
            return Err(format!("{}: no such directory", dir.display()));
        }
        let (store, _) =
            basalt_files::open_store(&Backing::Local(dir.clone())).map_err(|e| e.message().to_owned())?;
        Ok(Place {
            store,
            prefix: String::new(),
            label: dir.display().to_string(),
        })
    }

    async fn exists(&self, name: &str) -> Result<bool, String> {
        match self.store.head(&self.path(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(format!("{}: {e}", self.label)),
        }
    }
}

/// The SQLite file of the main database, or an error on PostgreSQL.
fn main_database(config: &Config) -> Result<PathBuf, String> {
    match config.database_url.as_ref().map(|u| u.expose().as_str()) {
        None => Ok(config.data_dir.join("basalt.db")),
        Some(url) if url.starts_with("sqlite:") => Ok(PathBuf::from(
            url.trim_start_matches("sqlite://").trim_start_matches("sqlite:"),
        )),
        Some(_) => Err(
            "basalt backup and restore copy a SQLite project; on PostgreSQL, back up the database with \
             pg_dump or continuous archiving and the files with your object store's tools (docs/backups.md)"
                .into(),
        ),
    }
}

/// Where each of [`DATABASES`] lives.
fn database_paths(config: &Config) -> Result<Vec<(&'static str, PathBuf)>, String> {
    let main = main_database(config)?;
    Ok(vec![
        (DATABASES[0], main),
        (DATABASES[1], config.data_dir.join(DATABASES[1])),
        (DATABASES[2], config.data_dir.join(DATABASES[2])),
    ])
}

/// Streams the file at `path` to `to`; returns its size and SHA-256.
async fn upload(path: &Path, place: &Place, name: &str) -> Result<(u64, String), String> {
    let upload = place
        .store
        .put_multipart(&place.path(name))
        .await
        .map_err(|e| format!("{}: {e}", place.label))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK);
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = tokio::task::block_in_place(|| file.read(&mut buf))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
        writer.wait_for_capacity(4).await.map_err(|e| e.to_string())?;
        writer.write(&buf[..n]);
    }
    writer
        .finish()
        .await
        .map_err(|e| format!("{}: {e}", place.label))?;
    Ok((size, hex(&hash.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The object keys and sizes of the SQLite database at `path`.
async fn object_keys(path: &Path) -> Result<Vec<(String, u64)>, String> {
    let url = format!("sqlite:{}", path.display());
    let db = basalt_store::Db::connect(Some(&url), Path::new(""), 1)
        .await
        .map_err(|e| e.to_string())?;
    let rows = db
        .fetch_all("SELECT key, size FROM objects ORDER BY key", &[])
        .await
        .map_err(|e| e.to_string())?;
    db.close().await;
    rows.iter()
        .map(|r| Ok((r.text(0)?, r.int(1)?.max(0) as u64)))
        .collect::<Result<_, basalt_store::StoreError>>()
        .map_err(|e| e.to_string())
}

/// Backs up the project of `config` to `to` while its server may run.
pub async fn backup(config: &Config, to: &str) -> Result<Manifest, String> {
    let started = Instant::now();
    let databases = database_paths(config)?;
    if !databases[0].1.is_file() {
        return Err(format!("no database at {}", databases[0].1.display()));
    }
    let place = Place::open(to, config, true)?;
    if place.exists(MANIFEST).await? || place.exists(DATABASES[0]).await? {
        return Err(format!(
            "{} already holds a backup: give a new place",
            place.label
        ));
    }
    let (files, _) = basalt_files::open_store(&crate::app::backing(config).map_err(|e| e.0)?)
        .map_err(|e| e.message().to_owned())?;
    // Snapshots beside the database (the same disk), removed when done.
    let scratch = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(databases[0].1.parent().unwrap_or(Path::new(".")))
        .map_err(|e| format!("cannot make a scratch directory: {e}"))?;
    let mut copies = Vec::new();
    let mut snapshot_of_main = None;
    for (name, path) in &databases {
        if !path.is_file() {
            continue;
        }
        let snapshot = scratch.path().join(name);
        basalt_store::sqlite_snapshot(path, &snapshot)
            .await
            .map_err(|e| format!("cannot snapshot {}: {e}", path.display()))?;
        let (bytes, sha256) = upload(&snapshot, &place, name).await?;
        copies.push(DatabaseCopy {
            name: (*name).to_owned(),
            bytes,
            sha256,
        });
        if snapshot_of_main.is_none() {
            snapshot_of_main = Some(snapshot);
        }
    }
    let keys = object_keys(
        snapshot_of_main
            .as_deref()
            .expect("the main database is copied first"),
    )
    .await?;
    let (mut objects, mut object_bytes, mut missing) = (0u64, 0u64, Vec::new());
    for (key, size) in keys {
        let dest = place.path(&format!("files/{key}"));
        if copy(
            files.as_ref(),
            &StorePath::from(key.as_str()),
            place.store.as_ref(),
            &dest,
        )
        .await?
        {
            objects += 1;
            object_bytes += size;
        } else {
            missing.push(key);
        }
    }
    let manifest = Manifest {
        format: 1,
        version: crate::app::VERSION.to_owned(),
        created_at: basalt_core::Timestamp::now(),
        databases: copies,
        objects,
        object_bytes,
        missing,
        seconds: started.elapsed().as_secs_f64(),
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    place
        .store
        .put(&place.path(MANIFEST), text.into())
        .await
        .map_err(|e| format!("{}: {e}", place.label))?;
    Ok(manifest)
}

/// Restores the backup at `from` into the (new, empty) data directory and
/// file store of `config`. The server must not run.
pub async fn restore(config: &Config, from: &str) -> Result<Manifest, String> {
    let started = Instant::now();
    let databases = database_paths(config)?;
    if databases.iter().any(|(_, p)| p.exists()) {
        return Err(format!(
            "{} already holds a database: restore into a new data directory (and stop the server)",
            config.data_dir.display()
        ));
    }
    let place = Place::open(from, config, false)?;
    let manifest: Manifest = match place.store.get(&place.path(MANIFEST)).await {
        Ok(got) => serde_json::from_slice(&got.bytes().await.map_err(|e| e.to_string())?)
            .map_err(|e| format!("{}: the manifest is not readable: {e}", place.label))?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(format!(
                "{}: no manifest.json: not a backup, or an unfinished one",
                place.label
            ));
        }
        Err(e) => return Err(format!("{}: {e}", place.label)),
    };
    if manifest.format != 1 {
        return Err(format!(
            "backup format {} is not known to this version",
            manifest.format
        ));
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    // Each database is checked against the manifest before it takes its place.
    let mut placed: Vec<PathBuf> = Vec::new();
    let outcome = async {
        for copy in &manifest.databases {
            let Some((_, path)) = databases.iter().find(|(n, _)| *n == copy.name) else {
                return Err(format!("the backup holds an unknown database {}", copy.name));
            };
            let partial = path.with_extension("db.restoring");
            let (bytes, sha256) = download(&place, &copy.name, &partial).await?;
            if bytes != copy.bytes || sha256 != copy.sha256 {
                let _ = std::fs::remove_file(&partial);
                return Err(format!(
                    "{} does not match the manifest: the backup is damaged",
                    copy.name
                ));
            }
            let integrity = basalt_store::sqlite_integrity(&partial)
                .await
                .map_err(|e| e.to_string())?;
            if integrity != "ok" {
                let _ = std::fs::remove_file(&partial);
                return Err(format!("{} fails its integrity check: {integrity}", copy.name));
            }
            std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))?;
            placed.push(path.clone());
        }
        let (files, _) = basalt_files::open_store(&crate::app::backing(config).map_err(|e| e.0)?)
            .map_err(|e| e.message().to_owned())?;
        for (key, _) in object_keys(&databases[0].1).await? {
            if manifest.missing.contains(&key) {
                continue;
            }
            let source = place.path(&format!("files/{key}"));
            if !copy(
                place.store.as_ref(),
                &source,
                files.as_ref(),
                &StorePath::from(key.as_str()),
            )
            .await?
            {
                return Err(format!("the backup lacks the bytes of {key}"));
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        for path in placed {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    Ok(Manifest {
        seconds: started.elapsed().as_secs_f64(),
        ..manifest
    })
}

/// Streams `name` from `place` into the file `dest`; returns its size and SHA-256.
async fn download(place: &Place, name: &str, dest: &Path) -> Result<(u64, String), String> {
    let got = place
        .store
        .get(&place.path(name))
        .await
        .map_err(|e| format!("{}/{name}: {e}", place.label))?;
    let mut file = std::fs::File::create(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("{}/{name}: {e}", place.label))?;
        hash.update(&chunk);
        size += chunk.len() as u64;
        tokio::task::block_in_place(|| file.write_all(&chunk))
            .map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    tokio::task::block_in_place(|| file.sync_all()).map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok((size, hex(&hash.finalize())))
}

/// A line for the command line.
pub fn summary(m: &Manifest) -> String {
    let dbs: u64 = m.databases.iter().map(|d| d.bytes).sum();
    let mut s = format!(
        "{} database(s), {:.1} MiB; {} object(s), {:.1} MiB of files; {:.1} s",
        m.databases.len(),
        dbs as f64 / 1048576.0,
        m.objects,
        m.object_bytes as f64 / 1048576.0,
        m.seconds
    );
    if !m.missing.is_empty() {
        s.push_str(&format!(
            "; {} object(s) deleted while the backup ran are without their bytes",
            m.missing.len()
        ));
    }
    s
}

/// One scheduled or requested backup, as `GET /v1/admin/backups` shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Run {
    /// The folder's name: the time it started, `YYYYMMDDTHHMMSSZ`.
    pub name: String,
    pub location: String,
    pub started_at: basalt_core::Timestamp,
    pub seconds: f64,
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
    pub database_bytes: u64,
    pub objects: u64,
    /// Objects deleted while it ran, without their bytes.
    pub missing: usize,
}

/// Scheduled backups: their settings, the next slot, the last run.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Status {
    /// `backup_schedule`; none: no scheduled backups (a backup can still be asked for).
    pub schedule: Option<String>,
    pub to: Option<String>,
    pub keep: u32,
    pub next_at: Option<basalt_core::Timestamp>,
    pub running: bool,
    pub last: Option<Run>,
    /// The backups at `to`, newest first.
    pub backups: Vec<String>,
}

/// Runs backups on the schedule, or when an admin asks; one at a time.
#[derive(Default)]
pub struct Scheduler {
    status: std::sync::Mutex<Status>,
    runs_ok: std::sync::atomic::AtomicU64,
    runs_failed: std::sync::atomic::AtomicU64,
}

impl Scheduler {
    pub fn status(&self) -> Status {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The scheduler's numbers in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        use std::sync::atomic::Ordering;
        let status = self.status();
        let _ = writeln!(
            out,
            "# HELP basalt_backup_runs_total Backups run, by result.\n# TYPE basalt_backup_runs_total counter\nbasalt_backup_runs_total{{result=\"ok\"}} {}\nbasalt_backup_runs_total{{result=\"failed\"}} {}",
            self.runs_ok.load(Ordering::Relaxed),
            self.runs_failed.load(Ordering::Relaxed)
        );
        if let Some(last) = status.last.as_ref().filter(|r| r.ok) {
            let _ = writeln!(
                out,
                "# HELP basalt_backup_last_success_timestamp_seconds When the last backup that succeeded started.\n# TYPE basalt_backup_last_success_timestamp_seconds gauge\nbasalt_backup_last_success_timestamp_seconds {}\n# HELP basalt_backup_last_duration_seconds How long the last successful backup took.\n# TYPE basalt_backup_last_duration_seconds gauge\nbasalt_backup_last_duration_seconds {:.3}",
                last.started_at.seconds(),
                last.seconds
            );
        }
    }

    /// Starts a backup to `config.backup_to` now, unless one is running.
    pub fn start_now(self: &Arc<Self>, config: &Arc<Config>) -> Result<String, basalt_core::Error> {
        let Some(to) = config.backup_to.clone() else {
            return Err(basalt_core::Error::new(
                basalt_core::Code::FailedPrecondition,
                "no backup_to is configured: set it to a directory or s3://bucket/prefix",
            ));
        };
        let started = basalt_core::Timestamp::now();
        let name = folder_name(started);
        {
            let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
            if status.running {
                return Err(basalt_core::Error::new(
                    basalt_core::Code::Aborted,
                    "a backup is running",
                ));
            }
            status.running = true;
        }
        let (me, config, folder) = (self.clone(), config.clone(), name.clone());
        tokio::spawn(async move { me.run(&config, &to, &folder, started).await });
        Ok(name)
    }

    async fn run(&self, config: &Config, to: &str, name: &str, started_at: basalt_core::Timestamp) {
        use std::sync::atomic::Ordering;
        let location = format!("{}/{name}", to.trim_end_matches('/'));
        let t0 = Instant::now();
        let outcome = backup(config, &location).await;
        let run = match &outcome {
            Ok(m) => Run {
                name: name.to_owned(),
                location: location.clone(),
                started_at,
                seconds: t0.elapsed().as_secs_f64(),
                ok: true,
                error: None,
                database_bytes: m.databases.iter().map(|d| d.bytes).sum(),
                objects: m.objects,
                missing: m.missing.len(),
            },
            Err(e) => Run {
                name: name.to_owned(),
                location: location.clone(),
                started_at,
                seconds: t0.elapsed().as_secs_f64(),
                ok: false,
                error: Some(e.clone()),
                database_bytes: 0,
                objects: 0,
                missing: 0,
            },
        };
        if run.ok {
            self.runs_ok.fetch_add(1, Ordering::Relaxed);
            tracing::info!(location = %location, seconds = run.seconds, objects = run.objects, "backup written");
        } else {
            self.runs_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(location = %location, error = run.error.as_deref().unwrap_or(""), "backup failed");
        }
        let kept = match prune(config, to, config.backup_keep).await {
            Ok(kept) => kept,
            Err(e) => {
                tracing::warn!(error = %e, "could not delete old backups");
                Vec::new()
            }
        };
        self.update(|s| {
            s.running = false;
            s.last = Some(run);
            s.backups = kept;
        });
    }
}

/// `YYYYMMDDTHHMMSSZ` of `t`, which sorts as time does.
fn folder_name(t: basalt_core::Timestamp) -> String {
    t.to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .take(15)
        .collect::<String>()
        + "Z"
}

/// Deletes complete backups at `to` beyond the newest `keep`, and unfinished
/// ones older than the newest complete one; returns those kept, newest first.
async fn prune(config: &Config, to: &str, keep: u32) -> Result<Vec<String>, String> {
    let place = Place::open(to, config, true)?;
    let prefix = (!place.prefix.is_empty()).then(|| StorePath::from(place.prefix.as_str()));
    let listed = place
        .store
        .list_with_delimiter(prefix.as_ref())
        .await
        .map_err(|e| format!("{}: {e}", place.label))?;
    let mut names: Vec<String> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_owned))
        .filter(|n| n.len() == 16 && n.ends_with('Z') && n.as_bytes()[8] == b'T')
        .collect();
    names.sort_unstable_by(|a, b| b.cmp(a));
    let mut kept = Vec::new();
    let mut complete_seen = 0u32;
    for name in names {
        let complete = place.exists(&format!("{name}/{MANIFEST}")).await?;
        let stays = if complete {
            complete_seen += 1;
            complete_seen <= keep
        } else {
            // Running now, or left by a crash: only the newest may be in progress.
            complete_seen == 0
        };
        if stays {
            if complete {
                kept.push(name);
            }
            continue;
        }
        let under = place.path(&name);
        let mut objects = place.store.list(Some(&under));
        while let Some(object) = objects.next().await {
            let object = object.map_err(|e| e.to_string())?;
            place
                .store
                .delete(&object.location)
                .await
                .map_err(|e| format!("deleting {}: {e}", object.location))?;
        }
    }
    Ok(kept)
}

/// Runs backups at every slot of `config.backup_schedule` while the server lives.
pub fn spawn_schedule(scheduler: Arc<Scheduler>, config: Arc<Config>) -> Result<(), String> {
    let (Some(cron), Some(to)) = (config.backup_schedule.clone(), config.backup_to.clone()) else {
        return Ok(());
    };
    main_database(&config)?;
    let plan = basalt_functions::Plan::parse(&cron, None)
        .map_err(|e| format!("backup_schedule: {}", e.message()))?;
    let now = basalt_core::Timestamp::now().millis();
    scheduler.update(|s| {
        s.schedule = Some(cron.clone());
        s.to = Some(to.clone());
        s.keep = config.backup_keep;
        s.next_at = plan.next(now).map(basalt_core::Timestamp::from_millis);
    });
    let weak = Arc::downgrade(&scheduler);
    tokio::spawn(async move {
        if let Some(s) = weak.upgrade()
            && let Ok(kept) = prune(&config, &to, config.backup_keep).await
        {
            s.update(|st| st.backups = kept);
        }
        loop {
            let now = basalt_core::Timestamp::now().millis();
            let Some(next) = plan.next(now) else { return };
            tokio::time::sleep(std::time::Duration::from_millis((next - now).max(0) as u64)).await;
            let Some(s) = weak.upgrade() else { return };
            s.update(|st| st.next_at = plan.next(next + 1).map(basalt_core::Timestamp::from_millis));
            // A run still going at the next slot makes that slot skip.
            if let Err(e) = s.start_now(&config) {
                tracing::warn!(error = %e.message(), "scheduled backup skipped");
            }
        }
    });
    Ok(())
}

/// `GET /v1/admin/backups` and `POST /v1/admin/backups`.
pub fn api() -> basalt_core::api::Api<crate::app::AppState> {
    use basalt_core::api::{Access, Api, Route};
    use basalt_core::caller::AdminRole;
    Api::new()
        .route(
            Route::get("/v1/admin/backups", status)
                .tag("admin")
                .summary("Scheduled backups: the schedule, the next slot, the last run and the backups kept")
                .access(Access::Admin)
                .response::<Status>(200, "The state of backups"),
        )
        .route(
            Route::post("/v1/admin/backups", start)
                .tag("admin")
                .summary("Start a backup to backup_to now (SQLite); GET /v1/admin/backups shows how it went")
                .access(Access::Admin)
                .role(AdminRole::Developer)
                .response::<Started>(202, "The backup started"),
        )
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Started {
    /// The folder it writes, under backup_to.
    pub name: String,
}

async fn status(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
) -> basalt_core::extract::Json<Status> {
    basalt_core::extract::Json(state.backups.status())
}

async fn start(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
) -> Result<(axum::http::StatusCode, basalt_core::extract::Json<Started>), basalt_core::Error> {
    main_database(&state.config)
        .map_err(|e| basalt_core::Error::new(basalt_core::Code::FailedPrecondition, e))?;
    let name = state.backups.start_now(&state.config)?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        basalt_core::extract::Json(Started { name }),
    ))
}
