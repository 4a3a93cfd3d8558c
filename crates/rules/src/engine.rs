//! The sandboxed engine, compilation and evaluation.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use basalt_core::metrics::{FAST_BUCKETS, Histogram};
use basalt_core::{Error, Timestamp};
use regex::Regex;
use rhai::{AST, Dynamic, Engine, EvalAltResult, ImmutableString, OptimizationLevel, Position, Scope};
use serde_json::json;

use crate::DocumentLookup;
use crate::context::{RuleContext, json_value};

/// The sandbox's budgets. Every evaluation stays within all of them.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_string_bytes: usize,
    pub max_array_len: usize,
    pub max_map_len: usize,
    /// Script time per evaluation (database look-ups not included).
    pub max_time: Duration,
    /// `get()` / `exists()` calls per evaluation.
    pub max_lookups: usize,
    /// Time for all look-ups of one evaluation.
    pub lookup_timeout: Duration,
    pub max_source_bytes: usize,
    pub max_regex_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 100_000,
            max_call_levels: 16,
            max_expr_depth: 64,
            max_string_bytes: 1 << 20,
            max_array_len: 100_000,
            max_map_len: 100_000,
            max_time: Duration::from_millis(50),
            max_lookups: 10,
            lookup_timeout: Duration::from_secs(2),
            max_source_bytes: 64 * 1024,
            max_regex_bytes: 1024,
        }
    }
}

/// A compiled rule: its source and its AST, shared and never recompiled.
#[derive(Clone)]
pub struct Rule {
    source: Arc<str>,
    ast: Arc<AST>,
}

impl Rule {
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether both share one compiled AST (the cache at work).
    pub fn shares_ast_with(&self, other: &Rule) -> bool {
        Arc::ptr_eq(&self.ast, &other.ast)
    }
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Rule").field(&self.source).finish()
    }
}

/// A rule that does not compile: the compiler's message and where.
#[derive(Debug, Clone)]
pub struct CompileError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl From<CompileError> for Error {
    fn from(e: CompileError) -> Self {
        Error::invalid_argument(format!("rule does not compile: {}", e.message))
            .with_details(json!({"line": e.line, "column": e.column}))
    }
}

/// The outcome of one evaluation. `error` says why a rule denied when it did
/// not simply return `false`; it is for admins and logs, never for clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub error: Option<String>,
    pub operations: u64,
}

/// Evaluates `ast`, turning a panic inside the script engine into an error of the script (so a
/// hostile script stops itself, not the request or the thread). Rules and functions both run
/// through it.
pub fn eval_guarded(
    engine: &Engine,
    scope: &mut Scope<'_>,
    ast: &AST,
) -> Result<Dynamic, Box<EvalAltResult>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.eval_ast_with_scope::<Dynamic>(scope, ast)
    }))
    .unwrap_or_else(|_| {
        Err(EvalAltResult::ErrorRuntime(
            "the script stopped on an internal error of the script engine".into(),
            Position::NONE,
        )
        .into())
    })
}

/// Names every rule may use; compiling with them declared lets strict mode
/// refuse a misspelt variable at save time.
const VARIABLES: [&str; 7] = [
    "auth",
    "doc",
    "data",
    "request",
    "collection",
    "object",
    "channel",
];

/// Per-evaluation state for the engine's callbacks (evaluation is synchronous
/// on one thread, so a thread-local is exact).
struct Run {
    now_ms: i64,
    deadline: Instant,
    operations: u64,
    fetched: Vec<(ImmutableString, ImmutableString, Dynamic)>,
    wanted: Option<(ImmutableString, ImmutableString)>,
    max_lookups: usize,
}

thread_local! {
    static RUN: RefCell<Option<Run>> = const { RefCell::new(None) };
}

/// The reason a run stopped to fetch a document (uncatchable by scripts).
const NEEDS_LOOKUP: &str = "basalt:needs-lookup";
const OUT_OF_TIME: &str = "basalt:out-of-time";

