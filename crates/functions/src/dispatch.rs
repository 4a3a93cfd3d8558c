//! The outbox's dispatcher: claims due deliveries (after-triggers,
//! webhooks) with a lease and runs them, at least once each.
//!
//! Every node runs one. It wakes when this node commits outbox rows, when
//! another node does (PostgreSQL `NOTIFY`), when a retry falls due, and
//! once a second regardless. Nodes claim with `FOR UPDATE SKIP LOCKED`, so
//! a delivery runs on one node at a time; one whose node died is claimed
//! again when its lease runs out.
//!
//! An after-trigger's writes commit in the same transaction that marks its
//! delivery done: a run whose claim was lost (or that crashed) leaves no
//! write behind, so its effect on the database happens exactly once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use basalt_core::Timestamp;
use basalt_store::outbox::{self, Attempt, Due, Finish, TargetKind};
use rhai::Dynamic;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::script::{Outcome, Target};
use crate::{Functions, Inner};

/// Beyond the longest a delivery may take (a script's time budget, a
/// webhook's timeout), how long its claim holds: after a crash, what the
/// dead node had claimed runs again that much later.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// Deliveries one node has claimed at most at once.
const CLAIM: i64 = 64;
/// An attempt whose writes keep losing races to other writers of the same
/// documents runs again until its claim has this little left. Every lost
/// race is another run's commit, so runs that collide all get through.
const RERUN_MARGIN: i64 = 1000;
/// The longest the dispatcher sleeps without looking.
const IDLE: Duration = Duration::from_secs(1);

/// Waits before each retry (API.md): about 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h; the attempt after the last is `dead`.
pub(crate) const RETRIES: [Duration; 6] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
];

/// For `/metrics`.
#[derive(Default)]
pub(crate) struct Counters {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dead: AtomicU64,
    /// Deliveries waiting, as last counted.
    pub depth: AtomicI64,
    /// Age of the oldest waiting delivery (ms), as last counted.
    pub lag_ms: AtomicI64,
}

pub(crate) use outbox::after_failure;

pub(crate) fn spawn(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let Some((db, claim, lease)) = inner.upgrade().map(|i| {
            let longest = i.sandbox.limits().max_time.max(i.http.timeout());
            // Webhooks wait on the network, not on the script slots: claim
            // more than the slots (scripts still take turns for a slot).
            (
                i.db.clone(),
                (i.slots_total as i64).max(CLAIM),
                (longest + LEASE_MARGIN).as_millis() as i64,
            )
        }) else {
            return;
        };
        let mut listener = None;
        let mut counted = tokio::time::Instant::now() - Duration::from_secs(60);
        let mut running: JoinSet<()> = JoinSet::new();
        loop {
            if listener.is_none() {
                listener = db.listen(outbox::CHANNEL).await.ok().flatten();
            }
            let Some(strong) = inner.upgrade() else { return };
            let functions = Functions { inner: strong };
            if counted.elapsed() >= Duration::from_secs(5) {
                counted = tokio::time::Instant::now();
                if let Ok((depth, oldest)) = outbox::depth(&db).await {
                    let c = &functions.inner.dispatch;
                    c.depth.store(depth, Ordering::Relaxed);
                    let lag = oldest.map_or(0, |t| (Timestamp::now().millis() - t).max(0));
                    c.lag_ms.store(lag, Ordering::Relaxed);
                }
            }
            while running.try_join_next().is_some() {}
            // Claim only what this node's slots can start soon.
            let room = claim - running.len() as i64;
            let mut claimed = 0;
            if room > 0 {
                match outbox::claim_due(&db, lease, room).await {
                    Ok(due) => {
                        claimed = due.len();
                        for d in due {
                            let f = functions.clone();
                            running.spawn(async move { f.deliver(d).await });
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "outbox: claiming failed; trying again"),
                }
            }
            if claimed as i64 == room && room > 0 {
                // More may be waiting: look again at once.
                tokio::task::yield_now().await;
                continue;
            }
            let wait = match outbox::next_due(&db).await {
                Ok(Some(at)) => Duration::from_millis((at - Timestamp::now().millis()).clamp(0, 1000) as u64),
                _ => IDLE,
            };
            let directory = functions.inner.db.clone();
            drop(functions);
            tokio::select! {
                () = directory.outbox().rung() => {}
                () = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                n = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if !matches!(n, Ok(Some(_))) {
                        listener = None;
                    }
                }
            }
        }
    });
}

