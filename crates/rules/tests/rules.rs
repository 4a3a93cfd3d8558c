//! The rules engine through its public API: every context variable and
//! helper, compile-time refusals, and hostile scripts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use basalt_core::caller::{AdminIdentity, BoxFuture, UserIdentity, UserRole};
use basalt_core::{Caller, Timestamp};
use basalt_rules::{
    Decision, DocumentLookup, Limits, RuleContext, RuleEngine, auth_value, doc_value, json_value,
    request_value,
};
use serde_json::{Value, json};

/// Documents for `get()` in these tests, counting how often each is read.
/// (The documents slice implements the same trait over the database.)
#[derive(Default)]
struct Documents {
    docs: HashMap<(String, String), Value>,
    reads: AtomicUsize,
    fail: bool,
}

impl Documents {
    fn with(docs: &[(&str, &str, Value)]) -> Self {
        Documents {
            docs: docs
                .iter()
                .map(|(c, i, d)| ((c.to_string(), i.to_string()), d.clone()))
                .collect(),
            ..Default::default()
        }
    }
}

impl DocumentLookup for Documents {
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, basalt_core::Result<Option<Value>>> {
        Box::pin(async move {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                return Err(basalt_core::Error::unavailable("database down"));
            }
            Ok(self
                .docs
                .get(&(collection.to_owned(), id.to_owned()))
                .map(|data| json!({"id": id, "version": 1, "created_at": 0, "updated_at": 0, "data": data})))
        })
    }
}

fn user(uid: &str, claims: Value) -> Caller {
    Caller::User(Arc::new(UserIdentity {
        uid: uid.into(),
        session_id: "s1".into(),
        role: UserRole::Authenticated,
        email: Some(format!("{uid}@example.com")),
        email_verified: true,
        aal: 1,
        claims: claims.as_object().cloned().unwrap_or_default(),
        expires_at: i64::MAX,
    }))
}

/// The context a document read by `caller` of a document owned by `owner` gets.
fn ctx(caller: &Caller, owner: &str) -> RuleContext {
    RuleContext::new(
        auth_value(caller),
        request_value("GET", Timestamp::now().millis(), "10.0.0.1", "get"),
    )
    .with_collection("posts")
    .with_doc(doc_value(
        "p1",
        3,
        1_000,
        2_000,
        &json!({"owner": owner, "title": "hi", "tags": ["a", "b"]}),
    ))
}

fn engine() -> RuleEngine {
    RuleEngine::new(Limits::default())
}

async fn check_with(engine: &RuleEngine, rule: &str, ctx: &RuleContext, docs: &Documents) -> Decision {
    let rule = engine
        .compile(rule)
        .unwrap_or_else(|e| panic!("{rule:?} does not compile: {}", e.message));
    engine.evaluate(&rule, ctx, docs).await
}

async fn check(rule: &str, ctx: &RuleContext) -> Decision {
    check_with(&engine(), rule, ctx, &Documents::default()).await
}

#[track_caller]
fn allowed(d: Decision) {
    assert!(d.allowed && d.error.is_none(), "{d:?}");
}

#[track_caller]
fn denied(d: Decision, error: Option<&str>) {
    assert!(!d.allowed, "{d:?}");
    match error {
        None => assert!(d.error.is_none(), "{d:?}"),
        Some(fragment) => assert!(d.error.as_deref().unwrap_or("").contains(fragment), "{d:?}"),
    }
}

#[tokio::test]
async fn auth_for_users_admins_and_anonymous() {
    let u = user("u1", json!({"role": "editor", "level": 3}));
    let c = ctx(&u, "u1");
    for rule in [
        "auth != ()",
        "auth.uid == \"u1\"",
        "auth.role == \"authenticated\"",
        "auth.email == \"u1@example.com\"",
        "auth.email_verified",
        "!auth.anonymous",
        "auth.aal == 1",
        "auth.claims.role == \"editor\" && auth.claims.level >= 3",
    ] {
        allowed(check(rule, &c).await);
    }
    let anon = ctx(&Caller::Anonymous, "u1");
    allowed(check("auth == ()", &anon).await);
    denied(check("auth != () && auth.uid == \"u1\"", &anon).await, None);
    // A property of () is an error, and errors deny.
    denied(check("auth.uid == \"u1\"", &anon).await, Some("Unknown property"));
    let admin = Caller::Admin(Arc::new(AdminIdentity {
        id: "a1".into(),
        email: "a@example.com".into(),
        role: basalt_core::caller::AdminRole::Owner,
        expires_at: i64::MAX,
    }));
    allowed(check("auth.role == \"admin\"", &ctx(&admin, "x")).await);
}

