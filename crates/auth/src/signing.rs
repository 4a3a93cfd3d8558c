//! The Ed25519 keys that sign every token. Created on first start and kept
//! in the database, so every node of a cluster signs and verifies alike.

use std::collections::HashMap;

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

/// The key id and public key of an Ed25519 seed; the id is a hash of the public key.
fn public_of(seed: &[u8; 32]) -> (String, [u8; 32]) {
    let public = SigningKey::from_bytes(seed).verifying_key().to_bytes();
    (URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]), public)
}

pub struct SigningKeys {
    active_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    jwks: Value,
}

impl SigningKeys {
    /// Loads the keys, creating the first one if there is none. Safe when
    /// several nodes start at once: a unique index admits one active key.
    pub async fn load_or_create(db: &Db) -> Result<SigningKeys, Error> {
        if let Some(keys) = Self::load(db).await? {
            return Ok(keys);
        }
        let mut seed = [0u8; 32];
        basalt_core::secret::fill_random(&mut seed);
        let (kid, public) = public_of(&seed);
        db.execute(
            "INSERT INTO signing_keys (kid, alg, private_key, public_key, active, created_at)
             VALUES ($1, 'EdDSA', $2, $3, 1, $4) ON CONFLICT DO NOTHING",
            &[
                (&kid).into(),
                Param::Bytes(&seed),
                Param::Bytes(&public),
                Timestamp::now().millis().into(),
            ],
        )
        .await?;
        Self::load(db)
            .await?
            .ok_or_else(|| Error::internal("no active signing key after creating one"))
    }

    async fn load(db: &Db) -> Result<Option<SigningKeys>, Error> {
        let rows = db
            .fetch_all(
                "SELECT kid, alg, private_key, public_key, active FROM signing_keys ORDER BY created_at",
                &[],
            )
            .await?;
        let mut keys = Vec::new();
        for row in rows {
            let (kid, alg) = (row.text(0)?, row.text(1)?);
            if alg != "EdDSA" {
                return Err(Error::internal(format!(
                    "signing key {kid} has unknown algorithm {alg}"
                )));
            }
            let seed = if row.opt_int(4)? == Some(1) {
                Some(row.bytes(2)?)
            } else {
                None
            };
            keys.push((kid, row.bytes(3)?, seed));
        }
        Ok(Self::assemble(keys))
    }

    /// The keys from `(kid, public key, seed of the active one)`, or `None` without an active one.
    fn assemble(keys: Vec<(String, Vec<u8>, Option<Vec<u8>>)>) -> Option<SigningKeys> {
        let mut active = None;
        let mut decoding = HashMap::new();
        let mut jwks = Vec::new();
        for (kid, public, seed) in keys {
            decoding.insert(kid.clone(), DecodingKey::from_ed_der(&public));
            jwks.push(json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                "kid": kid, "x": URL_SAFE_NO_PAD.encode(&public),
            }));
            if let Some(seed) = seed {
                let mut der = PKCS8_ED25519_PREFIX.to_vec();
                der.extend_from_slice(&seed);
                active = Some((kid, EncodingKey::from_ed_der(&der)));
            }
        }
        active.map(|(active_kid, encoding)| SigningKeys {
            active_kid,
            encoding,
            decoding,
            jwks: json!({ "keys": jwks }),
        })
    }

    /// One active key from `seed`, held in memory only (for the fuzz targets in `fuzz/`).
    #[doc(hidden)]
    pub fn from_seed(seed: [u8; 32]) -> SigningKeys {
        let (kid, public) = public_of(&seed);
        Self::assemble(vec![(kid, public.to_vec(), Some(seed.to_vec()))]).expect("an active key")
    }

    /// Signs `claims` with the active key, naming it in `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.active_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(Error::internal)
    }

    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.decoding.get(kid)
    }

    /// The public keys as a JWKS document.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }
}
