//! Single-use tokens (`<id>.<secret>`) for mail links and MFA sign-in.
//! Only SHA-256 of the secret is stored; it is compared in constant time.

use basalt_core::{Error, Timestamp};
use basalt_store::{Db, Param};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Verify,
    Reset,
    Magic,
    Mfa,
    /// An admin's second sign-in step (the token names the admin's email).
    AdminMfa,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Verify => "verify",
            Kind::Reset => "reset",
            Kind::Magic => "magic",
            Kind::Mfa => "mfa",
            Kind::AdminMfa => "admin_mfa",
        }
    }

    /// How long a token of this kind lives.
    pub fn lifetime_ms(self) -> i64 {
        match self {
            Kind::Verify => 24 * 3600 * 1000,
            Kind::Reset => 3600 * 1000,
            Kind::Magic => 15 * 60 * 1000,
            Kind::Mfa | Kind::AdminMfa => 5 * 60 * 1000,
        }
    }
}

/// What a redeemed token was issued for.
pub struct Redeemed {
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub redirect_to: Option<String>,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Issues a token; returns the string to hand out.
pub async fn issue(
    db: &Db,
    kind: Kind,
    user_id: Option<&str>,
    email: Option<&str>,
    redirect_to: Option<&str>,
) -> Result<String, Error> {
    let id = basalt_core::id::new_id();
    let secret = basalt_core::secret::random_hex(32);
    let now = Timestamp::now().millis();
    db.execute(
        "INSERT INTO one_time_tokens (id, kind, user_id, email, secret_hash, redirect_to, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            (&id).into(),
            kind.as_str().into(),
            user_id.into(),
            email.into(),
            Param::Bytes(&hash(&secret)),
            redirect_to.into(),
            (now + kind.lifetime_ms()).into(),
            now.into(),
        ],
    )
    .await?;
    Ok(format!("{id}.{secret}"))
}

/// Splits a one-time token, `{id}.{secret}`, as Basalt issues it (surrounding blanks, which a
/// pasted link may bring, aside).
pub fn parse_token(presented: &str) -> Option<(&str, &str)> {
    presented
        .trim()
        .split_once('.')
        .filter(|(id, secret)| basalt_core::secret::is_token_part(id, secret))
}

/// Redeems a token of `kind` once; any failure is the same 400.
pub async fn redeem(db: &Db, kind: Kind, presented: &str) -> Result<Redeemed, Error> {
    let invalid = || Error::invalid_argument("the token is invalid or has expired");
    let (id, secret) = parse_token(presented).ok_or_else(invalid)?;
    let now = Timestamp::now().millis();
    let row = db
        .fetch_optional(
            "SELECT kind, user_id, email, secret_hash, redirect_to, expires_at, used_at FROM one_time_tokens WHERE id = $1",
            &[id.into()],
        )
        .await?;
    let Some(row) = row else { return Err(invalid()) };
    let stored = row.bytes(3)?;
    let matches = bool::from(hash(secret).as_slice().ct_eq(stored.as_slice()));
    if !matches || row.text(0)? != kind.as_str() || row.int(5)? < now || row.opt_int(6)?.is_some() {
        return Err(invalid());
    }
    // Single use, even when two requests race: only one update wins.
    let used = db
        .execute(
            "UPDATE one_time_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
            &[now.into(), id.into()],
        )
        .await?;
    if used != 1 {
        return Err(invalid());
    }
    Ok(Redeemed {
        user_id: row.opt_text(1)?,
        email: row.opt_text(2)?,
        redirect_to: row.opt_text(4)?,
    })
}
