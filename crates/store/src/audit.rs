//! The audit log: who changed what, written by the slices inside the
//! transaction of the change itself, so a change and its record commit or
//! fail together.

use basalt_core::{Caller, Timestamp};

use crate::{Param, StoreError, Tx};

/// Who made a change, as the audit log names them.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// `admin`, `service`, or `cli` for a command run on the server.
    pub kind: &'a str,
    pub id: Option<&'a str>,
    /// The admin's email or the service key's name.
    pub name: Option<&'a str>,
}

impl<'a> Actor<'a> {
    /// A command run on the server machine (`basalt admin create`, …).
    pub const CLI: Actor<'static> = Actor {
        kind: "cli",
        id: None,
        name: None,
    };

    pub fn of(caller: &'a Caller) -> Actor<'a> {
        match caller {
            Caller::Admin(a) => Actor {
                kind: "admin",
                id: Some(&a.id),
                name: Some(&a.email),
            },
            Caller::Service(s) => Actor {
                kind: "service",
                id: Some(&s.key_id),
                name: Some(&s.name),
            },
            // Only privileged callers change configuration; anything else
            // is recorded for what it is.
            Caller::User(u) => Actor {
                kind: "user",
                id: Some(&u.uid),
                name: u.email.as_deref(),
            },
            Caller::Anonymous => Actor {
                kind: "anon",
                id: None,
                name: None,
            },
        }
    }
}

/// One change: `action` such as `collection.update`, `target` the thing's
/// name or id, `before`/`after` its JSON without secrets.
pub struct Change<'a> {
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

pub async fn record(tx: &mut Tx, actor: Actor<'_>, change: Change<'_>) -> Result<(), StoreError> {
    let id = basalt_core::id::new_id();
    tx.execute(
        "INSERT INTO audit_log (id, time, actor_kind, actor_id, actor_name, action, target, before_json, after_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            Param::Text(&id),
            Param::Int(Timestamp::now().millis()),
            Param::Text(actor.kind),
            actor.id.into(),
            actor.name.into(),
            Param::Text(change.action),
            Param::Text(change.target),
            change.before.as_deref().into(),
            change.after.as_deref().into(),
        ],
    )
    .await?;
    Ok(())
}

/// Runs one write and records it in the same transaction; the number of
/// rows the write touched. Nothing is recorded when it touched none.
pub async fn execute(
    db: &crate::Db,
    sql: &str,
    params: &[Param<'_>],
    actor: Actor<'_>,
    change: Change<'_>,
) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    let n = tx.execute(sql, params).await?;
    if n > 0 {
        record(&mut tx, actor, change).await?;
    }
    tx.commit().await?;
    Ok(n)
}
