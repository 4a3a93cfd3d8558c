//! Saved rules-playground cases (`/v1/admin/rules/cases`): a request against
//! one collection's rule with the outcome the admin expects, kept on the
//! server so every admin shares them, and run again after a rule edit (or
//! against a draft of the rules before it is saved) to show which outcome
//! changed.

use std::collections::BTreeMap;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use basalt_core::api::{Access, Api, Route};
use basalt_core::extract::{Json, Path, Query};
use basalt_core::{Error, Timestamp};
use basalt_rules::{RequestFields, Rule, playground_context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Documents;
use crate::collections::RuleOp;
use crate::document::check_collection_name;

/// Most cases one collection keeps.
pub const MAX_CASES: usize = 200;
/// Largest `{auth, doc, data, request}` of one case, in bytes of JSON.
const MAX_INPUT: usize = 64 * 1024;

const OPERATIONS: [(&str, RuleOp); 4] = [
    ("read", RuleOp::Read),
    ("create", RuleOp::Create),
    ("update", RuleOp::Update),
    ("delete", RuleOp::Delete),
];

/// A saved case, as stored and shown.
#[derive(Serialize, JsonSchema, Debug)]
pub struct RuleCase {
    collection: String,
    /// Unique within its collection.
    name: String,
    /// `read`, `create`, `update` or `delete`.
    operation: String,
    /// How the caller was described: `anonymous`, a user's email, `custom claims`, …
    caller: String,
    /// `auth` as the rule sees it; null for anonymous.
    auth: Value,
    doc: Value,
    data: Value,
    request: RequestFields,
    /// The outcome the case expects.
    expect_allowed: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRuleCase {
    /// `read`, `create`, `update` or `delete`.
    #[schemars(with = "crate::cases::OperationName")]
    operation: String,
    /// How the caller is described in lists (1 to 200 characters); `anonymous` when missing.
    #[schemars(length(min = 1, max = 200))]
    caller: Option<String>,
    /// `auth` as the rule sees it: `{uid, role, email, email_verified, anonymous, aal, claims}`; null for anonymous.
    #[serde(default)]
    #[schemars(with = "Option<Map<String, Value>>")]
    auth: Value,
    /// `doc`: `{id, version, created_at, updated_at, data}`, or null.
    #[serde(default)]
    #[schemars(with = "Option<Map<String, Value>>")]
    doc: Value,
    /// `data`: the document data after the write, or null.
    #[serde(default)]
    data: Value,
    #[serde(default)]
    request: RequestFields,
    /// The outcome the case expects.
    expect_allowed: bool,
}

/// A rule's operation.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum OperationName {
    Read,
    Create,
    Update,
    Delete,
}

#[derive(Serialize, JsonSchema)]
pub struct RuleCaseList {
    cases: Vec<RuleCase>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    /// Only this collection's cases.
    collection: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCases {
    /// A draft of the rules to run the cases against instead of the stored
    /// ones, by operation: a rule's text, or null for no rule (which
    /// denies). An operation left out keeps its stored rule.
    #[serde(default)]
    rules: BTreeMap<String, Option<String>>,
}

#[derive(Serialize, JsonSchema)]
pub struct CaseRun {
    /// Every case of the collection, in name order.
    results: Vec<CaseResult>,
    /// How many cases' outcome differs from what they expect.
    changed: usize,
}

#[derive(Serialize, JsonSchema)]
pub struct CaseResult {
    name: String,
    operation: String,
    caller: String,
    expect_allowed: bool,
    allowed: bool,
    /// Why the rule denied when it did not simply return false.
    error: Option<String>,
    /// `allowed` is not what the case expects.
    changed: bool,
}

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Documents: FromRef<S>,
{
    let admin = |r: Route<S>| r.tag("rules").access(Access::Admin);
    Api::new()
        .route(
            admin(Route::get("/v1/admin/rules/cases", list))
                .summary("Saved rules-playground cases")
                .query::<CaseQuery>()
                .response::<RuleCaseList>(200, "The cases, by collection and name"),
        )
        .route(
            admin(Route::put("/v1/admin/rules/cases/{collection}/{name}", put))
                .summary("Save a rules-playground case (created or replaced)")
                .body::<PutRuleCase>()
                .link(
                    "delete",
                    "delete_admin_rules_cases_by_collection_by_name",
                    &[
                        ("collection", "$request.path.collection"),
                        ("name", "$request.path.name"),
                    ],
                )
                .link(
                    "run",
                    "post_admin_rules_cases_by_collection_run",
                    &[("collection", "$request.path.collection")],
                )
                .response::<RuleCase>(200, "The saved case"),
        )
        .route(
            admin(Route::delete("/v1/admin/rules/cases/{collection}/{name}", delete))
                .summary("Remove a saved case")
                .empty(204, "Removed"),
        )
        .route(
            admin(Route::post("/v1/admin/rules/cases/{collection}/run", run))
                .read_only()
                .summary("Run a collection's saved cases against its rules, or against a draft of them")
                .body::<RunCases>()
                .response::<CaseRun>(200, "Each case's outcome and whether it changed"),
        )
        .with_param(
            "collection",
            json!({"type": "string", "pattern": crate::document::COLLECTION_PATTERN}),
        )
        .with_param("name", json!({"type": "string", "pattern": CASE_NAME_PATTERN}))
}

fn check_operation(operation: &str) -> Result<RuleOp, Error> {
    OPERATIONS
        .iter()
        .find(|(name, _)| *name == operation)
        .map(|(_, op)| *op)
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "unknown operation `{operation}`: read, create, update or delete"
            ))
        })
}