impl Functions {
    async fn deliver(&self, due: Due) {
        match due.kind {
            TargetKind::Function => self.run_after(due).await,
            TargetKind::Webhook => self.send_webhook(due).await,
            TargetKind::Push => self.inner.push.deliver(due).await,
        }
    }

    /// Runs a function whose writes commit together with `completion` (a
    /// delivery or a schedule's slot), so they apply once: the run and
    /// its error, or `None` when the work is no longer this node's (the
    /// claim was lost, or the server is shutting down). A run whose writes
    /// lost a race with another writer runs again at once, taking turns
    /// with this node's other writers of those documents, while its claim
    /// (held until `claimed_until`, ms) lasts.
    pub(crate) async fn run_completing(
        &self,
        compiled: &Arc<crate::Compiled>,
        vars: BTreeMap<&'static str, Dynamic>,
        completion: Arc<dyn outbox::Completion>,
        claimed_until: i64,
    ) -> Option<(crate::Ran, Option<String>)> {
        let inner = &self.inner;
        // After a lost race, the run goes again holding the turns of what it
        // wrote, so runs writing one hot document take turns instead of
        // colliding again (each lost race being another run's commit).
        let mut turns: Vec<usize> = Vec::new();
        loop {
            let _held = if turns.is_empty() {
                Vec::new()
            } else {
                let left = claimed_until - RERUN_MARGIN - basalt_core::Timestamp::now().millis();
                let wait = Duration::from_millis(left.max(0) as u64);
                match tokio::time::timeout(wait, inner.documents.take_turns(&turns)).await {
                    Ok(held) => held,
                    // The claim runs out first: the work runs again when a
                    // new claim takes it, with nothing recorded as failed.
                    Err(_) => return None,
                }
            };
            let stage = inner.documents.stage();
            let target = Target::Staged(inner.documents.clone(), stage.clone());
            let limits = inner.sandbox.limits().clone();
            let mut ran = self
                .execute(compiled.clone(), vars.clone(), None, target, limits, true)
                .await
                .ok()?;
            let outcome = std::mem::replace(&mut ran.finished.outcome, Outcome::Value(Value::Null));
            let error = match outcome {
                Outcome::Value(_) => {
                    let wrote = stage.turns();
                    match stage.commit(Some(completion.clone())).await {
                        Ok(true) => None,
                        // Taken over by another claim: its run is the one that counts.
                        Ok(false) => return None,
                        Err(e)
                            if e.code() == basalt_core::Code::Aborted
                                && basalt_core::Timestamp::now().millis() < claimed_until - RERUN_MARGIN =>
                        {
                            for t in wrote {
                                if let Err(at) = turns.binary_search(&t) {
                                    turns.insert(at, t);
                                }
                            }
                            continue;
                        }
                        Err(e) => Some(format!("its writes did not commit: {}", e.message())),
                    }
                }
                Outcome::Thrown { message, .. } => Some(format!("thrown: {message}")),
                Outcome::Failed(message) => Some(message),
            };
            return Some((ran, error));
        }
    }