pub struct RuleEngine {
    engine: Engine,
    limits: Limits,
    compiled: Mutex<HashMap<Arc<str>, Rule>>,
    metrics: RuleMetrics,
}

#[derive(Default)]
struct RuleMetrics {
    allowed: std::sync::atomic::AtomicU64,
    denied: std::sync::atomic::AtomicU64,
    errors: std::sync::atomic::AtomicU64,
    latency: Option<Histogram>,
}

impl RuleEngine {
    pub fn new(limits: Limits) -> RuleEngine {
        let mut engine = Engine::new();
        engine
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth / 2)
            .set_max_string_size(limits.max_string_bytes)
            .set_max_array_size(limits.max_array_len)
            .set_max_map_size(limits.max_map_len)
            .set_max_variables(256)
            .set_max_functions(64)
            .set_strict_variables(true)
            .set_optimization_level(OptimizationLevel::Simple);
        // No eval: rules are compiled once, when saved.
        engine.disable_symbol("eval");
        engine.on_print(|s| tracing::debug!(target: "basalt::rules", "print: {}", truncate(s)));
        engine.on_debug(
            |s, _, pos| tracing::debug!(target: "basalt::rules", "debug at {pos}: {}", truncate(s)),
        );
        engine.on_progress(|operations| {
            RUN.with(|run| {
                let mut run = run.borrow_mut();
                let run = run.as_mut()?;
                run.operations = operations;
                (operations % 256 == 0 && Instant::now() > run.deadline).then(|| Dynamic::from(OUT_OF_TIME))
            })
        });
        engine.register_fn("now", || -> rhai::INT {
            RUN.with(|r| r.borrow().as_ref().map_or(0, |r| r.now_ms))
        });
        let max_regex = limits.max_regex_bytes;
        let cache = Arc::new(Mutex::new(HashMap::<String, Regex>::new()));
        engine.register_fn(
            "matches",
            move |text: ImmutableString, pattern: ImmutableString| -> Result<bool, Box<EvalAltResult>> {
                let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(re) = cache.get(pattern.as_str()) {
                    return Ok(re.is_match(&text));
                }
                if pattern.len() > max_regex {
                    return Err(format!("matches(): pattern too long (over {max_regex} bytes)").into());
                }
                // The regex crate runs in linear time; the size limit bounds compilation.
                let re = regex::RegexBuilder::new(&pattern)
                    .size_limit(max_regex * 1024)
                    .dfa_size_limit(max_regex * 1024)
                    .build()
                    .map_err(|e| format!("matches(): invalid pattern: {e}"))?;
                let found = re.is_match(&text);
                if cache.len() >= 256 {
                    cache.clear();
                }
                cache.insert(pattern.to_string(), re);
                Ok(found)
            },
        );
        engine.register_fn("get", |collection: ImmutableString, id: ImmutableString| {
            lookup(collection, id)
        });
        engine.register_fn("exists", |collection: ImmutableString, id: ImmutableString| {
            lookup(collection, id).map(|d| !d.is_unit())
        });
        RuleEngine {
            engine,
            limits,
            compiled: Mutex::new(HashMap::new()),
            metrics: RuleMetrics {
                latency: Some(Histogram::with_bounds(&FAST_BUCKETS)),
                ..Default::default()
            },
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles a rule, or reuses the AST of the same source compiled before.
    pub fn compile(&self, source: &str) -> Result<Rule, CompileError> {
        if let Some(rule) = self
            .compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(source)
        {
            return Ok(rule.clone());
        }
        if source.len() > self.limits.max_source_bytes {
            return Err(CompileError {
                message: format!("rule is longer than {} bytes", self.limits.max_source_bytes),
                line: None,
                column: None,
            });
        }
        // Declared as variables, not constants: the optimizer folds constants
        // it sees at compile time, and these get their values only per evaluation.
        let mut scope = Scope::new();
        for name in VARIABLES {
            scope.push(name, ());
        }
        let (text, shifts) = crate::keywords::quote_keyword_properties(source);
        let ast = self.engine.compile_with_scope(&scope, &text).map_err(|e| {
            let (line, column) = (e.position().line(), e.position().position());
            let column = match (line, column) {
                (Some(l), Some(c)) => Some(crate::keywords::original_column(&shifts, l, c)),
                _ => column,
            };
            // Rhai names the position in its message too; keep it in step.
            let message = match (line, e.position().position(), column) {
                (Some(l), Some(c), Some(o)) if c != o => e.to_string().replace(
                    &format!("(line {l}, position {c})"),
                    &format!("(line {l}, position {o})"),
                ),
                _ => e.to_string(),
            };
            CompileError {
                message,
                line,
                column,
            }
        })?;
        let source: Arc<str> = source.into();
        let rule = Rule {
            source: source.clone(),
            ast: Arc::new(ast),
        };
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if compiled.len() >= 4096 {
            compiled.clear();
        }
        compiled.insert(source, rule.clone());
        Ok(rule)
    }

    /// Evaluates `rule`; `get()`/`exists()` read through `documents`.
    pub async fn evaluate(&self, rule: &Rule, ctx: &RuleContext, documents: &dyn DocumentLookup) -> Decision {
        let started = Instant::now();
        let now_ms = Timestamp::now().millis();
        let mut fetched = Vec::new();
        let mut script_time = Duration::ZERO;
        let lookup_deadline = started + self.limits.lookup_timeout;
        let decision = loop {
            let budget = self.limits.max_time.saturating_sub(script_time);
            let run_started = Instant::now();
            let (result, wanted, operations, back) = self.run(rule, ctx, now_ms, budget, fetched);
            script_time += run_started.elapsed();
            fetched = back;
            let Some((collection, id)) = wanted else {
                break decide(result, operations);
            };
            let fetch = documents.get(&collection, &id);
            match tokio_timeout(lookup_deadline, fetch).await {
                Some(Ok(doc)) => {
                    let value = doc.as_ref().map_or(Dynamic::UNIT, json_value);
                    fetched.push((collection, id, value));
                }
                Some(Err(e)) => {
                    break deny(
                        format!("get(\"{collection}\", \"{id}\") failed: {}", e.message()),
                        operations,
                    );
                }
                None => break deny("document look-ups took too long".into(), operations),
            }
        };
        self.record(&decision, started.elapsed());
        decision
    }

    /// Evaluates a rule that must not read documents (a `get()` denies).
    pub fn evaluate_now(&self, rule: &Rule, ctx: &RuleContext) -> Decision {
        let started = Instant::now();
        let (result, wanted, operations, _) = self.run(
            rule,
            ctx,
            Timestamp::now().millis(),
            self.limits.max_time,
            Vec::new(),
        );
        let decision = match wanted {
            Some(_) => deny("get() and exists() are not available here".into(), operations),
            None => decide(result, operations),
        };
        self.record(&decision, started.elapsed());
        decision
    }

    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        rule: &Rule,
        ctx: &RuleContext,
        now_ms: i64,
        budget: Duration,
        fetched: Vec<(ImmutableString, ImmutableString, Dynamic)>,
    ) -> (
        Result<Dynamic, Box<EvalAltResult>>,
        Option<(ImmutableString, ImmutableString)>,
        u64,
        Vec<(ImmutableString, ImmutableString, Dynamic)>,
    ) {
        let mut scope = Scope::with_capacity(VARIABLES.len());
        scope.push_constant_dynamic("auth", ctx.auth.clone());
        scope.push_constant_dynamic("doc", ctx.doc.clone());
        scope.push_constant_dynamic("data", ctx.data.clone());
        scope.push_constant_dynamic("request", ctx.request.clone());
        scope.push_constant_dynamic("collection", ctx.collection.clone());
        scope.push_constant_dynamic("object", ctx.object.clone());
        scope.push_constant_dynamic("channel", ctx.channel.clone());
        RUN.with(|r| {
            *r.borrow_mut() = Some(Run {
                now_ms,
                deadline: Instant::now() + budget,
                operations: 0,
                fetched,
                wanted: None,
                max_lookups: self.limits.max_lookups,
            })
        });
        let result = eval_guarded(&self.engine, &mut scope, &rule.ast);
        let run = RUN
            .with(|r| r.borrow_mut().take())
            .expect("the run state was set above");
        (result, run.wanted, run.operations, run.fetched)
    }

