//! The keys that sign file URLs. One key signs; after a rotation the new
//! key signs once its grace has passed (every node has read it by then) and
//! the keys it replaces keep verifying until the last URL they can have
//! signed has expired. The keys live in `server_secrets` (sealed with the
//! master key if there is one) so that every node signs and checks alike;
//! each node reads them again every 10 seconds.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use basalt_core::{Error, Timestamp};
use basalt_store::{Db, Param};

/// The first key, made on first use.
const FIRST: &str = "file_url_key";
/// Later keys are `file_url_key.<id>`.
const LATER_PREFIX: &str = "file_url_key.";
/// The longest a signed URL lives (`expires_in` at most 7 days).
pub const LONGEST_URL: Duration = Duration::from_secs(7 * 86_400);
/// How often each node reads the keys again.
pub const RELOAD: Duration = Duration::from_secs(10);
/// A rotation's default grace: longer than [`RELOAD`], so every node knows
/// the new key before any URL it signs reaches them.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// One key and when it works, in milliseconds.
#[derive(Clone)]
pub struct UrlKey {
    pub name: String,
    pub created_at: Timestamp,
    pub signs_from: Timestamp,
    pub retire_at: Option<Timestamp>,
    key: Vec<u8>,
}

impl UrlKey {
    pub fn may_sign(&self, now: i64) -> bool {
        self.signs_from.millis() <= now && self.live(now)
    }

    pub fn live(&self, now: i64) -> bool {
        self.retire_at.is_none_or(|r| r.millis() > now)
    }
}

/// The keys this node knows, oldest first.
pub struct UrlKeys {
    keys: RwLock<Arc<Vec<UrlKey>>>,
}

impl UrlKeys {
    pub async fn load(db: &Db) -> Result<UrlKeys, Error> {
        basalt_store::vault::server_key(db, FIRST).await?;
        Ok(UrlKeys {
            keys: RwLock::new(Arc::new(read(db).await?)),
        })
    }

    /// Reads the keys again (a rotation on any node).
    pub async fn reload(&self, db: &Db) -> Result<(), Error> {
        let keys = read(db).await?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        Ok(())
    }

    fn current(&self) -> Arc<Vec<UrlKey>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key that signs now: the latest to have started; before any has
    /// (a clock set back), the oldest live one.
    pub fn signer(&self) -> Vec<u8> {
        let now = Timestamp::now().millis();
        let keys = self.current();
        keys.iter()
            .rev()
            .find(|k| k.may_sign(now))
            .or_else(|| keys.iter().find(|k| k.live(now)))
            .or_else(|| keys.last())
            .map(|k| k.key.clone())
            .unwrap_or_default()
    }

    /// Whether `check` accepts one of the keys that still verify.
    pub fn any_verifies(&self, check: impl Fn(&[u8]) -> bool) -> bool {
        let now = Timestamp::now().millis();
        // Every live key is tried, so the time taken does not say which matched.
        self.current()
            .iter()
            .filter(|k| k.live(now))
            .fold(false, |found, k| check(&k.key) | found)
    }
}

/// Every key, oldest first (the first is made by [`UrlKeys::load`] or
/// [`rotate`]: reading every 10 s writes nothing).
async fn read(db: &Db) -> Result<Vec<UrlKey>, Error> {
    let rows = db
        .fetch_all(
            "SELECT name, value, created_at, COALESCE(signs_from, created_at), retire_at FROM server_secrets
             WHERE name = $1 OR substr(name, 1, 13) = $2
             ORDER BY COALESCE(signs_from, created_at), name",
            &[FIRST.into(), LATER_PREFIX.into()],
        )
        .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let key = db.vault().open("server_secrets.value", &row.bytes(1)?)?;
        keys.push(UrlKey {
            name: row.text(0)?,
            created_at: Timestamp::from_millis(row.int(2)?),
            signs_from: Timestamp::from_millis(row.int(3)?),
            retire_at: row.opt_int(4)?.map(Timestamp::from_millis),
            key,
        });
    }
    Ok(keys)
}

/// Every key, for `basalt file-url-keys list`.
pub async fn list(db: &Db) -> Result<Vec<UrlKey>, Error> {
    read(db).await
}

/// Adds a key that signs from `grace` from now, and retires the keys it
/// replaces once every URL they can have signed has expired, or at once
/// with `now` (a leaked key: every URL they signed stops working).
pub async fn rotate(db: &Db, grace: Duration, now: bool) -> Result<UrlKey, Error> {
    basalt_store::vault::server_key(db, FIRST).await?;
    let created = Timestamp::now().millis();
    let (signs_from, retire_at) = if now {
        (created, created)
    } else {
        let signs_from = created + grace.as_millis() as i64;
        (signs_from, signs_from + LONGEST_URL.as_millis() as i64)
    };
    let mut key = [0u8; 32];
    basalt_core::secret::fill_random(&mut key);
    let sealed = db.vault().seal("server_secrets.value", &key);
    let name = format!("{LATER_PREFIX}{}", basalt_core::id::new_id());
    let mut tx = db.begin().await?;
    tx.execute(
        "UPDATE server_secrets SET retire_at = $1
         WHERE (name = $2 OR substr(name, 1, 13) = $3) AND (retire_at IS NULL OR retire_at > $1)",
        &[retire_at.into(), FIRST.into(), LATER_PREFIX.into()],
    )
    .await?;
    // Keys retired more than a day ago are of no more use.
    tx.execute(
        "DELETE FROM server_secrets WHERE substr(name, 1, 13) = $1 AND retire_at < $2",
        &[LATER_PREFIX.into(), (created - 86_400_000).into()],
    )
    .await?;
    tx.execute(
        "INSERT INTO server_secrets (name, value, created_at, signs_from) VALUES ($1, $2, $3, $4)",
        &[
            name.as_str().into(),
            Param::Bytes(&sealed),
            created.into(),
            signs_from.into(),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(UrlKey {
        name,
        created_at: Timestamp::from_millis(created),
        signs_from: Timestamp::from_millis(signs_from),
        retire_at: None,
        key: key.to_vec(),
    })
}