/// What [`check_name`] accepts, as a JSON Schema pattern.
pub(crate) const CASE_NAME_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,100}$";

fn check_name(name: &str) -> Result<(), Error> {
    let ok = (1..=100).contains(&name.chars().count()) && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "a case's name is 1 to 100 characters, none of them control characters",
        ))
    }
}

const COLUMNS: &str = "collection, name, operation, caller, input, expect_allowed, created_at, updated_at";

fn case_of(r: &basalt_store::Row) -> Result<RuleCase, Error> {
    let input: Value = serde_json::from_str(&r.text(4)?).map_err(Error::internal)?;
    let field = |k: &str| input.get(k).cloned().unwrap_or(Value::Null);
    Ok(RuleCase {
        collection: r.text(0)?,
        name: r.text(1)?,
        operation: r.text(2)?,
        caller: r.text(3)?,
        auth: field("auth"),
        doc: field("doc"),
        data: field("data"),
        request: serde_json::from_value(field("request")).unwrap_or_default(),
        expect_allowed: r.bool(5)?,
        created_at: Timestamp::from_millis(r.int(6)?),
        updated_at: Timestamp::from_millis(r.int(7)?),
    })
}

impl Documents {
    async fn cases(&self, collection: Option<&str>) -> Result<Vec<RuleCase>, Error> {
        let rows = match collection {
            Some(c) => {
                self.db()
                    .fetch_all(
                        &format!("SELECT {COLUMNS} FROM rule_cases WHERE collection = $1 ORDER BY name"),
                        &[c.into()],
                    )
                    .await?
            }
            None => {
                self.db()
                    .fetch_all(
                        &format!("SELECT {COLUMNS} FROM rule_cases ORDER BY collection, name"),
                        &[],
                    )
                    .await?
            }
        };
        rows.iter().map(case_of).collect()
    }

    /// Forgets a deleted collection's cases.
    pub(crate) async fn forget_cases(&self, collection: &str) -> Result<(), Error> {
        self.db()
            .execute(
                "DELETE FROM rule_cases WHERE collection = $1",
                &[collection.into()],
            )
            .await?;
        Ok(())
    }
}

async fn list(State(d): State<Documents>, Query(q): Query<CaseQuery>) -> Result<Json<RuleCaseList>, Error> {
    Ok(Json(RuleCaseList {
        cases: d.cases(q.collection.as_deref()).await?,
    }))
}

