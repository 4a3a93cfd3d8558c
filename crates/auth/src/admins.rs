//! Dashboard administrators: Argon2id passwords, tokens revoked by bumping
//! `token_version`.

use basalt_core::caller::AdminRole;
use basalt_core::{Error, Secret, Timestamp};
use basalt_store::audit::{self, Actor, Change};
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
    /// `owner`, `developer` or `viewer`.
    #[schemars(with = "RoleName")]
    #[serde(serialize_with = "role_name")]
    pub role: AdminRole,
    /// Whether signing in asks for a TOTP code.
    pub mfa_enabled: bool,
    pub created_at: Timestamp,
}

/// An admin role.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RoleName {
    /// Everything.
    Owner,
    /// Everything but managing admins and service keys.
    Developer,
    /// Reads only; no secrets.
    Viewer,
}

fn role_name<S: serde::Serializer>(role: &AdminRole, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

const COLUMNS: &str = "id, email, role, created_at, mfa_enabled";

fn from_row(r: &basalt_store::Row) -> Result<Admin, StoreError> {
    Ok(Admin {
        id: r.text(0)?,
        email: r.text(1)?,
        role: AdminRole::parse(&r.text(2)?).unwrap_or(AdminRole::Viewer),
        created_at: Timestamp::from_millis(r.int(3)?),
        mfa_enabled: r.bool(4)?,
    })
}

/// What the audit log keeps of an admin: never the password hash.
fn snapshot(admin: &Admin) -> String {
    serde_json::json!({"id": admin.id, "email": admin.email, "role": admin.role.as_str()}).to_string()
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
pub async fn create(
    auth: &Auth,
    email: &Email,
    password: Secret<String>,
    role: AdminRole,
    actor: Actor<'_>,
) -> Result<Admin, Error> {
    password::validate(password.expose())?;
    let hash = auth.hasher().hash(password).await?;
    let now = Timestamp::now();
    let admin = Admin {
        id: basalt_core::id::new_id(),
        email: email.as_str().to_owned(),
        role,
        mfa_enabled: false,
        created_at: now,
    };
    audit::execute(
        auth.db(),
        "INSERT INTO admins (id, email, password_hash, token_version, role, created_at, updated_at)
         VALUES ($1, $2, $3, 1, $4, $5, $5)",
        &[
            (&admin.id).into(),
            email.as_str().into(),
            (&hash).into(),
            role.as_str().into(),
            now.millis().into(),
        ],
        actor,
        Change {
            action: "admin.create",
            target: &admin.email,
            before: None,
            after: Some(snapshot(&admin)),
        },
    )
    .await
    .map_err(|e| match e {
        StoreError::UniqueViolation => Error::already_exists("an admin with this email exists"),
        e => e.into(),
    })?;
    Ok(admin)
}

pub async fn list(db: &Db) -> Result<Vec<Admin>, Error> {
    let rows = db
        .fetch_all(
            &format!("SELECT {COLUMNS} FROM admins ORDER BY created_at, id"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

pub async fn get(db: &Db, id: &str) -> Result<Admin, Error> {
    let row = db
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM admins WHERE id = $1"),
            &[id.into()],
        )
        .await?
        .ok_or_else(|| Error::not_found("no admin with this id"))?;
    Ok(from_row(&row)?)
}

/// What an owner may change of an admin.
pub struct AdminChange {
    pub email: Option<Email>,
    pub password: Option<Secret<String>>,
    pub role: Option<AdminRole>,
}

/// Changes an admin. A new password or email signs the admin out
/// everywhere. The last owner cannot stop being one.
pub async fn update(auth: &Auth, id: &str, change: AdminChange, actor: Actor<'_>) -> Result<Admin, Error> {
    let hash = match change.password {
        Some(p) => {
            password::validate(p.expose())?;
            Some(auth.hasher().hash(p).await?)
        }
        None => None,
    };
    let mut tx = auth.db().begin().await?;
    let row = tx
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM admins WHERE id = $1"),
            &[id.into()],
        )
        .await?
        .ok_or_else(|| Error::not_found("no admin with this id"))?;
    let before = from_row(&row)?;
    let mut after = before.clone();
    if let Some(role) = change.role {
        after.role = role;
    }
    if let Some(email) = &change.email {
        after.email = email.as_str().to_owned();
    }
    if before.role == AdminRole::Owner && after.role != AdminRole::Owner {
        ensure_another_owner(&mut tx, id).await?;
    }
    let revoke = hash.is_some() || after.email != before.email;
    tx.execute(
        "UPDATE admins SET email = $1, role = $2, password_hash = COALESCE($3, password_hash),
         token_version = token_version + $4, updated_at = $5 WHERE id = $6",
        &[
            (&after.email).into(),
            after.role.as_str().into(),
            hash.as_deref().into(),
            i64::from(revoke).into(),
            Timestamp::now().millis().into(),
            id.into(),
        ],
    )
    .await
    .map_err(|e| match e {
        StoreError::UniqueViolation => Error::already_exists("an admin with this email exists"),
        e => e.into(),
    })?;
    let mut after_json = serde_json::from_str::<serde_json::Value>(&snapshot(&after)).unwrap_or_default();
    if hash.is_some() {
        // That it changed, never what it is.
        after_json["password"] = "changed".into();
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "admin.update",
            target: &before.email,
            before: Some(snapshot(&before)),
            after: Some(after_json.to_string()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes an admin; their tokens stop working at once. Not the last owner.
pub async fn delete(db: &Db, id: &str, actor: Actor<'_>) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    let row = tx
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM admins WHERE id = $1"),
            &[id.into()],
        )
        .await?
        .ok_or_else(|| Error::not_found("no admin with this id"))?;
    let before = from_row(&row)?;
    if before.role == AdminRole::Owner {
        ensure_another_owner(&mut tx, id).await?;
    }
    tx.execute("DELETE FROM admins WHERE id = $1", &[id.into()])
        .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "admin.delete",
            target: &before.email,
            before: Some(snapshot(&before)),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn ensure_another_owner(tx: &mut basalt_store::Tx, id: &str) -> Result<(), Error> {
    let others = tx
        .fetch_optional(
            "SELECT COUNT(*) FROM admins WHERE role = 'owner' AND id <> $1",
            &[id.into()],
        )
        .await?
        .map_or(Ok(0), |r| r.int(0))?;
    if others == 0 {
        return Err(Error::new(
            basalt_core::Code::FailedPrecondition,
            "this is the last owner: make another admin an owner first",
        ));
    }
    Ok(())
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
            &format!("SELECT {COLUMNS}, token_version FROM admins WHERE id = $1"),
            &[(&claims.sub).into()],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.int(5)? != claims.ver {
        return Ok(None);
    }
    Ok(Some(from_row(&row)?))
}

/// Checks credentials and issues an admin token. Unknown email and wrong
/// password give the same answer after the same work.
/// An admin whose password checked out, with what signing in needs next.
pub struct Verified {
    pub admin: Admin,
    version: i64,
    /// The TOTP secret, when the admin has MFA on.
    pub mfa_secret: Option<String>,
}

/// Checks an admin's email and password (in constant time whether or not
/// the email exists).
pub async fn verify_password(
    auth: &Auth,
    email: &Email,
    password: Secret<String>,
) -> Result<Verified, Error> {
    let row = auth
        .db()
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS}, password_hash, token_version, mfa_secret FROM admins WHERE email = $1"
            ),
            &[email.as_str().into()],
        )
        .await?;
    let (found, hash) = match row {
        Some(r) => (Some((from_row(&r)?, r.int(6)?, r.opt_text(7)?)), Some(r.text(5)?)),
        None => (None, None),
    };
    let ok = auth.hasher().verify(password, hash).await?;
    match found {
        Some((admin, version, secret)) if ok => Ok(Verified {
            mfa_secret: secret.filter(|_| admin.mfa_enabled),
            admin,
            version,
        }),
        _ => Err(Error::unauthenticated("invalid email or password")),
    }
}

/// The admin, as a fresh `verify_password` would find them (for the MFA step).
pub async fn verified_by_email(db: &Db, email: &str) -> Result<Option<Verified>, Error> {
    let row = db
        .fetch_optional(
            &format!("SELECT {COLUMNS}, token_version, mfa_secret FROM admins WHERE email = $1"),
            &[email.into()],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    let admin = from_row(&r)?;
    Ok(Some(Verified {
        version: r.int(5)?,
        mfa_secret: r.opt_text(6)?.filter(|_| admin.mfa_enabled),
        admin,
    }))
}

/// An admin token for a verified admin.
pub fn session(auth: &Auth, verified: Verified) -> Result<AdminSession, Error> {
    let Verified { admin, version, .. } = verified;
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

/// Ends every token of an admin (bumps `token_version`).
pub async fn sign_out(db: &Db, id: &str) -> Result<(), Error> {
    db.execute(
        "UPDATE admins SET token_version = token_version + 1, updated_at = $1 WHERE id = $2",
        &[Timestamp::now().millis().into(), id.into()],
    )
    .await?;
    Ok(())
}

/// The MFA state of one admin: (enabled, secret).
pub async fn mfa_state(db: &Db, id: &str) -> Result<(bool, Option<String>), Error> {
    let row = db
        .fetch_optional(
            "SELECT mfa_enabled, mfa_secret FROM admins WHERE id = $1",
            &[id.into()],
        )
        .await?
        .ok_or_else(|| Error::not_found("no admin with this id"))?;
    Ok((row.bool(0)?, row.opt_text(1)?))
}
