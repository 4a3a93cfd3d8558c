//! Outgoing mail. Without an SMTP server configured, every mail is written
//! to the log and kept in the outbox admins read at `GET /v1/admin/outbox`.

use basalt_core::{Error, Timestamp};
use basalt_store::Db;
use schemars::JsonSchema;
use serde::Serialize;

/// One mail to one address.
pub struct Mail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: String,
    /// The auth token the mail carries, shown in the outbox for development.
    pub token: Option<&'a str>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OutboxItem {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub token: Option<String>,
    pub created_at: Timestamp,
}

/// Delivers `mail` (for now: the outbox and the log).
pub async fn send(db: &Db, mail: Mail<'_>) -> Result<(), Error> {
    tracing::info!(
        to = mail.to,
        subject = mail.subject,
        "mail written to the outbox (no SMTP server configured)"
    );
    db.execute(
        "INSERT INTO outbox (id, to_address, subject, body, token, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            (&basalt_core::id::new_id()).into(),
            mail.to.into(),
            mail.subject.into(),
            (&mail.text).into(),
            mail.token.into(),
            Timestamp::now().millis().into(),
        ],
    )
    .await?;
    Ok(())
}

/// The newest `limit` outbox items, newest first.
pub async fn outbox(db: &Db, limit: i64) -> Result<Vec<OutboxItem>, Error> {
    let rows = db
        .fetch_all(
            "SELECT to_address, subject, body, token, created_at FROM outbox ORDER BY id DESC LIMIT $1",
            &[limit.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxItem {
                to: r.text(0)?,
                subject: r.text(1)?,
                text: r.text(2)?,
                token: r.opt_text(3)?,
                created_at: Timestamp::from_millis(r.int(4)?),
            })
        })
        .collect()
}