    fn record(&self, decision: &Decision, elapsed: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let counter = match (decision.allowed, &decision.error) {
            (true, _) => &self.metrics.allowed,
            (false, None) => &self.metrics.denied,
            (false, Some(_)) => &self.metrics.errors,
        };
        counter.fetch_add(1, Relaxed);
        if let Some(h) = &self.metrics.latency {
            h.observe(elapsed);
        }
        if let Some(error) = &decision.error {
            tracing::debug!(target: "basalt::rules", %error, "rule denied with an error");
        }
    }

    /// Prometheus lines for rule evaluations.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        use std::sync::atomic::Ordering::Relaxed;
        let m = &self.metrics;
        let _ = writeln!(
            out,
            "# HELP basalt_rule_evaluations_total Rule evaluations by outcome."
        );
        let _ = writeln!(out, "# TYPE basalt_rule_evaluations_total counter");
        for (outcome, n) in [
            ("allowed", &m.allowed),
            ("denied", &m.denied),
            ("error", &m.errors),
        ] {
            let _ = writeln!(
                out,
                "basalt_rule_evaluations_total{{outcome=\"{outcome}\"}} {}",
                n.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP basalt_rule_evaluation_duration_seconds Rule evaluation time, look-ups included."
        );
        let _ = writeln!(out, "# TYPE basalt_rule_evaluation_duration_seconds histogram");
        if let Some(h) = &m.latency {
            h.render(out, "basalt_rule_evaluation_duration_seconds", "");
        }
    }
}

