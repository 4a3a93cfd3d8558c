//! Service keys: `bsk_<id>_<secret>`. The id finds the row; only SHA-256 of
//! the secret is stored, compared in constant time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use basalt_core::caller::ServiceIdentity;
use basalt_core::{Error, Timestamp};
use basalt_store::audit::{self, Actor, Change};
use basalt_store::{Db, Param};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const PREFIX: &str = "bsk_";
/// `last_used_at` is written at most this often per key, to spare the writer.
const TOUCH_EVERY_MS: i64 = 60_000;
const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceKey {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A key just created: the only time its secret is shown.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NewServiceKey {
    pub id: String,
    pub name: String,
    /// The full key. Store it now: Basalt keeps only a hash.
    pub key: String,
}

fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub fn validate_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::invalid_argument(format!(
            "`name` must be 1 to {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(name.to_owned())
}

pub async fn create(db: &Db, name: &str, actor: Actor<'_>) -> Result<NewServiceKey, Error> {
    let name = validate_name(name)?;
    let id = basalt_core::id::new_id();
    let secret = basalt_core::secret::random_hex(32);
    let hash = secret_hash(&secret);
    audit::execute(
        db,
        "INSERT INTO service_keys (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)",
        &[
            (&id).into(),
            (&name).into(),
            Param::Bytes(&hash),
            Timestamp::now().millis().into(),
        ],
        actor,
        Change {
            action: "key.create",
            target: &id,
            before: None,
            after: Some(serde_json::json!({"id": id, "name": name}).to_string()),
        },
    )
    .await?;
    let key = format!("{PREFIX}{id}_{secret}");
    Ok(NewServiceKey { id, name, key })
}

pub async fn list(db: &Db) -> Result<Vec<ServiceKey>, Error> {
    let rows = db
        .fetch_all(
            "SELECT id, name, created_at, last_used_at FROM service_keys ORDER BY id",
            &[],
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ServiceKey {
                id: r.text(0)?,
                name: r.text(1)?,
                created_at: Timestamp::from_millis(r.int(2)?),
                last_used_at: r.opt_int(3)?.map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// Deletes a key; it stops working at once on every node.
pub async fn revoke(db: &Db, id: &str, actor: Actor<'_>) -> Result<(), Error> {
    let name = db
        .fetch_optional("SELECT name FROM service_keys WHERE id = $1", &[id.into()])
        .await?
        .map(|r| r.text(0))
        .transpose()?;
    let deleted = audit::execute(
        db,
        "DELETE FROM service_keys WHERE id = $1",
        &[id.into()],
        actor,
        Change {
            action: "key.revoke",
            target: id,
            before: Some(serde_json::json!({"id": id, "name": name}).to_string()),
            after: None,
        },
    )
    .await?;
    if deleted == 0 {
        return Err(Error::not_found("no service key with this id"));
    }
    Ok(())
}

/// Remembers when each key's use was last written, so a burst of requests
/// with one key makes one write, not one per request.
#[derive(Default)]
pub struct UseRecorder {
    written: Mutex<HashMap<String, i64>>,
}

impl UseRecorder {
    /// Whether this process should write `now` as the key's last use.
    fn claim(&self, id: &str, stored: Option<i64>, now: i64) -> bool {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let last = written.get(id).copied().max(stored);
        if last.is_some_and(|last| now - last < TOUCH_EVERY_MS) {
            return false;
        }
        if written.len() > 10_000 {
            written.clear();
        }
        written.insert(id.to_owned(), now);
        true
    }
}

/// Splits a service key, `bsk_{id}_{secret}`, as Basalt issues it.
pub fn parse_key(presented: &str) -> Option<(&str, &str)> {
    presented
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .filter(|(id, secret)| basalt_core::secret::is_token_part(id, secret))
}

/// Checks a presented `bsk_…` key.
pub async fn verify(db: &Db, uses: &UseRecorder, presented: &str) -> Result<ServiceIdentity, Error> {
    let invalid = || Error::unauthenticated("invalid service key");
    let (id, secret) = parse_key(presented).ok_or_else(invalid)?;
    let row = db
        .fetch_optional(
            "SELECT name, secret_hash, last_used_at FROM service_keys WHERE id = $1",
            &[id.into()],
        )
        .await?;
    let presented_hash = secret_hash(secret);
    let Some(row) = row else {
        // Same comparison work as a real key, against nothing that matches.
        let _ = presented_hash.ct_eq(&[0u8; 32]);
        return Err(invalid());
    };
    let stored = row.bytes(1)?;
    if !bool::from(presented_hash.as_slice().ct_eq(stored.as_slice())) {
        return Err(invalid());
    }
    let now = Timestamp::now().millis();
    if uses.claim(id, row.opt_int(2)?, now) {
        let (db, id) = (db.clone(), id.to_owned());
        tokio::spawn(async move {
            if let Err(e) = db
                .execute(
                    "UPDATE service_keys SET last_used_at = $1 WHERE id = $2",
                    &[now.into(), (&id).into()],
                )
                .await
            {
                tracing::warn!(error = %e, "could not record service key use");
            }
        });
    }
    Ok(ServiceIdentity {
        key_id: id.to_owned(),
        name: row.text(0)?,
    })
}

pub(crate) fn identity(identity: ServiceIdentity) -> basalt_core::Caller {
    basalt_core::Caller::Service(Arc::new(identity))
}
