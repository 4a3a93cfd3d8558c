//! Dashboard administrators: Argon2id passwords, tokens revoked by bumping
//! `token_version`.

use basalt_core::{Error, Secret, Timestamp};
use basalt_store::{Db, StoreError};
use schemars::JsonSchema;
use serde::Serialize;

use crate::Auth;
use crate::email::Email;
use crate::password;
use crate::tokens::{ADMIN_AUDIENCE, AdminClaims, lifetime};

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Admin {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AdminSession {
    /// An admin JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    pub admin: Admin,
}

/// Creates an admin; 409 if the email is taken.
pub async fn create(auth: &Auth, email: &Email, password: Secret<String>) -> Result<Admin, Error> {
    password::validate(password.expose())?;
    let hash = auth.hasher().hash(password).await?;
    let id = basalt_core::id::new_id();
    let now = Timestamp::now().millis();
    auth.db()
        .execute(
            "INSERT INTO admins (id, email, password_hash, token_version, created_at, updated_at)
             VALUES ($1, $2, $3, 1, $4, $4)",
            &[(&id).into(), email.as_str().into(), (&hash).into(), now.into()],
        )
        .await
        .map_err(|e| match e {
            StoreError::UniqueViolation => Error::already_exists("an admin with this email exists"),
            e => e.into(),
        })?;
    Ok(Admin {
        id,
        email: email.as_str().to_owned(),
    })
}

/// Sets a new password and revokes every token the admin holds.
pub async fn reset_password(auth: &Auth, email: &Email, password: Secret<String>) -> Result<(), Error> {
    password::validate(password.expose())?;
    let hash = auth.hasher().hash(password).await?;
    let changed = auth
        .db()
        .execute(
            "UPDATE admins SET password_hash = $1, token_version = token_version + 1, updated_at = $2
             WHERE email = $3",
            &[
                (&hash).into(),
                Timestamp::now().millis().into(),
                email.as_str().into(),
            ],
        )
        .await?;
    if changed == 0 {
        return Err(Error::not_found("no admin with this email"));
    }
    Ok(())
}

pub async fn count(db: &Db) -> Result<i64, Error> {
    let row = db.fetch_optional("SELECT COUNT(*) FROM admins", &[]).await?;
    Ok(match row {
        Some(r) => r.int(0)?,
        None => 0,
    })
}

/// The admin a token names, if it still exists and the token's version is current.
pub async fn current(db: &Db, claims: &AdminClaims) -> Result<Option<Admin>, Error> {
    let row = db
        .fetch_optional(
            "SELECT id, email, token_version FROM admins WHERE id = $1",
            &[(&claims.sub).into()],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.int(2)? != claims.ver {
        return Ok(None);
    }
    Ok(Some(Admin {
        id: row.text(0)?,
        email: row.text(1)?,
    }))
}

/// Checks credentials and issues an admin token. Unknown email and wrong
/// password give the same answer after the same work.
pub async fn login(auth: &Auth, email: &Email, password: Secret<String>) -> Result<AdminSession, Error> {
    let row = auth
        .db()
        .fetch_optional(
            "SELECT id, email, password_hash, token_version FROM admins WHERE email = $1",
            &[email.as_str().into()],
        )
        .await?;
    let (admin, hash, version) = match row {
        Some(r) => (
            Some(Admin {
                id: r.text(0)?,
                email: r.text(1)?,
            }),
            Some(r.text(2)?),
            r.int(3)?,
        ),
        None => (None, None, 0),
    };
    let ok = auth.hasher().verify(password, hash).await?;
    let admin = match admin {
        Some(admin) if ok => admin,
        _ => return Err(Error::unauthenticated("invalid email or password")),
    };
    let ttl = auth.inner.admin_token_ttl;
    let (iat, exp) = lifetime(ttl);
    let claims = AdminClaims {
        iss: auth.issuer().to_owned(),
        aud: ADMIN_AUDIENCE.to_owned(),
        sub: admin.id.clone(),
        email: admin.email.clone(),
        role: "admin".to_owned(),
        ver: version,
        iat,
        exp,
    };
    Ok(AdminSession {
        access_token: auth.keys().sign(&claims)?,
        expires_in: ttl.as_secs(),
        admin,
    })
}