#[tokio::test]
async fn doc_data_request_and_collection() {
    let u = user("u1", json!({}));
    let c = ctx(&u, "u1").with_data(json_value(&json!({"owner": "u1", "title": "x".repeat(50)})));
    for rule in [
        "doc.id == \"p1\" && doc.version == 3",
        "doc.created_at == 1000 && doc.updated_at == 2000",
        "doc.data.owner == auth.uid",
        "\"a\" in doc.data.tags && doc.data.tags.len() == 2",
        "data.owner == auth.uid && data.title.len() <= 200",
        "request.method == \"GET\" && request.operation == \"get\" && request.ip == \"10.0.0.1\"",
        "request.time <= now()",
        "collection == \"posts\"",
        "object == ()",
        "doc.data.missing == ()",
    ] {
        allowed(check(rule, &c).await);
    }
    denied(
        check("doc.data.owner == auth.uid", &ctx(&u, "someone else")).await,
        None,
    );
    // A block with statements works as well as an expression.
    allowed(
        check(
            "let limit = 200; if data == () { false } else { data.title.len() <= limit }",
            &c,
        )
        .await,
    );
}

#[tokio::test]
async fn now_is_milliseconds_and_stable_within_a_rule() {
    let before = Timestamp::now().millis();
    let c = ctx(&Caller::Anonymous, "x");
    allowed(check(&format!("now() >= {before} && now() == now()"), &c).await);
}

