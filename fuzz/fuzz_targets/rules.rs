//! Any text as a collection rule: compiling never panics, a compile error's position is inside
//! the text, and a rule that compiles is evaluated (with `get()` finding a document) within its
//! budgets and either allows, denies, or reports why it could not decide. The explain view of
//! the playground splits the same text into its conditions without panicking.
#![no_main]

use std::sync::{Arc, LazyLock};

use basalt_core::caller::{BoxFuture, UserIdentity, UserRole};
use basalt_core::{Caller, Timestamp};
use basalt_rules::{DocumentLookup, Limits, RuleContext, RuleEngine, auth_value, doc_value, json_value, request_value};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

struct Teams;

impl DocumentLookup for Teams {
    fn get<'a>(&'a self, collection: &'a str, id: &'a str) -> BoxFuture<'a, basalt_core::Result<Option<Value>>> {
        Box::pin(async move {
            Ok((collection == "teams" && id == "t1").then(|| {
                json!({"id": id, "version": 1, "created_at": 0, "updated_at": 0,
                       "data": {"name": "core", "members": ["u1", "u2"], "public": true}})
            }))
        })
    }
}

static ENGINE: LazyLock<RuleEngine> = LazyLock::new(|| RuleEngine::new(Limits::default()));
static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime"));
static CONTEXT: LazyLock<RuleContext> = LazyLock::new(|| {
    let caller = Caller::User(Arc::new(UserIdentity {
        uid: "u1".into(),
        session_id: "s1".into(),
        role: UserRole::Authenticated,
        email: Some("u1@example.com".into()),
        email_verified: true,
        aal: 1,
        claims: json!({"plan": "pro"}).as_object().cloned().unwrap_or_default(),
        expires_at: i64::MAX,
    }));
    let stored = json!({"owner": "u1", "team": "t1", "title": "Hello", "tags": ["a", "b"], "views": 10, "public": true});
    RuleContext::new(auth_value(&caller), request_value("PATCH", Timestamp::now().millis(), "10.0.0.1", "update"))
        .with_collection("posts")
        .with_doc(doc_value("p1", 3, 1_700_000_000_000, 1_700_000_100_000, &stored))
        .with_data(json_value(&json!({"title": "Hi", "views": 11})))
});

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let conditions = basalt_rules::explain::conditions(source);
    for c in &conditions {
        assert!(source.get(c.start..c.end).is_some(), "a condition is a slice of the rule: {}..{}", c.start, c.end);
    }
    match ENGINE.compile(source) {
        Err(e) => {
            assert!(!e.message.is_empty());
            if let Some(line) = e.line {
                // The script engine, like the dashboard's editor, breaks lines at
                // "\r\n", "\n" and a lone "\r".
                let lines = source.replace("\r\n", "\n").split(['\n', '\r']).count();
                assert!(line >= 1 && line <= lines + 1, "line {line} of {:?}", e);
            }
        }
        Ok(rule) => {
            let decision = RUNTIME.block_on(ENGINE.evaluate(&rule, &CONTEXT, &Teams));
            if decision.allowed {
                assert!(decision.error.is_none(), "allowed with an error: {:?}", decision.error);
            }
            assert!(decision.operations <= Limits::default().max_operations + 1);
        }
    }
});