async fn put(
    State(d): State<Documents>,
    Path((collection, name)): Path<(String, String)>,
    Json(body): Json<PutRuleCase>,
) -> Result<Json<RuleCase>, Error> {
    check_collection_name(&collection)?;
    check_name(&name)?;
    check_operation(&body.operation)?;
    // The collection must exist: a case is about its rules.
    d.collection(&collection).await?;
    let caller = body.caller.unwrap_or_else(|| "anonymous".into());
    if !(1..=200).contains(&caller.chars().count()) {
        return Err(Error::invalid_argument("`caller` is 1 to 200 characters"));
    }
    for (field, value) in [("auth", &body.auth), ("doc", &body.doc)] {
        if !(value.is_null() || value.is_object()) {
            return Err(Error::invalid_argument(format!("`{field}` is an object or null")));
        }
    }
    let input =
        json!({"auth": body.auth, "doc": body.doc, "data": body.data, "request": body.request}).to_string();
    if input.len() > MAX_INPUT {
        return Err(Error::new(
            basalt_core::Code::PayloadTooLarge,
            format!("a case's auth, doc, data and request are at most {MAX_INPUT} bytes of JSON"),
        ));
    }
    let existing = d.cases(Some(&collection)).await?;
    if existing.len() >= MAX_CASES && !existing.iter().any(|c| c.name == name) {
        return Err(Error::new(
            basalt_core::Code::FailedPrecondition,
            format!("a collection keeps at most {MAX_CASES} cases; delete one first"),
        ));
    }
    let now = Timestamp::now().millis();
    d.db()
        .execute(
            "INSERT INTO rule_cases (collection, name, operation, caller, input, expect_allowed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (collection, name) DO UPDATE SET operation = excluded.operation, caller = excluded.caller, \
             input = excluded.input, expect_allowed = excluded.expect_allowed, updated_at = excluded.updated_at",
            &[
                (&collection).into(),
                (&name).into(),
                body.operation.as_str().into(),
                caller.as_str().into(),
                input.as_str().into(),
                basalt_store::Param::Bool(body.expect_allowed),
                now.into(),
            ],
        )
        .await?;
    let row = d
        .db()
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM rule_cases WHERE collection = $1 AND name = $2"),
            &[(&collection).into(), (&name).into()],
        )
        .await?
        .ok_or_else(|| Error::internal("a saved case is missing"))?;
    Ok(Json(case_of(&row)?))
}

async fn delete(
    State(d): State<Documents>,
    Path((collection, name)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    let n = d
        .db()
        .execute(
            "DELETE FROM rule_cases WHERE collection = $1 AND name = $2",
            &[(&collection).into(), (&name).into()],
        )
        .await?;
    if n == 0 {
        return Err(Error::not_found(format!("no case `{name}` in `{collection}`")));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn run(
    State(d): State<Documents>,
    Path(collection): Path<String>,
    Json(draft): Json<RunCases>,
) -> Result<Json<CaseRun>, Error> {
    let stored = d.collection(&collection).await?;
    let mut rules: BTreeMap<&str, Option<Rule>> = BTreeMap::new();
    for (operation, op) in OPERATIONS {
        rules.insert(operation, stored.rule(op).cloned());
    }
    for (operation, text) in &draft.rules {
        check_operation(operation)?;
        let rule = match text {
            Some(text) => Some(d.inner.engine.compile(text).map_err(|e| {
                Error::invalid_argument(format!("the {operation} rule does not compile: {}", e.message))
                    .with_details(json!({"operation": operation, "line": e.line, "column": e.column}))
            })?),
            None => None,
        };
        rules.insert(operation.as_str(), rule);
    }
    let mut results = Vec::new();
    for case in d.cases(Some(&collection)).await? {
        let (allowed, error) = match rules.get(case.operation.as_str()).cloned().flatten() {
            None => (
                false,
                Some(format!(
                    "collection `{collection}` has no `{}` rule; a missing rule denies",
                    case.operation
                )),
            ),
            Some(rule) => {
                let ctx = playground_context(
                    &case.auth,
                    &case.doc,
                    &case.data,
                    &case.request,
                    Some(&case.operation),
                    Some(&collection),
                );
                let decision = d.inner.engine.evaluate(&rule, &ctx, &d).await;
                (decision.allowed, decision.error)
            }
        };
        results.push(CaseResult {
            changed: allowed != case.expect_allowed,
            name: case.name,
            operation: case.operation,
            caller: case.caller,
            expect_allowed: case.expect_allowed,
            allowed,
            error,
        });
    }
    Ok(Json(CaseRun {
        changed: results.iter().filter(|r| r.changed).count(),
        results,
    }))
}
