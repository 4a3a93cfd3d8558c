//! App users: the stored record and the public user object.

use basalt_core::{Error, Timestamp};
use basalt_store::audit::{self, Actor, Change};
use basalt_store::{Db, Row, StoreError};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// The user object of API.md. Never carries a hash or a secret.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct User {
    pub id: String,
    /// `null` for an anonymous user.
    pub email: Option<String>,
    pub email_verified: bool,
    pub anonymous: bool,
    /// Disabled users cannot sign in or refresh.
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The app's profile data.
    pub data: Map<String, Value>,
    /// Custom claims set by admins; they appear in access tokens.
    pub claims: Map<String, Value>,
    pub mfa_enabled: bool,
}

/// A user as stored, with the secrets that stay on the server.
pub struct UserRecord {
    pub user: User,
    pub password_hash: Option<String>,
    pub mfa_secret: Option<String>,
}

pub const COLUMNS: &str = "id, email, email_verified, anonymous, disabled, data, claims, mfa_enabled, \
                           created_at, updated_at, password_hash, mfa_secret";

fn json_object(text: &str) -> Result<Map<String, Value>, Error> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::internal("a stored user has a malformed JSON column")),
    }
}

pub fn from_row(row: &Row) -> Result<UserRecord, Error> {
    Ok(UserRecord {
        user: User {
            id: row.text(0)?,
            email: row.opt_text(1)?,
            email_verified: row.bool(2)?,
            anonymous: row.bool(3)?,
            disabled: row.bool(4)?,
            data: json_object(&row.text(5)?)?,
            claims: json_object(&row.text(6)?)?,
            mfa_enabled: row.bool(7)?,
            created_at: Timestamp::from_millis(row.int(8)?),
            updated_at: Timestamp::from_millis(row.int(9)?),
        },
        password_hash: row.opt_text(10)?,
        mfa_secret: row.opt_text(11)?,
    })
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<UserRecord>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    db.fetch_optional(&sql, &[id.into()])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn by_id_tx(tx: &mut basalt_store::Tx, id: &str) -> Result<Option<UserRecord>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    tx.fetch_optional(&sql, &[id.into()])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn by_email(db: &Db, email: &str) -> Result<Option<UserRecord>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    db.fetch_optional(&sql, &[email.into()])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// What a new user starts with.
pub struct NewUser<'a> {
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub password_hash: Option<&'a str>,
    pub anonymous: bool,
    pub data: &'a Map<String, Value>,
    pub claims: &'a Map<String, Value>,
}

/// Inserts a user; 409 when the email is taken.
pub async fn insert(db: &Db, new: NewUser<'_>) -> Result<User, Error> {
    insert_as(db, new, None).await
}

/// A user signing up (with a password, a mailed link or a provider):
/// the `auth` `before_signup` trigger may refuse them or change their
/// profile `data` and `claims` first.
pub async fn sign_up(auth: &crate::Auth, new: NewUser<'_>) -> Result<User, Error> {
    let Some(hook) = auth.inner.signup_hook.get().filter(|h| h.listens()) else {
        return insert(auth.db(), new).await;
    };
    let (data, claims) = hook
        .run(
            new.email.unwrap_or_default().to_owned(),
            new.data.clone(),
            new.claims.clone(),
        )
        .await?;
    insert(
        auth.db(),
        NewUser {
            data: &data,
            claims: &claims,
            ..new
        },
    )
    .await
}

