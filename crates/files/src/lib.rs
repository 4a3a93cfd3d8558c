//! File storage: buckets, objects streamed to and from an object store
//! (a local directory or any S3-compatible server), metadata in the
//! database, storage rules, and HMAC-signed URLs.
#![forbid(unsafe_code)]

mod buckets;
mod objects;
mod path;
pub mod url_keys;

use std::sync::Arc;

use basalt_core::Error;
use basalt_rules::Rules;
use basalt_store::{Db, Param};
use object_store::ObjectStore;

pub use objects::api;
pub use path::ObjectPath;

/// Internals that parse untrusted input, for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::buckets::{NAME_PATTERN, check_name as check_bucket_name};
}

/// Where the bytes go.
#[derive(Debug, Clone)]
pub enum Backing {
    /// A directory on local disk.
    Local(std::path::PathBuf),
    /// An S3-compatible bucket.
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<basalt_core::Secret<String>>,
        allow_http: bool,
    },
}

/// The files slice's state.
#[derive(Clone)]
pub struct Files {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    store: Arc<dyn ObjectStore>,
    rules: Rules,
    /// The keys of signed URLs.
    url_keys: url_keys::UrlKeys,
    /// Where bytes go, for logs and readiness.
    backing: String,
}

impl Files {
    pub async fn start(db: Db, backing: &Backing, rules: Rules) -> Result<Files, Error> {
        let (store, label) = open_store(backing)?;
        let url_keys = url_keys::UrlKeys::load(&db).await?;
        let files = Files {
            inner: Arc::new(Inner {
                db,
                store,
                rules,
                url_keys,
                backing: label,
            }),
        };
        spawn_sweeper(Arc::downgrade(&files.inner));
        spawn_url_key_reload(Arc::downgrade(&files.inner));
        Ok(files)
    }

    /// Deletes stored bytes that no object refers to and that are older than
    /// `grace` (an upload still in progress is younger): what a crash between
    /// an upload and its metadata, or a failed delete, leaves behind.
    /// Returns how many were removed.
    pub async fn sweep(&self, grace: std::time::Duration) -> Result<usize, Error> {
        use futures_util::StreamExt;
        let cutoff = basalt_core::Timestamp::now().millis() - grace.as_millis() as i64;
        let mut listing = self.inner.store.list(None);
        let mut batch = Vec::new();
        let mut removed = 0;
        loop {
            let next = listing.next().await;
            if let Some(meta) = &next {
                let meta = meta.as_ref().map_err(Error::internal)?;
                let key = meta.location.to_string();
                if meta.last_modified.timestamp_millis() <= cutoff && looks_like_ours(&key) {
                    batch.push(key);
                }
            }
            if batch.len() >= 500 || (next.is_none() && !batch.is_empty()) {
                removed += self.delete_unreferenced(std::mem::take(&mut batch)).await?;
            }
            if next.is_none() {
                return Ok(removed);
            }
        }
    }

    async fn delete_unreferenced(&self, keys: Vec<String>) -> Result<usize, Error> {
        use object_store::ObjectStoreExt;
        let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT key FROM objects WHERE key IN ({})",
            placeholders.join(", ")
        );
        let params: Vec<Param<'_>> = keys.iter().map(|k| k.as_str().into()).collect();
        let referenced: std::collections::HashSet<String> = self
            .db()
            .fetch_all(&sql, &params)
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<_, _>>()?;
        let mut removed = 0;
        for key in keys.iter().filter(|k| !referenced.contains(*k)) {
            match self
                .inner
                .store
                .delete(&object_store::path::Path::from(key.as_str()))
                .await
            {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(key, error = %e, "could not sweep unreferenced bytes"),
            }
        }
        if removed > 0 {
            tracing::info!(removed, "swept bytes that no object refers to");
        }
        Ok(removed)
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// How many objects there are in all buckets (for admin stats).
    pub async fn object_count(&self) -> Result<i64, Error> {
        let row = self
            .db()
            .fetch_optional("SELECT count(*) FROM objects", &[])
            .await?;
        Ok(row.map(|r| r.int(0)).transpose()?.unwrap_or(0))
    }

    pub fn backing(&self) -> &str {
        &self.inner.backing
    }

    /// Whether the object store answers (for readiness).
    pub async fn ping(&self) -> Result<(), Error> {
        use futures_util::StreamExt;
        let mut list = self
            .inner
            .store
            .list(Some(&object_store::path::Path::from("_ready")));
        match tokio::time::timeout(std::time::Duration::from_secs(2), list.next()).await {
            Ok(None) | Ok(Some(Ok(_))) => Ok(()),
            Ok(Some(Err(e))) => Err(Error::unavailable(format!("the file store does not answer: {e}"))),
            Err(_) => Err(Error::unavailable("the file store does not answer")),
        }
    }
}

/// Only keys Basalt writes, `<bucket>/<26-character id>`, are ever swept:
/// anything else in the store is not Basalt's to delete.
fn looks_like_ours(key: &str) -> bool {
    let Some((bucket, id)) = key.split_once('/') else {
        return false;
    };
    crate::buckets::check_name(bucket).is_ok()
        && id.len() == 26
        && id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Sweeps unreferenced bytes every 30 minutes (older than an hour) while the slice lives.
fn spawn_sweeper(inner: std::sync::Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1800));
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            let files = Files { inner };
            if let Err(e) = files.sweep(std::time::Duration::from_secs(3600)).await {
                tracing::warn!(error = %e, "file sweep failed");
            }
        }
    });
}

/// The store `backing` names, and how to describe it in logs and banners.
pub fn open_store(backing: &Backing) -> Result<(Arc<dyn ObjectStore>, String), Error> {
    // The S3 client's TLS is rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let opened: (Arc<dyn ObjectStore>, String) = match backing {
        Backing::Local(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
            let store =
                object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(Error::internal)?;
            (Arc::new(store), format!("local directory {}", dir.display()))
        }
        Backing::S3 {
            bucket,
            endpoint,
            region,
            access_key_id,
            secret_access_key,
            allow_http,
        } => {
            // Standard AWS_* variables first, explicit settings over them.
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_allow_http(*allow_http);
            if let Some(e) = endpoint {
                b = b.with_endpoint(e);
            }
            if let Some(r) = region {
                b = b.with_region(r);
            }
            if let Some(k) = access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(s) = secret_access_key {
                b = b.with_secret_access_key(s.expose());
            }
            let store = b
                .build()
                .map_err(|e| Error::invalid_argument(format!("invalid S3 settings: {e}")))?;
            (Arc::new(store), format!("s3://{bucket}"))
        }
    };
    Ok(opened)
}

/// Reads the URL keys again every 10 seconds while the slice lives, so a
/// rotation made on any node (or by the command line) reaches this one.
fn spawn_url_key_reload(inner: std::sync::Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(url_keys::RELOAD);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            if let Err(e) = inner.url_keys.reload(&inner.db).await {
                tracing::warn!(error = %e, "could not read the file URL keys");
            }
        }
    });
}
