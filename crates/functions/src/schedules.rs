//! Schedules: functions run at the slots of a cron expression (5 fields,
//! or 6 with seconds; in a time zone, UTC by default).
//!
//! Every node looks at every schedule, and each slot is claimed once
//! across all of them: a row per (function, slot) in `schedule_runs`,
//! inserted by whoever comes first. A run still going when the next slot
//! comes makes that slot `skipped`. Only the latest slot is ever due, so
//! after downtime a schedule runs once, not once per missed slot; slots
//! from before a schedule was saved never run. A run's database writes
//! commit with its slot's completion, so a node that dies mid-run leaves
//! nothing half done, and the slot is run again (once) by another node.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use basalt_core::caller::BoxFuture;
use basalt_core::{Error, Timestamp};
use basalt_store::outbox::Completion;
use basalt_store::{Db, Param, StoreError, Tx};
use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use rhai::Dynamic;

use crate::{Functions, Inner};

/// How often the stored schedules are read again (a save on this node
/// takes effect at once).
const REFRESH: Duration = Duration::from_secs(2);
/// Beyond a run's time budget, how long a `running` slot is taken to be
/// alive; after that, its node is taken to have died and it runs again.
const STALE_MARGIN: Duration = Duration::from_secs(5);

/// A parsed cron expression in its time zone.
#[derive(Clone)]
pub struct Plan {
    cron: Cron,
    tz: chrono_tz::Tz,
}

