//! Secrets at rest: with a master key configured, the secrets Basalt keeps
//! in its database (token signing seeds, TOTP secrets, webhook secrets, the
//! keys that sign file URLs and cursors, mails kept in the outbox) are sealed with AES-256-GCM before
//! they are written, and opened when read. Without one they are stored as
//! they are, as before.
//!
//! A sealed value is the text `bsv1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`
//! (as bytes in BLOB columns). The key id names which master key sealed it,
//! so a rotation can keep the previous key for opening while everything is
//! sealed again under the new one ([`reseal`]). The associated data is the
//! column the value belongs in, so a sealed value copied into another column
//! does not open.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

use crate::{Db, Param, StoreError};

const PREFIX: &str = "bsv1.";
const KEY_ID_LEN: usize = 8;

/// One master key: 32 bytes, named by a short id derived from it.
pub struct MasterKey {
    id: String,
    key: LessSafeKey,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    /// Reads a key written as 64 hexadecimal digits or as base64 (standard or
    /// URL-safe, padded or not) of 32 bytes, as `basalt master-key generate`
    /// prints it.
    pub fn parse(text: &str) -> Result<MasterKey, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| "the master key is not hexadecimal".to_owned())?
        } else {
            let unpadded = text.trim_end_matches('=');
            let decoded = if unpadded.contains(['+', '/']) {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(unpadded)
            } else {
                B64.decode(unpadded)
            };
            decoded.map_err(|_| {
                "the master key must be 32 bytes as 64 hexadecimal digits or base64 (basalt master-key generate)"
                    .to_owned()
            })?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|v: Vec<u8>| {
            format!(
                "the master key must be 32 bytes, not {} (basalt master-key generate)",
                v.len()
            )
        })?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        let digest = Sha256::new()
            .chain_update(b"basalt master key id\0")
            .chain_update(bytes)
            .finalize();
        let id: String = digest[..KEY_ID_LEN / 2]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte AES-256 key"));
        MasterKey { id, key }
    }

    /// A new random key, as text for `BASALT_MASTER_KEY`.
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        basalt_core::secret::fill_random(&mut bytes);
        B64.encode(bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The master key that seals, and older ones that may still open.
#[derive(Debug, Default)]
pub struct Vault {
    current: Option<MasterKey>,
    previous: Vec<MasterKey>,
}

/// A value read from the database that cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// Sealed with a key this server was not given.
    UnknownKey(String),
    /// Not a value this server sealed, or changed since.
    Corrupt,
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultError::UnknownKey(id) => write!(
                f,
                "a secret in the database is sealed with master key {id}, which this server was not given \
                 (set BASALT_MASTER_KEY, or BASALT_MASTER_KEY_PREVIOUS while rotating)"
            ),
            VaultError::Corrupt => {
                f.write_str("a sealed secret in the database does not open: it was changed")
            }
        }
    }
}

impl std::error::Error for VaultError {}

impl From<VaultError> for basalt_core::Error {
    fn from(e: VaultError) -> Self {
        basalt_core::Error::internal(e.to_string())
    }
}

/// The state of one stored value.
enum Stored<'a> {
    Clear,
    Sealed { key_id: &'a str, body: &'a str },
}

fn classify(stored: &[u8]) -> Stored<'_> {
    let Some(rest) = stored.strip_prefix(PREFIX.as_bytes()) else {
        return Stored::Clear;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return Stored::Clear;
    };
    match rest.split_once('.') {
        Some((key_id, body))
            if key_id.len() == KEY_ID_LEN && key_id.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Stored::Sealed { key_id, body }
        }
        _ => Stored::Clear,
    }
}

impl Vault {
    pub fn new(current: Option<MasterKey>, previous: Vec<MasterKey>) -> Vault {
        Vault { current, previous }
    }

    /// Whether new secrets are sealed.
    pub fn seals(&self) -> bool {
        self.current.is_some()
    }

    /// The id of the key that seals, if any.
    pub fn current_id(&self) -> Option<&str> {
        self.current.as_ref().map(MasterKey::id)
    }

