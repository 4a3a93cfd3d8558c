//! Argon2id password hashing, off the async workers and bounded in how
//! many hashes run at once (each one holds 19 MiB).

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use basalt_core::{Error, Secret};
use tokio::sync::Semaphore;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 256;

/// OWASP's Argon2id recommendation: 19 MiB, 2 passes, 1 lane.
pub fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the length rule (8 to 256 characters).
pub fn validate(password: &str) -> Result<(), Error> {
    let n = password.chars().count();
    if (MIN_LEN..=MAX_LEN).contains(&n) {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "`password` must be {MIN_LEN} to {MAX_LEN} characters"
        )))
    }
}

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    pub fn new() -> Self {
        // Each hash holds 19 MiB: as many at once as there are cores, at most 8.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hasher {
            permits: Arc::new(Semaphore::new(cores.clamp(1, 8))),
        }
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: Secret<String>) -> Result<String, Error> {
        self.run(move || hash_now(password.expose())).await?
    }

    /// Whether `password` matches `phc`. With `phc = None` (no such
    /// account) the same work is done against a fixed hash, so unknown
    /// accounts and wrong passwords cost the same time.
    pub async fn verify(&self, password: Secret<String>, phc: Option<String>) -> Result<bool, Error> {
        self.run(move || {
            let (phc, real) = match &phc {
                Some(p) => (p.as_str(), true),
                None => (dummy_hash(), false),
            };
            let parsed = PasswordHash::new(phc).map_err(Error::internal)?;
            let ok = argon2()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok();
            Ok(ok && real)
        })
        .await?
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(Error::internal)
    }
}

fn hash_now(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    basalt_core::secret::fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(Error::internal)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("basalt-timing-equaliser").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_hide_the_password() {
        let hasher = Hasher::new();
        let phc = hasher.hash(Secret::new("correct horse".into())).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(
            hasher
                .verify(Secret::new("correct horse".into()), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Secret::new("wrong horse".into()), Some(phc))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Secret::new("basalt-timing-equaliser".into()), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn length_rule_counts_characters() {
        assert!(validate("1234567").is_err());
        assert!(validate("12345678").is_ok());
        assert!(validate(&"é".repeat(256)).is_ok());
        assert!(validate(&"x".repeat(257)).is_err());
    }
}