/// `get()` / `exists()`: a document fetched earlier in this evaluation, or a
/// stop that asks the caller to fetch it.
fn lookup(collection: ImmutableString, id: ImmutableString) -> Result<Dynamic, Box<EvalAltResult>> {
    RUN.with(|run| {
        let mut run = run.borrow_mut();
        let Some(run) = run.as_mut() else {
            return Err("get() is only available inside a rule".into());
        };
        if let Some((_, _, doc)) = run.fetched.iter().find(|(c, i, _)| *c == collection && *i == id) {
            // A private copy: whatever the rule does to it, the next call sees the stored document.
            return Ok(doc.flatten_clone());
        }
        if run.fetched.len() >= run.max_lookups {
            return Err(format!(
                "more than {} get()/exists() look-ups in one rule",
                run.max_lookups
            )
            .into());
        }
        run.wanted = Some((collection, id));
        Err(Box::new(EvalAltResult::ErrorTerminated(
            NEEDS_LOOKUP.into(),
            Position::NONE,
        )))
    })
}

async fn tokio_timeout<F: std::future::Future>(deadline: Instant, f: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline.into(), f).await.ok()
}

fn deny(error: String, operations: u64) -> Decision {
    Decision {
        allowed: false,
        error: Some(error),
        operations,
    }
}

fn decide(result: Result<Dynamic, Box<EvalAltResult>>, operations: u64) -> Decision {
    match result {
        Ok(value) => match value.as_bool() {
            Ok(allowed) => Decision {
                allowed,
                error: None,
                operations,
            },
            Err(type_name) => deny(format!("rule returned {type_name}, not a bool"), operations),
        },
        Err(e) => deny(describe(&e), operations),
    }
}

fn describe(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == OUT_OF_TIME => {
            "rule ran out of time".to_owned()
        }
        EvalAltResult::ErrorTooManyOperations(_) => "rule ran out of operations".to_owned(),
        EvalAltResult::ErrorStackOverflow(_) => "rule nested calls too deeply".to_owned(),
        other => other.to_string(),
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