    /// `plain` as it is to be stored in `column` (`table.column`).
    pub fn seal(&self, column: &str, plain: &[u8]) -> Vec<u8> {
        let Some(key) = &self.current else {
            return plain.to_vec();
        };
        let mut nonce = [0u8; NONCE_LEN];
        basalt_core::secret::fill_random(&mut nonce);
        let mut body = plain.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(column.as_bytes()),
                &mut body,
            )
            .expect("AES-GCM seals any value this size");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&body);
        format!("{PREFIX}{}.{}", key.id, B64.encode(sealed)).into_bytes()
    }

    /// [`Vault::seal`] for text columns.
    pub fn seal_text(&self, column: &str, plain: &str) -> String {
        String::from_utf8(self.seal(column, plain.as_bytes()))
            .expect("a sealed value is ASCII; a clear one is the text given")
    }

    /// The secret stored in `column`: opened if sealed, as it is if not.
    pub fn open(&self, column: &str, stored: &[u8]) -> Result<Vec<u8>, VaultError> {
        match classify(stored) {
            Stored::Clear => Ok(stored.to_vec()),
            Stored::Sealed { key_id, body } => {
                let key = self
                    .current
                    .iter()
                    .chain(&self.previous)
                    .find(|k| k.id == key_id)
                    .ok_or_else(|| VaultError::UnknownKey(key_id.to_owned()))?;
                let mut bytes = B64.decode(body).map_err(|_| VaultError::Corrupt)?;
                if bytes.len() < NONCE_LEN {
                    return Err(VaultError::Corrupt);
                }
                let mut sealed = bytes.split_off(NONCE_LEN);
                let nonce: [u8; NONCE_LEN] = bytes.try_into().map_err(|_| VaultError::Corrupt)?;
                let plain = key
                    .key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(column.as_bytes()),
                        &mut sealed,
                    )
                    .map_err(|_| VaultError::Corrupt)?;
                Ok(plain.to_vec())
            }
        }
    }

    /// [`Vault::open`] for text columns.
    pub fn open_text(&self, column: &str, stored: &str) -> Result<String, VaultError> {
        String::from_utf8(self.open(column, stored.as_bytes())?).map_err(|_| VaultError::Corrupt)
    }

    /// What `stored` should become under this vault, or `None` when it is
    /// already right: sealed with the current key, or clear without one.
    fn restate(&self, column: &str, stored: &[u8]) -> Result<Option<Vec<u8>>, VaultError> {
        let right = match (classify(stored), &self.current) {
            (Stored::Clear, None) => true,
            (Stored::Sealed { key_id, .. }, Some(key)) => key_id == key.id,
            _ => false,
        };
        if right {
            return Ok(None);
        }
        let plain = self.open(column, stored)?;
        Ok(Some(self.seal(column, &plain)))
    }
}

/// The column [`server_key`]s are kept in.
const SERVER_SECRET: &str = "server_secrets.value";

/// A random 32-byte key the server keeps for itself under `name` (the key
/// that signs file URLs, the one that seals cursors): made on first use,
/// the same on every node, sealed like every other stored secret.
pub async fn server_key(db: &Db, name: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = [0u8; 32];
    basalt_core::secret::fill_random(&mut key);
    let sealed = db.vault().seal(SERVER_SECRET, &key);
    db.execute(
        "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[
            name.into(),
            Param::Bytes(&sealed),
            basalt_core::Timestamp::now().millis().into(),
        ],
    )
    .await?;
    let row = db
        .fetch_optional("SELECT value FROM server_secrets WHERE name = $1", &[name.into()])
        .await?
        .ok_or_else(|| StoreError::Decode(format!("no server key {name} after making one")))?;
    db.vault()
        .open(SERVER_SECRET, &row.bytes(0)?)
        .map_err(|e| StoreError::Decode(e.to_string()))
}

