//! `POST /v1/admin/rules/evaluate`: try a rule, or a collection's stored
//! rule, against a context you supply.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use basalt_core::api::{Access, Api, Route};
use basalt_core::extract::Json;
use basalt_core::{Error, Timestamp};
use rhai::Dynamic;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::{RuleContext, json_value, request_value};
use crate::{DocumentLookup, OPERATIONS, RuleEngine, RuleSource};

/// The rules slice's state.
#[derive(Clone)]
pub struct Rules {
    pub engine: Arc<RuleEngine>,
    pub documents: Arc<dyn DocumentLookup>,
    pub source: Arc<dyn RuleSource>,
}

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Rules: FromRef<S>,
{
    Api::new().route(
        Route::post("/v1/admin/rules/evaluate", evaluate)
            .read_only()
            .tag("rules")
            .summary("Rules playground: evaluate a rule against a given context")
            .access(Access::Admin)
            .body::<EvaluateRequest>()
            .response::<EvaluateResponse>(200, "Whether the rule allows, and why not"),
    )
}

/// Either `rule` (a rule's text) or `collection` + `operation` (that
/// collection's stored rule), with the context to evaluate it in.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["rule"], "properties": {"rule": {"type": "string"}, "collection": {"type": "null"}}},
    {"required": ["collection", "operation"], "properties": {
        "rule": {"type": "null"},
        "collection": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
        "operation": {"enum": ["read", "create", "update", "delete"]}
    }}
]))]
pub struct EvaluateRequest {
    /// A rule's text, e.g. `auth != () && doc.data.owner == auth.uid`.
    rule: Option<String>,
    /// A collection whose stored rule to evaluate (with `operation`).
    collection: Option<String>,
    /// `read`, `create`, `update` or `delete`.
    operation: Option<String>,
    /// `auth` as the rule sees it: `{uid, role, email, email_verified, anonymous, aal, claims}`; null for anonymous.
    #[serde(default)]
    auth: Value,
    /// `doc`: `{id, version, created_at, updated_at, data}` (times in ms), or null.
    #[serde(default)]
    doc: Value,
    /// `data`: the document data after the write, or null.
    #[serde(default)]
    data: Value,
    /// `request` fields; missing ones get defaults (`time` is now).
    #[serde(default)]
    request: RequestFields,
    /// Storage rules: `{bucket, path, size, content_type, metadata}`.
    #[serde(default)]
    object: Value,
    /// Also evaluate each condition of the rule on its own (`explain`).
    #[serde(default)]
    explain: bool,
}

/// `request` as a playground run describes it; missing fields get defaults.
#[derive(Deserialize, Serialize, JsonSchema, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// ms since the epoch; now when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// The context a playground run evaluates a rule in: `auth`, `doc` and
/// `data` as given (null for none), `request` with defaults filled in.
pub fn context(
    auth: &Value,
    doc: &Value,
    data: &Value,
    request: &RequestFields,
    operation: Option<&str>,
    collection: Option<&str>,
) -> RuleContext {
    let request_value = request_value(
        request.method.as_deref().unwrap_or("GET"),
        request.time.unwrap_or_else(|| Timestamp::now().millis()),
        request.ip.as_deref().unwrap_or("127.0.0.1"),
        request
            .operation
            .as_deref()
            .or(operation.map(request_operation))
            .unwrap_or("get"),
    );
    let value = |v: &Value| if v.is_null() { Dynamic::UNIT } else { json_value(v) };
    let ctx = RuleContext::new(value(auth), request_value)
        .with_doc(value(doc))
        .with_data(value(data));
    match collection {
        Some(c) => ctx.with_collection(c),
        None => ctx,
    }
}

#[derive(Serialize, JsonSchema, Debug)]
pub struct EvaluateResponse {
    allowed: bool,
    /// Why the rule denied when it did not simply return false (an error, a budget, a non-bool).
    error: Option<String>,
    /// Rhai operations the evaluation used.
    operations: u64,
    /// With `explain`: each operand of the rule's `&&`, `||` and `!`, in the
    /// order they start (an operand before the operands inside it); empty
    /// when the rule is one condition or more than one expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Vec<Explained>>,
}

/// One condition of a rule and what it evaluated to on its own.
#[derive(Serialize, JsonSchema, Debug)]
pub struct Explained {
    /// The condition's text.
    expr: String,
    /// 1-based position of its start in the rule.
    line: usize,
    column: usize,
    /// 0 for an operand of the outermost operator, 1 inside that, …
    depth: usize,
    /// Its value; null when it failed (see `error`).
    value: Option<bool>,
    /// Why it has no value: an error, a budget, or a value that is not a bool.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn request_operation(operation: &str) -> &str {
    match operation {
        "read" => "get",
        other => other,
    }
}

async fn evaluate(
    State(rules): State<Rules>,
    Json(body): Json<EvaluateRequest>,
) -> Result<Json<EvaluateResponse>, Error> {
    let (rule, operation) = match (&body.rule, &body.collection, &body.operation) {
        (Some(text), None, operation) => (rules.engine.compile(text)?, operation.as_deref()),
        (None, Some(collection), Some(operation)) => {
            if !OPERATIONS.contains(&operation.as_str()) {
                return Err(Error::invalid_argument(
                    "`operation` must be read, create, update or delete",
                ));
            }
            match rules.source.rule(collection, operation).await? {
                Some(rule) => (rule, Some(operation.as_str())),
                None => {
                    return Ok(Json(EvaluateResponse {
                        allowed: false,
                        error: Some(format!(
                            "collection `{collection}` has no `{operation}` rule; a missing rule denies"
                        )),
                        operations: 0,
                        explain: body.explain.then(Vec::new),
                    }));
                }
            }
        }
        _ => {
            return Err(Error::invalid_argument(
                "give either `rule`, or `collection` and `operation`",
            ));
        }
    };
    let object = if body.object.is_null() {
        Dynamic::UNIT
    } else {
        json_value(&body.object)
    };
    let ctx = context(
        &body.auth,
        &body.doc,
        &body.data,
        &body.request,
        operation,
        body.collection.as_deref(),
    )
    .with_object(object);
    let decision = rules.engine.evaluate(&rule, &ctx, rules.documents.as_ref()).await;
    let explain = if body.explain {
        Some(explain(&rules, rule.source(), &ctx).await)
    } else {
        None
    };
    Ok(Json(EvaluateResponse {
        allowed: decision.allowed,
        error: decision.error,
        operations: decision.operations,
        explain,
    }))
}

/// Each condition of `source`, evaluated on its own in `ctx`.
async fn explain(rules: &Rules, source: &str, ctx: &RuleContext) -> Vec<Explained> {
    let mut out = Vec::new();
    for c in crate::explain::conditions(source) {
        let expr = &source[c.start..c.end];
        let (line, column) = crate::explain::position(source, c.start);
        let (value, error) = match rules.engine.compile(expr) {
            Ok(rule) => {
                let d = rules.engine.evaluate(&rule, ctx, rules.documents.as_ref()).await;
                match d.error {
                    None => (Some(d.allowed), None),
                    Some(e) => (None, Some(e)),
                }
            }
            Err(e) => (None, Some(format!("does not compile on its own: {}", e.message))),
        };
        out.push(Explained {
            expr: expr.to_owned(),
            line,
            column,
            depth: c.depth,
            value,
            error,
        });
    }
    out
}
