//! The Ed25519 keys that sign every token. Created on first start and kept
//! in the database, so every node of a cluster signs and verifies alike.
//!
//! Rotation (`basalt signing-keys rotate`) adds a key that is published in
//! the JWKS at once and signs from a time after a grace period; the keys it
//! replaces keep verifying until the last token they signed has expired,
//! then are retired and deleted. Which key signs is decided by the clock,
//! so nodes switch together; each node reloads the keys every few seconds
//! to learn of a new one.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use basalt_core::{Error, Timestamp};
use basalt_store::{Db, Param};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// PKCS#8 v1 wrapping of a raw Ed25519 seed (RFC 8410): a fixed prefix then the 32 bytes.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// How often a running node reads the keys again.
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// The key id and public key of an Ed25519 seed; the id is a hash of the public key.
fn public_of(seed: &[u8; 32]) -> (String, [u8; 32]) {
    let public = SigningKey::from_bytes(seed).verifying_key().to_bytes();
    (URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]), public)
}

/// One key as a row of `signing_keys` describes it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: Timestamp,
    /// From when it signs new tokens.
    pub signs_from: Timestamp,
    /// When it stops verifying (and is deleted); `None`: not replaced.
    pub retire_at: Option<Timestamp>,
}

impl KeyInfo {
    /// Still verifies at `now` (its retirement has not come).
    pub fn live(&self, now: i64) -> bool {
        self.retire_at.is_none_or(|t| t.millis() > now)
    }

    /// May sign at `now`: started and not retired. Of those, the latest to
    /// have started signs.
    pub fn may_sign(&self, now: i64) -> bool {
        self.signs_from.millis() <= now && self.live(now)
    }
}

struct Key {
    info: KeyInfo,
    decoding: DecodingKey,
    encoding: EncodingKey,
    jwk: Value,
}

/// The keys as last read, ordered by `signs_from`.
struct KeySet {
    keys: Vec<Key>,
    by_kid: HashMap<String, usize>,
}

impl KeySet {
    fn from_rows(rows: Vec<(KeyInfo, Vec<u8>, [u8; 32])>) -> KeySet {
        let mut keys: Vec<Key> = rows
            .into_iter()
            .map(|(info, public, seed)| {
                let mut der = PKCS8_ED25519_PREFIX.to_vec();
                der.extend_from_slice(&seed);
                Key {
                    jwk: json!({
                        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                        "kid": info.kid, "x": URL_SAFE_NO_PAD.encode(&public),
                    }),
                    decoding: DecodingKey::from_ed_der(&public),
                    encoding: EncodingKey::from_ed_der(&der),
                    info,
                }
            })
            .collect();
        keys.sort_by_key(|k| k.info.signs_from.millis());
        let by_kid = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.info.kid.clone(), i))
            .collect();
        KeySet { keys, by_kid }
    }

    /// The key that signs at `now`: the latest to have started; before any
    /// has (a clock set back), the first.
    fn signer(&self, now: i64) -> Option<&Key> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.info.may_sign(now))
            .or_else(|| self.keys.first())
    }
}

pub struct SigningKeys {
    set: RwLock<Arc<KeySet>>,
}

impl SigningKeys {
    /// Loads the keys, creating the first one if there is none. Safe when
    /// several nodes start at once: a unique index admits one first key.
    pub async fn load_or_create(db: &Db) -> Result<SigningKeys, Error> {
        let set = Self::read(db).await?;
        if !set.keys.is_empty() {
            return Ok(Self::of(set));
        }
        let seed = new_seed();
        let (kid, public) = public_of(&seed);
        let now = Timestamp::now().millis();
        let stored = db.vault().seal(PRIVATE_KEY, &seed);
        db.execute(
            "INSERT INTO signing_keys (kid, alg, private_key, public_key, active, created_at, signs_from)
             VALUES ($1, 'EdDSA', $2, $3, 1, $4, $4) ON CONFLICT DO NOTHING",
            &[
                (&kid).into(),
                Param::Bytes(&stored),
                Param::Bytes(&public),
                now.into(),
            ],
        )
        .await?;
        let set = Self::read(db).await?;
        if set.keys.is_empty() {
            return Err(Error::internal("no signing key after creating one"));
        }
        Ok(Self::of(set))
    }

    fn of(set: KeySet) -> SigningKeys {
        SigningKeys {
            set: RwLock::new(Arc::new(set)),
        }
    }

    /// Reads the keys again (a rotation from another process). True when a
    /// key this node knew is gone (retired), so what it signed must no
    /// longer be accepted from a cache.
    pub async fn reload(&self, db: &Db) -> Result<bool, Error> {
        let set = Self::read(db).await?;
        if set.keys.is_empty() {
            return Ok(false);
        }
        let mut current = self.set.write().unwrap_or_else(|e| e.into_inner());
        let removed = current.keys.iter().any(|k| !set.by_kid.contains_key(&k.info.kid));
        *current = Arc::new(set);
        Ok(removed)
    }

    async fn read(db: &Db) -> Result<KeySet, Error> {
        let now = Timestamp::now().millis();
        Ok(KeySet::from_rows(
            list_rows(db)
                .await?
                .into_iter()
                .filter(|(info, ..)| info.live(now))
                .collect(),
        ))
    }