/// Where secrets live: table, key column, secret column, whether it is a BLOB.
const COLUMNS: &[(&str, &str, &str, bool)] = &[
    ("signing_keys", "kid", "private_key", true),
    ("server_secrets", "name", "value", true), // SERVER_SECRET
    ("users", "id", "mfa_secret", false),
    ("admins", "id", "mfa_secret", false),
    ("webhooks", "name", "secret", false),
    ("outbox", "id", "body", false),
    ("outbox", "id", "token", false),
];

/// The `server_secrets` row that records which master key the database's
/// secrets are sealed with (empty: none), so a start with the same key does
/// not read every secret.
const STATE: &str = "master_key_state";

/// What [`reseal`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Values rewritten.
    pub sealed: u64,
}

/// Brings every stored secret to the vault's state: seals clear ones under
/// the current key, seals again those under a previous key, opens them all
/// when no key is set but a previous one is. Refuses (without changing
/// anything that cannot be read) when a secret is sealed with a key the
/// vault does not hold. Safe with several nodes at once: each value is
/// replaced only if it is still the one read.
pub async fn reseal(db: &Db) -> Result<Resealed, StoreError> {
    let vault = db.vault();
    let state = vault.current_id().unwrap_or("").to_owned();
    let recorded = db
        .fetch_optional(
            "SELECT value FROM server_secrets WHERE name = $1",
            &[STATE.into()],
        )
        .await?
        .map(|row| row.bytes(0))
        .transpose()?;
    let mut done = Resealed::default();
    match &recorded {
        Some(value) if value.as_slice() == state.as_bytes() => return Ok(done),
        _ => {
            for (table, key, column, blob) in COLUMNS {
                let name = format!("{table}.{column}");
                let rows = db
                    .fetch_all(
                        &format!(
                            "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL AND {key} <> $1"
                        ),
                        &[STATE.into()],
                    )
                    .await?;
                // Rewritten 500 to a transaction: one commit each, not one per value.
                let mut tx: Option<crate::Tx> = None;
                let mut pending = 0;
                for row in rows {
                    let id = row.text(0)?;
                    let stored = if *blob {
                        row.bytes(1)?
                    } else {
                        row.text(1)?.into_bytes()
                    };
                    let restated = vault
                        .restate(&name, &stored)
                        .map_err(|e| StoreError::Decode(e.to_string()))?;
                    let Some(new) = restated else { continue };
                    let (new_text, old_text);
                    let (new_param, old_param) = if *blob {
                        (Param::Bytes(&new), Param::Bytes(&stored))
                    } else {
                        new_text = String::from_utf8(new.clone())
                            .map_err(|_| StoreError::Decode("a secret is not text".into()))?;
                        old_text = String::from_utf8(stored.clone())
                            .map_err(|_| StoreError::Decode("a secret is not text".into()))?;
                        (new_text.as_str().into(), old_text.as_str().into())
                    };
                    if tx.is_none() {
                        tx = Some(db.begin().await?);
                    }
                    let open = tx.as_mut().expect("a transaction was just begun");
                    done.sealed += open
                        .execute(
                            &format!("UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3"),
                            &[new_param, id.as_str().into(), old_param],
                        )
                        .await?;
                    pending += 1;
                    if pending == 500 {
                        if let Some(t) = tx.take() {
                            t.commit().await?;
                        }
                        pending = 0;
                    }
                }
                if let Some(t) = tx.take() {
                    t.commit().await?;
                }
            }
        }
    }
    db.execute(
        "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[
            STATE.into(),
            Param::Bytes(state.as_bytes()),
            basalt_core::Timestamp::now().millis().into(),
        ],
    )
    .await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes(&[byte; 32])
    }

    #[test]
    fn sealed_values_open_and_say_their_key() {
        let vault = Vault::new(Some(key(1)), vec![]);
        let sealed = vault.seal("users.mfa_secret", b"JBSWY3DPEHPK3PXP");
        let text = std::str::from_utf8(&sealed).unwrap();
        assert!(text.starts_with(&format!("bsv1.{}.", key(1).id())), "{text}");
        assert!(!text.contains("JBSWY3DP"));
        assert_eq!(
            vault.open("users.mfa_secret", &sealed).unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        // A fresh nonce each time.
        assert_ne!(sealed, vault.seal("users.mfa_secret", b"JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn a_value_opens_only_in_its_column_and_unchanged() {
        let vault = Vault::new(Some(key(1)), vec![]);
        let sealed = vault.seal_text("webhooks.secret", "whsec_abc");
        assert_eq!(
            vault.open_text("admins.mfa_secret", &sealed),
            Err(VaultError::Corrupt)
        );
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(vault.open("webhooks.secret", &flipped), Err(VaultError::Corrupt));
        let truncated = &sealed[..sealed.len() - 10];
        assert_eq!(
            vault.open_text("webhooks.secret", truncated),
            Err(VaultError::Corrupt)
        );
    }

    #[test]
    fn keys_are_found_by_id_and_unknown_ones_named() {
        let old = Vault::new(Some(key(1)), vec![]);
        let sealed = old.seal("signing_keys.private_key", &[7; 32]);
        let rotating = Vault::new(Some(key(2)), vec![key(1)]);
        assert_eq!(
            rotating.open("signing_keys.private_key", &sealed).unwrap(),
            [7; 32]
        );
        let other = Vault::new(Some(key(2)), vec![]);
        assert_eq!(
            other.open("signing_keys.private_key", &sealed),
            Err(VaultError::UnknownKey(key(1).id().to_owned()))
        );
        let none = Vault::default();
        assert!(matches!(
            none.open("signing_keys.private_key", &sealed),
            Err(VaultError::UnknownKey(_))
        ));
        // Clear values read as they are, with or without a key.
        assert_eq!(none.open("server_secrets.value", &[9; 32]).unwrap(), [9; 32]);
        assert_eq!(other.open("server_secrets.value", &[9; 32]).unwrap(), [9; 32]);
    }

    #[test]
    fn restating_seals_moves_and_opens() {
        let column = "users.mfa_secret";
        let v1 = Vault::new(Some(key(1)), vec![]);
        assert!(v1.restate(column, b"ABC").unwrap().is_some());
        let sealed = v1.seal(column, b"ABC");
        assert_eq!(v1.restate(column, &sealed).unwrap(), None);
        let v2 = Vault::new(Some(key(2)), vec![key(1)]);
        let moved = v2.restate(column, &sealed).unwrap().unwrap();
        assert!(moved.starts_with(format!("bsv1.{}.", key(2).id()).as_bytes()));
        let unsealing = Vault::new(None, vec![key(2)]);
        assert_eq!(unsealing.restate(column, &moved).unwrap().unwrap(), b"ABC");
        assert_eq!(Vault::default().restate(column, b"ABC").unwrap(), None);
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let hex = "00".repeat(31) + "ff";
        let from_hex = MasterKey::parse(&hex).unwrap();
        let mut bytes = [0u8; 32];
        bytes[31] = 0xff;
        assert_eq!(from_hex.id(), MasterKey::from_bytes(&bytes).id());
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(MasterKey::parse(&b64).unwrap().id(), from_hex.id());
        assert_eq!(MasterKey::parse(&B64.encode(bytes)).unwrap().id(), from_hex.id());
        let generated = MasterKey::generate();
        assert!(MasterKey::parse(&generated).is_ok());
        assert!(MasterKey::parse("short").unwrap_err().contains("32 bytes"));
        assert!(
            MasterKey::parse(&B64.encode([1u8; 16]))
                .unwrap_err()
                .contains("not 16")
        );
        assert!(MasterKey::parse("").is_err());
    }

    #[test]
    fn clear_values_that_look_like_a_prefix_stay_clear() {
        assert!(matches!(classify(b"bsv1.not-a-key"), Stored::Clear));
        assert!(matches!(classify(b"whsec_abc"), Stored::Clear));
        assert!(matches!(classify(&[0xff, 0x00]), Stored::Clear));
    }
}