    /// Records an attempt that did not complete: retried later or dead.
    pub(crate) async fn failed(&self, due: &Due, attempt: Attempt<'_>) -> &'static str {
        let outcome = after_failure(&self.inner.retry_delays, due.attempt);
        let c = &self.inner.dispatch;
        c.failed.fetch_add(1, Ordering::Relaxed);
        let status = match outcome {
            Finish::Dead => {
                c.dead.fetch_add(1, Ordering::Relaxed);
                "dead"
            }
            _ => "retrying",
        };
        if let Err(e) = outbox::finish(&self.inner.db, &due.claim, &attempt, outcome).await {
            tracing::debug!(error = %e, "outbox: could not record a failed attempt; the lease will run out");
        }
        status
    }

    async fn run_after(&self, due: Due) {
        let inner = &self.inner;
        let compiled = match inner.compiled(&due.target).await {
            Ok(c) => c,
            Err(e) => {
                let message = format!("the function cannot run: {}", e.message());
                let attempt = Attempt {
                    http_status: None,
                    error: Some(&message),
                    duration_us: 0,
                };
                // A function deleted meanwhile never comes back: dead at once.
                let outcome = if e.code() == basalt_core::Code::NotFound {
                    Finish::Dead
                } else {
                    after_failure(&inner.retry_delays, due.attempt)
                };
                let _ = outbox::finish(&inner.db, &due.claim, &attempt, outcome).await;
                return;
            }
        };
        let event: Value = serde_json::from_str(&due.payload).unwrap_or(Value::Null);
        // `after_create` for a document change, `signup` or `upload` for
        // auth and storage, `job` for a job.
        let trigger = match due.event_type.rsplit_once('.') {
            Some((_, op)) if matches!(op, "create" | "update" | "delete") => format!("after_{op}"),
            Some((_, op)) => op.to_owned(),
            None => due.event_type.clone(),
        };
        let args = event.get("args").map_or(Dynamic::UNIT, |a| {
            rhai::serde::to_dynamic(a).unwrap_or(Dynamic::UNIT)
        });
        let event = rhai::serde::to_dynamic(&event).unwrap_or(Dynamic::UNIT);
        // Every variable of the function's kind exists; a job also has its `args`.
        let mut vars: BTreeMap<&'static str, Dynamic> =
            crate::script::Sandbox::variables(&compiled.function.spec.kind)
                .iter()
                .map(|name| (*name, Dynamic::UNIT))
                .collect();
        vars.insert("event", event);
        if due.event_type == "job" {
            vars.insert("args", args);
        }
        let Some((ran, error)) = self
            .run_completing(&compiled, vars, Arc::new(due.claim.clone()), due.claim.lease)
            .await
        else {
            return;
        };
        let duration_us = ran.elapsed.as_micros() as i64;
        let status = match &error {
            None => {
                inner.dispatch.delivered.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
            Some(message) => {
                self.failed(
                    &due,
                    Attempt {
                        http_status: None,
                        error: Some(message),
                        duration_us,
                    },
                )
                .await
            }
        };
        self.record(
            &compiled,
            ran,
            crate::Record {
                trigger: &trigger,
                status,
                attempts: due.attempt,
                error,
                delivery: Some(due.claim.id.clone()),
            },
        )
        .await;
    }

    pub(crate) fn render_dispatch_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let c = &self.inner.dispatch;
        let _ = writeln!(
            out,
            "# HELP basalt_outbox_deliveries_total Outbox deliveries (after-triggers, webhooks), by outcome.\n\
             # TYPE basalt_outbox_deliveries_total counter\n\
             basalt_outbox_deliveries_total{{outcome=\"ok\"}} {}\n\
             basalt_outbox_deliveries_total{{outcome=\"failed\"}} {}\n\
             basalt_outbox_deliveries_total{{outcome=\"dead\"}} {}\n\
             # HELP basalt_outbox_depth Outbox deliveries waiting (pending or retrying).\n\
             # TYPE basalt_outbox_depth gauge\n\
             basalt_outbox_depth {}\n\
             # HELP basalt_outbox_lag_seconds Age of the oldest waiting outbox delivery.\n\
             # TYPE basalt_outbox_lag_seconds gauge\n\
             basalt_outbox_lag_seconds {:.3}",
            c.delivered.load(Ordering::Relaxed),
            c.failed.load(Ordering::Relaxed),
            c.dead.load(Ordering::Relaxed),
            c.depth.load(Ordering::Relaxed),
            c.lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        );
    }
}