impl Plan {
    /// Parses `cron` (5 fields, or 6 with seconds first) and `timezone`.
    pub fn parse(cron: &str, timezone: Option<&str>) -> Result<Plan, Error> {
        let fields = cron.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(Error::invalid_argument(format!(
                "`cron` needs 5 fields (minute hour day month weekday), or 6 with seconds first; got {fields}"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(cron)
            .map_err(|e| Error::invalid_argument(format!("`cron`: {e}")))?;
        let tz = match timezone {
            None => chrono_tz::UTC,
            Some(name) => chrono_tz::Tz::from_str(name).map_err(|_| {
                Error::invalid_argument(format!(
                    "`timezone` `{name}` is not an IANA time zone (such as Europe/Paris)"
                ))
            })?,
        };
        Ok(Plan { cron, tz })
    }

    /// The latest slot at or before `now` (ms).
    pub fn latest(&self, now: i64) -> Option<i64> {
        let at = self.tz.timestamp_millis_opt(now).single()?;
        self.cron
            .find_previous_occurrence(&at, true)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    /// The first slot after `now` (ms).
    pub fn next(&self, now: i64) -> Option<i64> {
        let at = self.tz.timestamp_millis_opt(now).single()?;
        self.cron
            .find_next_occurrence(&at, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

/// One stored schedule.
struct Scheduled {
    name: String,
    plan: Plan,
    /// Saved at: slots before it never run.
    since: i64,
}

/// A claimed slot: what a run's commit completes.
struct SlotClaim {
    function: String,
    slot: i64,
    /// `claimed_at` as the claim set it.
    token: i64,
}

impl Completion for SlotClaim {
    fn complete<'a>(&'a self, tx: &'a mut Tx) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let n = tx
                .execute(
                    "UPDATE schedule_runs SET status = 'ok', finished_at = $4 \
                     WHERE function = $1 AND slot = $2 AND claimed_at = $3 AND status = 'running'",
                    &[
                        Param::Text(&self.function),
                        self.slot.into(),
                        self.token.into(),
                        Timestamp::now().millis().into(),
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }
}

/// Claims `slot` of `function`: `Some(token)` when this node runs it. A
/// slot whose previous run is still going is recorded as skipped.
async fn claim(db: &Db, function: &str, slot: i64, stale: i64) -> Result<Option<i64>, StoreError> {
    let now = Timestamp::now().millis();
    let mut tx = db.begin().await?;
    let busy = tx
        .fetch_optional(
            "SELECT slot FROM schedule_runs WHERE function = $1 AND status = 'running' AND claimed_at > $2 \
             AND slot < $3 LIMIT 1",
            &[function.into(), (now - stale).into(), slot.into()],
        )
        .await?
        .is_some();
    let status = if busy { "skipped" } else { "running" };
    let inserted = tx
        .execute(
            "INSERT INTO schedule_runs (function, slot, claimed_at, finished_at, status) VALUES ($1, $2, $3, NULL, $4) \
             ON CONFLICT (function, slot) DO NOTHING",
            &[function.into(), slot.into(), now.into(), status.into()],
        )
        .await?;
    tx.commit().await?;
    Ok((inserted == 1 && !busy).then_some(now))
}

/// Takes over slots whose node stopped answering mid-run.
async fn reclaim_stale(db: &Db, stale: i64) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let now = Timestamp::now().millis();
    let mut tx = db.begin().await?;
    let rows = tx
        .fetch_all(
            "SELECT function, slot, claimed_at FROM schedule_runs WHERE status = 'running' AND claimed_at < $1 LIMIT 16",
            &[(now - stale).into()],
        )
        .await?;
    let mut taken = Vec::new();
    for r in rows {
        let (function, slot, old) = (r.text(0)?, r.int(1)?, r.int(2)?);
        let n = tx
            .execute(
                "UPDATE schedule_runs SET claimed_at = $4 WHERE function = $1 AND slot = $2 AND claimed_at = $3 \
                 AND status = 'running'",
                &[function.as_str().into(), slot.into(), old.into(), now.into()],
            )
            .await?;
        if n == 1 {
            taken.push((function, slot, now));
        }
    }
    tx.commit().await?;
    Ok(taken)
}

async fn finish(db: &Db, claim: &SlotClaim, status: &str) {
    let _ = db
        .execute(
            "UPDATE schedule_runs SET status = $4, finished_at = $5 WHERE function = $1 AND slot = $2 \
             AND claimed_at = $3 AND status = 'running'",
            &[
                claim.function.as_str().into(),
                claim.slot.into(),
                claim.token.into(),
                status.into(),
                Timestamp::now().millis().into(),
            ],
        )
        .await;
}

async fn load(db: &Db) -> Vec<Scheduled> {
    let rows = db
        .fetch_all(
            "SELECT name, cron, timezone, updated_at FROM functions WHERE kind = 'schedule' ORDER BY name",
            &[],
        )
        .await
        .unwrap_or_default();
    rows.iter()
        .filter_map(|r| {
            let name = r.text(0).ok()?;
            let plan = Plan::parse(&r.opt_text(1).ok()??, r.opt_text(2).ok()?.as_deref()).ok()?;
            Some(Scheduled {
                name,
                plan,
                since: r.int(3).ok()?,
            })
        })
        .collect()
}

pub(crate) fn spawn(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut schedules: Vec<Scheduled> = Vec::new();
        let mut loaded = tokio::time::Instant::now() - REFRESH;
        let mut swept = tokio::time::Instant::now();
        // The last slot this node looked at, per schedule.
        let mut looked: HashMap<String, i64> = HashMap::new();
        loop {
            let Some(strong) = inner.upgrade() else { return };
            let f = Functions { inner: strong };
            let db = f.inner.db.clone();
            let stale = (f.inner.sandbox.limits().max_time + STALE_MARGIN).as_millis() as i64;
            if loaded.elapsed() >= REFRESH {
                schedules = load(&db).await;
                loaded = tokio::time::Instant::now();
                looked.retain(|name, _| schedules.iter().any(|s| &s.name == name));
                for (function, slot, token) in reclaim_stale(&db, stale).await.unwrap_or_default() {
                    let f = f.clone();
                    tokio::spawn(async move { f.run_slot(function, slot, token).await });
                }
            }
            if swept.elapsed() >= Duration::from_secs(60) {
                swept = tokio::time::Instant::now();
                let cutoff = Timestamp::now().millis() - f.inner.execution_retention.as_millis() as i64;
                let _ = db
                    .execute(
                        "DELETE FROM schedule_runs WHERE claimed_at < $1",
                        &[cutoff.into()],
                    )
                    .await;
            }
            let now = Timestamp::now().millis();
            let mut wake = now + 1000;
            for s in &schedules {
                if let Some(slot) = s.plan.latest(now)
                    && slot >= s.since
                    && looked.get(&s.name) != Some(&slot)
                {
                    looked.insert(s.name.clone(), slot);
                    match claim(&db, &s.name, slot, stale).await {
                        Ok(Some(token)) => {
                            let f = f.clone();
                            let name = s.name.clone();
                            tokio::spawn(async move { f.run_slot(name, slot, token).await });
                        }
                        Ok(None) => {}
                        Err(e) => {
                            // Not looked at after all: try again on the next pass.
                            looked.remove(&s.name);
                            tracing::debug!(error = %e, "schedules: claiming a slot failed");
                        }
                    }
                }
                if let Some(next) = s.plan.next(now) {
                    wake = wake.min(next);
                }
            }
            let changed = f.inner.schedules_changed.clone();
            drop(f);
            let wait = Duration::from_millis((wake - Timestamp::now().millis()).clamp(1, 1000) as u64);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = changed.notified() => loaded = tokio::time::Instant::now() - REFRESH,
            }
        }
    });
}

impl Functions {
    async fn run_slot(&self, function: String, slot: i64, token: i64) {
        let inner = &self.inner;
        let claim = SlotClaim {
            function: function.clone(),
            slot,
            token,
        };
        let compiled = match inner.compiled(&function).await {
            Ok(c) if c.function.spec.kind == "schedule" => c,
            _ => {
                finish(&inner.db, &claim, "error").await;
                return;
            }
        };
        let at: DateTime<Utc> = Utc.timestamp_millis_opt(slot).single().unwrap_or_else(Utc::now);
        let slot_text = Timestamp::from_millis(slot).to_string();
        let event = serde_json::json!({
            "id": format!("{function}:{slot_text}"),
            "type": "schedule",
            "slot": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        let mut vars = BTreeMap::new();
        vars.insert("event", rhai::serde::to_dynamic(&event).unwrap_or(Dynamic::UNIT));
        vars.insert("args", Dynamic::UNIT);
        let claim = Arc::new(claim);
        // The slot is this node's until it is taken to be stale.
        let stale = (inner.sandbox.limits().max_time + STALE_MARGIN).as_millis() as i64;
        let held = token + stale;
        let Some((ran, error)) = self.run_completing(&compiled, vars, claim.clone(), held).await else {
            return;
        };
        let status = if error.is_some() {
            finish(&inner.db, &claim, "error").await;
            "error"
        } else {
            "ok"
        };
        self.record(
            &compiled,
            ran,
            crate::Record {
                trigger: "schedule",
                status,
                attempts: 1,
                error,
                delivery: None,
            },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claims on a real SQLite database: once per slot, a slot during
    /// a run is skipped, a run whose node died is taken over.
    #[tokio::test]
    async fn claims() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(None, dir.path(), 2).await.unwrap();
        db.migrate().await.unwrap();
        let stale = 10_000;
        let first = claim(&db, "f", 1_000, stale).await.unwrap();
        assert!(first.is_some());
        // The same slot again (another node): not this one's.
        assert_eq!(claim(&db, "f", 1_000, stale).await.unwrap(), None);
        // The next slot while the first still runs: skipped, for every node.
        assert_eq!(claim(&db, "f", 2_000, stale).await.unwrap(), None);
        assert_eq!(claim(&db, "f", 2_000, stale).await.unwrap(), None);
        let status = db
            .fetch_optional(
                "SELECT status FROM schedule_runs WHERE function = 'f' AND slot = 2000",
                &[],
            )
            .await
            .unwrap()
            .unwrap()
            .text(0)
            .unwrap();
        assert_eq!(status, "skipped");
        // Another function is not held up.
        assert!(claim(&db, "g", 2_000, stale).await.unwrap().is_some());
        // The first run completes: the next slot runs.
        let done = SlotClaim {
            function: "f".into(),
            slot: 1_000,
            token: first.unwrap(),
        };
        let mut tx = db.begin().await.unwrap();
        assert!(done.complete(&mut tx).await.unwrap());
        tx.commit().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        assert!(!done.complete(&mut tx).await.unwrap(), "completes once");
        drop(tx);
        assert!(claim(&db, "f", 3_000, stale).await.unwrap().is_some());
        // A run whose node stopped answering is taken over once.
        assert!(reclaim_stale(&db, stale).await.unwrap().is_empty());
        let taken = reclaim_stale(&db, -60_000).await.unwrap();
        let mut slots: Vec<_> = taken.iter().map(|(f, s, _)| (f.as_str(), *s)).collect();
        slots.sort_unstable();
        assert_eq!(slots, [("f", 3_000), ("g", 2_000)]);
    }

    #[test]
    fn plans() {
        assert!(Plan::parse("* * * *", None).is_err());
        assert!(Plan::parse("0 0 0 * * * 2030", None).is_err());
        assert!(Plan::parse("61 * * * *", None).is_err());
        assert!(Plan::parse("0 3 * * *", Some("Mars/Olympus")).is_err());
        let every_second = Plan::parse("* * * * * *", None).unwrap();
        assert_eq!(every_second.latest(10_500), Some(10_000));
        assert_eq!(every_second.next(10_500), Some(11_000));
        // 03:00 in Paris is 01:00 UTC in summer (2026-07-01).
        let nightly = Plan::parse("0 3 * * *", Some("Europe/Paris")).unwrap();
        let noon = 1_782_907_200_000; // 2026-07-01T12:00:00Z
        assert_eq!(nightly.latest(noon), Some(1_782_867_600_000)); // 2026-07-01T01:00:00Z
    }
}