    fn current(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// One key from `seed`, held in memory only (for the fuzz targets in `fuzz/`).
    #[doc(hidden)]
    pub fn from_seed(seed: [u8; 32]) -> SigningKeys {
        let (kid, public) = public_of(&seed);
        let info = KeyInfo {
            kid,
            created_at: Timestamp::from_millis(0),
            signs_from: Timestamp::from_millis(0),
            retire_at: None,
        };
        Self::of(KeySet::from_rows(vec![(info, public.to_vec(), seed)]))
    }

    /// Signs `claims` with the key that signs now, naming it in `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, Error> {
        let set = self.current();
        let key = set
            .signer(Timestamp::now().millis())
            .ok_or_else(|| Error::internal("no signing key"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.info.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(Error::internal)
    }

    /// The key that verifies tokens naming `kid`, if it is not retired.
    pub fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        let set = self.current();
        let key = &set.keys[*set.by_kid.get(kid)?];
        key.info
            .live(Timestamp::now().millis())
            .then(|| key.decoding.clone())
    }

    /// The public keys that verify tokens, as a JWKS document: a key
    /// published by a rotation appears here before it signs.
    pub fn jwks(&self) -> Value {
        let set = self.current();
        let now = Timestamp::now().millis();
        let keys: Vec<&Value> = set
            .keys
            .iter()
            .filter(|k| k.info.live(now))
            .map(|k| &k.jwk)
            .collect();
        json!({ "keys": keys })
    }

    /// The id of the key that signs now.
    pub fn active_kid(&self) -> String {
        self.current()
            .signer(Timestamp::now().millis())
            .map(|k| k.info.kid.clone())
            .unwrap_or_default()
    }
}

/// The column the seeds are kept in, sealed with the master key if there is one.
const PRIVATE_KEY: &str = "signing_keys.private_key";

fn new_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    basalt_core::secret::fill_random(&mut seed);
    seed
}

/// Every key row, retired or not, oldest first.
async fn list_rows(db: &Db) -> Result<Vec<(KeyInfo, Vec<u8>, [u8; 32])>, Error> {
    let rows = db
        .fetch_all(
            "SELECT kid, alg, private_key, public_key, created_at, COALESCE(signs_from, created_at), retire_at
             FROM signing_keys ORDER BY COALESCE(signs_from, created_at), kid",
            &[],
        )
        .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let (kid, alg) = (row.text(0)?, row.text(1)?);
        if alg != "EdDSA" {
            return Err(Error::internal(format!(
                "signing key {kid} has unknown algorithm {alg}"
            )));
        }
        let seed: [u8; 32] = db
            .vault()
            .open(PRIVATE_KEY, &row.bytes(2)?)?
            .try_into()
            .map_err(|_| Error::internal(format!("signing key {kid} is not an Ed25519 seed")))?;
        let info = KeyInfo {
            kid,
            created_at: Timestamp::from_millis(row.int(4)?),
            signs_from: Timestamp::from_millis(row.int(5)?),
            retire_at: row.opt_int(6)?.map(Timestamp::from_millis),
        };
        keys.push((info, row.bytes(3)?, seed));
    }
    Ok(keys)
}

/// Every key, oldest first, for `basalt signing-keys list`.
pub async fn list(db: &Db) -> Result<Vec<KeyInfo>, Error> {
    Ok(list_rows(db).await?.into_iter().map(|(info, ..)| info).collect())
}

/// When the keys a rotation replaces stop verifying.
#[derive(Debug, Clone, Copy)]
pub enum Retire {
    /// Once the last token they can sign has expired: the longest token
    /// lifetime after the new key starts signing, plus the clock skew that
    /// verification allows.
    AfterLastToken(Duration),
    /// At once: every token they signed stops working (a leaked key).
    Now,
}

/// Adds a key that signs from `grace` from now (at once with
/// [`Retire::Now`]) and sets when every key it replaces retires. Returns
/// the new key.
pub async fn rotate(db: &Db, grace: Duration, retire: Retire) -> Result<KeyInfo, Error> {
    let seed = new_seed();
    let (kid, public) = public_of(&seed);
    let now = Timestamp::now().millis();
    let (signs_from, retire_at) = match retire {
        Retire::AfterLastToken(longest_token) => {
            let signs_from = now + grace.as_millis() as i64;
            let skew = crate::tokens::LEEWAY_SECS as i64 * 1000;
            (signs_from, signs_from + longest_token.as_millis() as i64 + skew)
        }
        Retire::Now => (now, now),
    };
    let stored = db.vault().seal(PRIVATE_KEY, &seed);
    let mut tx = db.begin().await?;
    tx.execute(
        "UPDATE signing_keys SET retire_at = $1 WHERE retire_at IS NULL OR retire_at > $1",
        &[retire_at.into()],
    )
    .await?;
    tx.execute(
        "INSERT INTO signing_keys (kid, alg, private_key, public_key, active, created_at, signs_from)
         VALUES ($1, 'EdDSA', $2, $3, NULL, $4, $5)",
        &[
            (&kid).into(),
            Param::Bytes(&stored),
            Param::Bytes(&public),
            now.into(),
            signs_from.into(),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(KeyInfo {
        kid,
        created_at: Timestamp::from_millis(now),
        signs_from: Timestamp::from_millis(signs_from),
        retire_at: None,
    })
}

/// Deletes the keys whose retirement has come: nothing they signed is
/// accepted any more, and their private halves should not outlive that.
pub async fn delete_retired(db: &Db) -> Result<u64, Error> {
    Ok(db
        .execute(
            "DELETE FROM signing_keys WHERE retire_at IS NOT NULL AND retire_at <= $1",
            &[Timestamp::now().millis().into()],
        )
        .await?)
}
