//! Rule evaluation cost, printed as medians and p99s.
//! Run: `cargo bench -p basalt-rules` (release profile).

use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt_core::caller::{BoxFuture, UserIdentity, UserRole};
use basalt_core::{Caller, Timestamp};
use basalt_rules::{
    DocumentLookup, Limits, RuleContext, RuleEngine, auth_value, doc_value, json_value, request_value,
};
use serde_json::{Value, json};

/// One team document in memory: this measures the rule machinery around a
/// look-up (stop, fetch, run again), not a database.
struct Team;

impl DocumentLookup for Team {
    fn get<'a>(&'a self, _: &'a str, id: &'a str) -> BoxFuture<'a, basalt_core::Result<Option<Value>>> {
        Box::pin(async move {
            Ok(Some(
                json!({"id": id, "version": 1, "created_at": 0, "updated_at": 0,
                "data": {"name": "core", "members": ["u0", "u1", "u2", "u3"]}}),
            ))
        })
    }
}

fn caller() -> Caller {
    Caller::User(Arc::new(UserIdentity {
        uid: "u1".into(),
        session_id: "s1".into(),
        role: UserRole::Authenticated,
        email: Some("u1@example.com".into()),
        email_verified: true,
        aal: 1,
        claims: json!({"plan": "pro"}).as_object().cloned().unwrap_or_default(),
        expires_at: i64::MAX,
    }))
}

fn stored() -> Value {
    json!({"owner": "u1", "team": "t1", "title": "Hello", "slug": "hello-world", "tags": ["a", "b"], "views": 10})
}

/// Builds the context the documents slice builds for an update.
fn context(caller: &Caller, stored: &Value, incoming: &Value) -> RuleContext {
    RuleContext::new(
        auth_value(caller),
        request_value("PATCH", Timestamp::now().millis(), "10.0.0.1", "update"),
    )
    .with_collection("posts")
    .with_doc(doc_value("p1", 3, 1_700_000_000_000, 1_700_000_100_000, stored))
    .with_data(json_value(incoming))
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize].as_nanos() as f64 / 1000.0;
    println!(
        "| {name} | {:.2} µs | {:.2} µs | {} |",
        pct(0.5),
        pct(0.99),
        samples.len()
    );
}

fn measure(iterations: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..iterations / 10 {
        f();
    }
    (0..iterations)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn main() {
    let engine = RuleEngine::new(Limits::default());
    let caller = caller();
    let stored = stored();
    let incoming = json!({"owner": "u1", "team": "t1", "title": "Hello again", "slug": "hello-again", "tags": ["a"], "views": 11});
    let ctx = context(&caller, &stored, &incoming);
    let owner = engine
        .compile("auth != () && doc.data.owner == auth.uid")
        .unwrap();
    let three = engine
        .compile(r#"auth != () && auth.email_verified && data.title.len() <= 200 && matches(data.slug, "^[a-z0-9-]+$")"#)
        .unwrap();
    let with_get = engine
        .compile(r#"auth != () && auth.uid in get("teams", doc.data.team).data.members"#)
        .unwrap();
    for (rule, expected) in [(&owner, true), (&three, true)] {
        assert_eq!(engine.evaluate_now(rule, &ctx).allowed, expected);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt.block_on(engine.evaluate(&with_get, &ctx, &Team)).allowed);

    let n = 200_000;
    println!("| rule | median | p99 | samples |\n|---|---|---|---|");
    report(
        "owner check, context prebuilt",
        measure(n, || {
            std::hint::black_box(engine.evaluate_now(&owner, &ctx));
        }),
    );
    report(
        "owner check, context built from JSON each time",
        measure(n, || {
            let ctx = context(&caller, &stored, &incoming);
            std::hint::black_box(engine.evaluate_now(&owner, &ctx));
        }),
    );
    report(
        "three conditions + matches(), context prebuilt",
        measure(n, || {
            std::hint::black_box(engine.evaluate_now(&three, &ctx));
        }),
    );
    report(
        "owner check via async evaluate()",
        measure(n, || {
            std::hint::black_box(rt.block_on(engine.evaluate(&owner, &ctx, &Team)));
        }),
    );
    report(
        "one get() (in-memory document), context prebuilt",
        measure(n / 4, || {
            std::hint::black_box(rt.block_on(engine.evaluate(&with_get, &ctx, &Team)));
        }),
    );
    report(
        "building the context alone",
        measure(n, || {
            std::hint::black_box(context(&caller, &stored, &incoming));
        }),
    );
}