#[tokio::test]
async fn matches_is_a_linear_time_regex_with_limits() {
    let c = ctx(&Caller::Anonymous, "x");
    allowed(check(r#"matches("ada@example.com", "^[a-z]+@example\\.com$")"#, &c).await);
    denied(
        check(r#"matches("ada@evil.com", "^[a-z]+@example\\.com$")"#, &c).await,
        None,
    );
    denied(
        check(r#"matches("x", "(unclosed")"#, &c).await,
        Some("invalid pattern"),
    );
    let long = "a".repeat(2000);
    denied(
        check(&format!(r#"matches("x", "{long}")"#), &c).await,
        Some("too long"),
    );
    // A pattern that backtracking engines take exponential time on.
    let started = Instant::now();
    let subject = format!("{}!", "a".repeat(5000));
    denied(
        check(&format!(r#"matches("{subject}", "^(a+)+$")"#), &c).await,
        None,
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn get_and_exists_read_documents_once_each() {
    let docs = Documents::with(&[
        ("teams", "t1", json!({"members": ["u1", "u2"]})),
        ("teams", "t2", json!({"members": []})),
    ]);
    let e = engine();
    let c = ctx(&user("u1", json!({})), "u1");
    allowed(check_with(&e, r#"auth.uid in get("teams", "t1").data.members"#, &c, &docs).await);
    assert_eq!(docs.reads.load(Ordering::SeqCst), 1);
    // The same document twice is read once; two documents twice.
    docs.reads.store(0, Ordering::SeqCst);
    let rule = r#"exists("teams", "t1") && get("teams", "t1").data.members.len() == 2 && !exists("teams", "nope") && get("teams", "t2").data.members.len() == 0"#;
    allowed(check_with(&e, rule, &c, &docs).await);
    assert_eq!(docs.reads.load(Ordering::SeqCst), 3);
    allowed(check_with(&e, r#"get("teams", "nope") == ()"#, &c, &docs).await);
    // A script that swallows the look-up stop with try/catch still sees the document.
    allowed(check_with(&e, r#"let d = (); try { d = get("teams", "t1"); } catch { return false; } d.data.members.len() == 2"#, &c, &docs).await);
    // More than ten distinct look-ups deny.
    docs.reads.store(0, Ordering::SeqCst);
    let many = (0..11)
        .map(|i| format!("!exists(\"teams\", \"x{i}\")"))
        .collect::<Vec<_>>()
        .join(" && ");
    denied(check_with(&e, &many, &c, &docs).await, Some("more than 10"));
    assert_eq!(docs.reads.load(Ordering::SeqCst), 10);
    let ten = (0..10)
        .map(|i| format!("!exists(\"teams\", \"x{i}\")"))
        .collect::<Vec<_>>()
        .join(" && ");
    allowed(check_with(&e, &ten, &c, &docs).await);
    // A failing look-up denies, saying why (to the playground and the log).
    let broken = Documents {
        fail: true,
        ..Default::default()
    };
    denied(
        check_with(&e, r#"exists("teams", "t1")"#, &c, &broken).await,
        Some("database down"),
    );
    // Where no look-up may happen, get() denies.
    let rule = e.compile(r#"exists("teams", "t1")"#).unwrap();
    denied(e.evaluate_now(&rule, &c), Some("not available"));
}

#[tokio::test]
async fn only_true_allows() {
    let c = ctx(&Caller::Anonymous, "x");
    for rule in ["false", "1", "\"true\"", "()", "[true]", "#{ok: true}", "0.0"] {
        let d = check(rule, &c).await;
        assert!(!d.allowed, "{rule}: {d:?}");
    }
    denied(check("1", &c).await, Some("not a bool"));
    denied(
        check(r#"throw "no posts on Sundays""#, &c).await,
        Some("no posts on Sundays"),
    );
    denied(check("1 / 0 == 1", &c).await, Some("Division by zero"));
}

#[test]
fn bad_rules_are_refused_at_compile_time() {
    let e = engine();
    let cases = [
        ("auth.uid ==", "incomplete"),
        ("auht != ()", "auht"),
        ("import \"fs\" as fs; true", ""),
        ("eval(\"true\")", ""),
        ("let x = ; true", ""),
    ];
    for (source, fragment) in cases {
        let err = e
            .compile(source)
            .err()
            .unwrap_or_else(|| panic!("{source:?} compiled"));
        assert!(err.message.contains(fragment), "{source:?}: {}", err.message);
        assert!(err.line.is_some(), "{source:?}: a position is given");
    }
    let nested = format!("{}true{}", "(".repeat(500), ")".repeat(500));
    assert!(e.compile(&nested).is_err(), "nesting beyond the expression depth");
    let huge = format!("true || {}", "false || ".repeat(20_000));
    assert!(e.compile(&huge).unwrap_err().message.contains("longer than"));
    // The same source compiles once.
    let a = e.compile("auth != ()").unwrap();
    let b = e.compile("auth != ()").unwrap();
    assert!(a.shares_ast_with(&b));
}

#[tokio::test]
async fn rules_cannot_change_what_they_check() {
    let docs = Documents::with(&[("teams", "t1", json!({"members": ["u1"]}))]);
    let e = engine();
    let c = ctx(&user("u1", json!({})), "someone");
    for rule in [
        r#"doc.data.owner = auth.uid; doc.data.owner == auth.uid"#,
        r#"auth.uid = "someone"; doc.data.owner == auth.uid"#,
        r#"doc.id = "x"; true"#,
        r#"doc.data.tags.push("c"); true"#,
        r#"request.operation = "delete"; true"#,
    ] {
        let d = check_with(&e, rule, &c, &docs).await;
        assert!(!d.allowed, "{rule}: {d:?}");
    }
    // Nothing changed for the next rule.
    allowed(
        check_with(
            &e,
            r#"doc.data.owner == "someone" && doc.data.tags.len() == 2 && auth.uid == "u1""#,
            &c,
            &docs,
        )
        .await,
    );
    // A copy may be changed freely; the original stays as it was.
    allowed(
        check_with(
            &e,
            r#"get("teams", "t1").data.members.push("m"); get("teams", "t1").data.members.len() == 1"#,
            &c,
            &docs,
        )
        .await,
    );
    allowed(check_with(&e, r#"let t = get("teams", "t1"); t.data.members.push("m"); t.data.members.len() == 2 && get("teams", "t1").data.members.len() == 1"#, &c, &docs).await);
    allowed(
        check_with(
            &e,
            r#"let d = doc.data; d.owner = "x"; d.owner == "x" && doc.data.owner == "someone""#,
            &c,
            &docs,
        )
        .await,
    );
}

#[tokio::test]
async fn hostile_scripts_deny_quickly() {
    let c = ctx(&user("u1", json!({})), "u1");
    let cases = [
        ("loop {}", "operations"),
        ("while true { let x = 1; }", "operations"),
        ("fn f(x) { f(x) } f(1)", ""),
        ("fn f(x) { f(x + 1) + 1 } f(1) > 0", ""),
        ("let s = \"xx\"; loop { s += s; }", ""),
        ("let a = []; loop { a.push([1, 2, 3]); }", ""),
        ("let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }", ""),
        ("let a = [1]; loop { a += a; }", ""),
        ("no_such_function(1)", "not found"),
        ("auth.uid.no_such_method()", "not found"),
        ("try { loop {} } catch { true }", "operations"),
        ("let f = || { 1 }; f.call() == 1 && loop {}", "operations"),
        ("print(\"x\".pad(100000000, \"y\")); true", ""),
    ];
    for (rule, fragment) in cases {
        let started = Instant::now();
        let d = check(rule, &c).await;
        let took = started.elapsed();
        assert!(!d.allowed, "{rule}: {d:?}");
        let error = d.error.as_deref().unwrap_or("");
        // On a loaded machine the time budget can run out before the
        // operations budget: either budget stopping the loop is right.
        assert!(
            error.contains(fragment) || (fragment == "operations" && error.contains("out of time")),
            "{rule}: {d:?}"
        );
        assert!(took < Duration::from_millis(1500), "{rule} took {took:?}");
    }
}

#[tokio::test]
async fn the_wall_clock_deadline_stops_slow_scripts() {
    let e = RuleEngine::new(Limits {
        max_operations: 0,
        max_time: Duration::from_millis(20),
        ..Limits::default()
    });
    let c = ctx(&Caller::Anonymous, "x");
    let started = Instant::now();
    let d = check_with(&e, "loop {}", &c, &Documents::default()).await;
    denied(d, Some("out of time"));
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn operations_are_counted_and_metrics_kept() {
    let e = engine();
    let c = ctx(&user("u1", json!({})), "u1");
    let d = check_with(
        &e,
        "auth != () && doc.data.owner == auth.uid",
        &c,
        &Documents::default(),
    )
    .await;
    assert!(d.allowed && d.operations > 0 && d.operations < 50, "{d:?}");
    check_with(&e, "false", &c, &Documents::default()).await;
    check_with(&e, "loop {}", &c, &Documents::default()).await;
    let mut out = String::new();
    e.render_metrics(&mut out);
    assert!(
        out.contains("basalt_rule_evaluations_total{outcome=\"allowed\"} 1"),
        "{out}"
    );
    assert!(
        out.contains("basalt_rule_evaluations_total{outcome=\"denied\"} 1"),
        "{out}"
    );
    assert!(
        out.contains("basalt_rule_evaluations_total{outcome=\"error\"} 1"),
        "{out}"
    );
    assert!(
        out.contains("basalt_rule_evaluation_duration_seconds_count 3"),
        "{out}"
    );
}

#[test]
fn one_engine_serves_many_threads() {
    let e = Arc::new(engine());
    let rule = e.compile("auth != () && doc.data.owner == auth.uid").unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (e, rule, results) = (e.clone(), rule.clone(), results.clone());
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let owner = if i % 2 == 0 { "u1" } else { "u2" };
                    let d = e.evaluate_now(&rule, &ctx(&user("u1", json!({})), owner));
                    results.lock().unwrap().push((i, d.allowed));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for (i, allowed) in results.lock().unwrap().iter() {
        assert_eq!(*allowed, i % 2 == 0);
    }
}

/// Field names Rhai keeps for itself work after a dot, as they do in brackets.
#[tokio::test]
async fn fields_named_like_keywords_work_with_dot_access() {
    let u = user("u1", json!({}));
    let words = [
        "public",
        "default",
        "new",
        "match",
        "static",
        "case",
        "module",
        "shared",
        "var",
        "use",
        "with",
        "package",
        "super",
        "async",
        "await",
        "yield",
        "void",
        "null",
        "nil",
        "private",
        "global",
        "import",
        "export",
        "as",
        "this",
        "is",
        "in",
        "for",
        "if",
        "else",
        "let",
        "const",
        "do",
        "loop",
        "while",
        "until",
        "switch",
        "return",
        "throw",
        "try",
        "catch",
        "fn",
        "goto",
        "exit",
        "protected",
        "spawn",
        "thread",
        "go",
        "sync",
        "continue",
        "break",
        "true",
        "false",
    ];
    let mut data = serde_json::Map::new();
    for (i, w) in words.iter().enumerate() {
        data.insert((*w).to_owned(), json!(i));
    }
    let c = ctx(&u, "u1").with_data(json_value(&Value::Object(data)));
    for (i, w) in words.iter().enumerate() {
        allowed(check(&format!("data.{w} == {i} && data[\"{w}\"] == data.{w}"), &c).await);
    }
    // Nested, after `?.`, and beside the text of strings and comments that stay as written.
    let nested = ctx(&u, "u1").with_data(json_value(&json!({"public": {"default": "a.public"}})));
    allowed(check("data.public.default == \"a.public\" /* data.new */", &nested).await);
    allowed(check("data?.public?.default == \"a.public\"", &nested).await);
    // A compile error after a rewritten field is reported where it is in the rule as written.
    let err = engine()
        .compile("doc.data.public &&\n  doc.data.default = auth.uid")
        .unwrap_err();
    assert_eq!((err.line, err.column), (Some(2), Some(20)), "{}", err.message);
    assert!(err.message.contains("position 20"), "{}", err.message);
}

/// Found by `fuzz/` (target `rules`): changing a copy of a value that held a shared one (the
/// caller's claims inside `auth`) reached an `unreachable!` of the script engine, and a property
/// added to `auth` stayed there for the next evaluation. Each of these is now an ordinary
/// outcome of its own evaluation: copies change, constants refuse, nothing panics or leaks.
#[tokio::test]
async fn changing_copies_of_the_context_does_not_panic_or_leak() {
    let caller = user("u1", json!({"plan": "pro", "teams": ["t1"]}));
    let c = ctx(&caller, "u1");
    let docs = Documents::with(&[("teams", "t1", json!({"members": ["u1"]}))]);
    let e = engine();
    for rule in [
        r#"auth.cla = "x"; true"#,
        r#"let a = auth; a.claims.plan = "free"; a.claims.plan == "free" && auth.claims.plan == "pro""#,
        r#"let m = #{a: auth, d: doc}; m.b = 1; m.a.x = 2; m.b == 1"#,
        r#"let l = [doc.data, auth.claims, get("teams", "t1")]; l.push(#{x: 1}); l[2].data.members.push("u9"); l.len() == 4"#,
    ] {
        allowed(check_with(&e, rule, &c, &docs).await);
    }
    let refused = r#"if auth == () { false } else { auth.claims.plan = "free"; true }"#;
    denied(check_with(&e, refused, &c, &docs).await, Some(""));
    // Nothing of the above is seen by the next evaluation.
    denied(check_with(&e, r#""cla" in auth"#, &c, &docs).await, None);
    let unchanged = r#"auth.claims.plan == "pro" && get("teams", "t1").data.members.len() == 1"#;
    allowed(check_with(&e, unchanged, &c, &docs).await);
}