/// Inserts a user; with `by`, an admin's creation recorded in the audit
/// log in the same transaction.
pub async fn insert_as(db: &Db, new: NewUser<'_>, by: Option<Actor<'_>>) -> Result<User, Error> {
    let id = basalt_core::id::new_id();
    let now = Timestamp::now().millis();
    let data = Value::Object(new.data.clone()).to_string();
    let claims = Value::Object(new.claims.clone()).to_string();
    let mut tx = db.begin().await?;
    tx.execute(
        "INSERT INTO users (id, email, email_verified, password_hash, anonymous, disabled, data, claims,
                            mfa_enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        &[
            (&id).into(),
            new.email.into(),
            new.email_verified.into(),
            new.password_hash.into(),
            new.anonymous.into(),
            false.into(),
            (&data).into(),
            (&claims).into(),
            false.into(),
            now.into(),
        ],
    )
    .await
    .map_err(email_taken)?;
    let user_json = serde_json::json!({
        "id": id, "email": new.email, "email_verified": new.email_verified, "anonymous": new.anonymous,
        "data": new.data, "claims": new.claims, "created_at": Timestamp::from_millis(now),
    });
    let mut fields = serde_json::Map::new();
    fields.insert("user".into(), user_json);
    let queued = basalt_store::outbox::emit(&mut tx, db.outbox(), "auth.signup", fields).await?;
    if let Some(actor) = by {
        audit::record(
            &mut tx,
            actor,
            Change {
                action: "user.create",
                target: &id,
                before: None,
                after: Some(
                    serde_json::json!({"id": id, "email": new.email, "email_verified": new.email_verified,
                                       "data": new.data, "claims": new.claims})
                    .to_string(),
                ),
            },
        )
        .await?;
    }
    tx.commit().await?;
    if queued {
        db.outbox().ring();
    }
    Ok(User {
        id,
        email: new.email.map(str::to_owned),
        email_verified: new.email_verified,
        anonymous: new.anonymous,
        disabled: false,
        created_at: Timestamp::from_millis(now),
        updated_at: Timestamp::from_millis(now),
        data: new.data.clone(),
        claims: new.claims.clone(),
        mfa_enabled: false,
    })
}

/// The owner of an address that was never confirmed has just proved it
/// (a magic link, or a provider that verified it). Whoever registered the
/// address before loses every way in: password, provider links, MFA and
/// sessions; the address is now confirmed.
pub async fn owner_proved(auth: &crate::Auth, user_id: &str) -> Result<(), Error> {
    let mut tx = auth.db().begin().await?;
    tx.execute(
        "UPDATE users SET email_verified = $1, password_hash = NULL, mfa_enabled = $2, mfa_secret = NULL,
                          mfa_last_step = NULL, updated_at = $3 WHERE id = $4",
        &[
            true.into(),
            false.into(),
            Timestamp::now().millis().into(),
            user_id.into(),
        ],
    )
    .await?;
    tx.execute("DELETE FROM identities WHERE user_id = $1", &[user_id.into()])
        .await?;
    tx.execute(
        "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
        &[user_id.into()],
    )
    .await?;
    tx.commit().await?;
    crate::sessions::revoke_all(auth, user_id, None).await
}

/// An update guarded by the `updated_at` it read: 409 `aborted` when
/// another write got there first (safe to retry).
pub fn changed_once(rows: u64) -> Result<u64, Error> {
    if rows == 1 {
        Ok(rows)
    } else {
        Err(Error::new(
            basalt_core::Code::Aborted,
            "the user changed meanwhile; try again",
        ))
    }
}

pub fn email_taken(e: StoreError) -> Error {
    match e {
        StoreError::UniqueViolation => Error::already_exists("a user with this email exists"),
        e => e.into(),
    }
}

pub use basalt_core::json::merge_patch;

/// Profile data is bounded: 64 KiB of JSON, nested at most 32 deep.
pub fn check_profile(data: &Map<String, Value>, what: &str) -> Result<(), Error> {
    let value = Value::Object(data.clone());
    if value.to_string().len() > 64 * 1024 {
        return Err(Error::new(
            basalt_core::Code::PayloadTooLarge,
            format!("`{what}` is larger than 64 KiB"),
        ));
    }
    if basalt_core::json::depth(&value) > 32 {
        return Err(Error::invalid_argument(format!(
            "`{what}` is nested more than 32 levels deep"
        )));
    }
    Ok(())
}
