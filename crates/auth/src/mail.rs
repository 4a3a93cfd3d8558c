//! Outgoing mail: over SMTP when a server is configured; otherwise every
//! mail is written to the log and kept in the outbox admins read at
//! `GET /v1/admin/outbox`.

use basalt_core::{Error, Secret, Timestamp};
use basalt_store::Db;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
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

/// Where mail goes.
pub enum Mailer {
    Outbox,
    Smtp(Box<Smtp>),
}

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// An SMTP mailer for `url`, or the outbox without one.
    pub fn new(url: Option<&Secret<String>>, from: &str) -> Result<Mailer, String> {
        let Some(url) = url else { return Ok(Mailer::Outbox) };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|e| format!("invalid smtp_url: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("invalid mail_from: {e}"))?;
        Ok(Mailer::Smtp(Box::new(Smtp { transport, from })))
    }

    /// Delivers `mail`.
    pub async fn send(&self, db: &Db, mail: Mail<'_>) -> Result<(), Error> {
        match self {
            Mailer::Outbox => to_outbox(db, mail).await,
            Mailer::Smtp(smtp) => {
                let Smtp { transport, from } = smtp.as_ref();
                let to = mail
                    .to
                    .parse::<Mailbox>()
                    .map_err(|_| Error::invalid_argument("invalid recipient"))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(mail.subject)
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .body(mail.text)
                    .map_err(Error::internal)?;
                transport.send(message).await.map_err(|e| {
                    // The SMTP server's answer may name hosts; it stays in the log.
                    tracing::error!(error = %e, "sending mail failed");
                    Error::unavailable("the mail server did not accept the message")
                })?;
                tracing::info!(to = mail.to, subject = mail.subject, "mail sent");
                Ok(())
            }
        }
    }
}

async fn to_outbox(db: &Db, mail: Mail<'_>) -> Result<(), Error> {
    // The log gets the mail with its token blanked out: logs are not a place for secrets.
    let logged = match mail.token {
        Some(token) => mail.text.replace(token, "[token: see GET /v1/admin/outbox]"),
        None => mail.text.clone(),
    };
    tracing::info!(
        to = mail.to,
        subject = mail.subject,
        text = %logged,
        "mail kept in the outbox (no SMTP server configured)"
    );
    // The text carries the token too: both are sealed with the master key if there is one.
    let body = db.vault().seal_text("outbox.body", &mail.text);
    let token = mail.token.map(|t| db.vault().seal_text("outbox.token", t));
    db.execute(
        "INSERT INTO outbox (id, to_address, subject, body, token, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            (&basalt_core::id::new_id()).into(),
            mail.to.into(),
            mail.subject.into(),
            (&body).into(),
            token.as_deref().into(),
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
            "SELECT to_address, subject, body, token, created_at FROM outbox ORDER BY created_at DESC, id DESC LIMIT $1",
            &[limit.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxItem {
                to: r.text(0)?,
                subject: r.text(1)?,
                text: db.vault().open_text("outbox.body", &r.text(2)?)?,
                token: r
                    .opt_text(3)?
                    .map(|t| db.vault().open_text("outbox.token", &t))
                    .transpose()?,
                created_at: Timestamp::from_millis(r.int(4)?),
            })
        })
        .collect()
}
