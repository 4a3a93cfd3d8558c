//! `/v1/db`: collections, documents, queries, counts and batches.

use std::collections::BTreeMap;

use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use basalt_core::api::{Access as RouteAccess, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{ClientIp, Json, Path, Query as QueryString};
use basalt_core::{AdminCaller, Caller, Error};
use basalt_store::audit::Actor;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::collections::{Collection, CollectionRules, IndexDef};
use crate::document::{self, Document, DocumentBody};
use crate::filter::Filter;
use crate::patch::Patch;
use crate::query::{Page, Query};
use crate::write::{CollectionPatch, NewCollection, Op, Operation};
use crate::{Access, Documents};

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Documents: FromRef<S>,
    Authenticator: FromRef<S>,
{
    let admin = |r: Route<S>| r.tag("collections").access(RouteAccess::Admin);
    let caller = |r: Route<S>| r.tag("documents").access(RouteAccess::Caller);
    Api::new()
        .route(
            admin(Route::get("/v1/db/collections", list_collections))
                .summary("List collections")
                .response::<CollectionList>(200, "Every collection"),
        )
        .route(
            admin(Route::post("/v1/db/collections", create_collection))
                .summary("Create a collection with its rules, schema and indexes")
                .body::<CreateCollection>()
                .link(
                    "get",
                    "get_db_collections_by_name",
                    &[("name", "$response.body#/name")],
                )
                .link(
                    "update",
                    "patch_db_collections_by_name",
                    &[("name", "$response.body#/name")],
                )
                .link(
                    "delete",
                    "delete_db_collections_by_name",
                    &[("name", "$response.body#/name")],
                )
                .link(
                    "create_document",
                    "post_db_by_collection",
                    &[("collection", "$response.body#/name")],
                )
                .link(
                    "list_documents",
                    "get_db_by_collection",
                    &[("collection", "$response.body#/name")],
                )
                .response::<Collection>(201, "The new collection"),
        )
        .route(
            admin(Route::get("/v1/db/collections/{name}", get_collection))
                .summary("One collection")
                .response::<Collection>(200, "The collection"),
        )
        .route(
            admin(Route::patch("/v1/db/collections/{name}", update_collection))
                .summary("Change a collection's rules, schema or indexes")
                .body::<UpdateCollection>()
                .response::<Collection>(200, "The collection"),
        )
        .route(
            admin(Route::delete("/v1/db/collections/{name}", delete_collection))
                .summary("Delete a collection and every document in it")
                .empty(204, "Deleted"),
        )
        .route(
            caller(Route::post("/v1/db/batch", batch))
                .summary("Up to 500 writes, all or nothing")
                .body::<BatchRequest>()
                .response::<BatchResults>(
                    200,
                    "One result per operation: the document, or null after a delete",
                ),
        )
        .route(
            caller(Route::post("/v1/db/{collection}", create_document))
                .summary("Create a document (with a generated id unless `id` is given)")
                .body::<CreateDocument>()
                .link(
                    "get",
                    "get_db_by_collection_by_id",
                    &[
                        ("collection", "$request.path.collection"),
                        ("id", "$response.body#/id"),
                    ],
                )
                .link(
                    "update",
                    "patch_db_by_collection_by_id",
                    &[
                        ("collection", "$request.path.collection"),
                        ("id", "$response.body#/id"),
                    ],
                )
                .link(
                    "replace",
                    "put_db_by_collection_by_id",
                    &[
                        ("collection", "$request.path.collection"),
                        ("id", "$response.body#/id"),
                    ],
                )
                .link(
                    "delete",
                    "delete_db_by_collection_by_id",
                    &[
                        ("collection", "$request.path.collection"),
                        ("id", "$response.body#/id"),
                    ],
                )
                .response::<DocumentBody<'static>>(201, "The new document"),
        )
        .route(
            caller(Route::get("/v1/db/{collection}", list_documents))
                .summary("List documents by id, or by one field (`order=field` or `order=-field`)")
                .query::<ListParams>()
                .response::<DocumentList>(200, "A page of documents"),
        )
        .route(
            caller(Route::post("/v1/db/{collection}/query", query))
                .read_only()
                .summary("Query documents: filters, order, limit, cursor, select")
                .body::<QueryRequest>()
                .response::<DocumentList>(200, "A page of documents"),
        )
        .route(
            caller(Route::post("/v1/db/{collection}/count", count))
                .read_only()
                .summary("Count the documents matching a filter")
                .body::<CountRequest>()
                .response::<CountResult>(200, "How many"),
        )
        .route(
            caller(Route::get("/v1/db/{collection}/{id}", get_document))
                .summary("One document; `ETag` is its version, `If-None-Match` gives 304")
                .response::<DocumentBody<'static>>(200, "The document"),
        )
        .route(
            caller(Route::put("/v1/db/{collection}/{id}", set_document))
                .summary("Create or replace a document; `If-Match` makes it conditional")
                .body::<SetDocument>()
                .response::<DocumentBody<'static>>(200, "Replaced")
                .response::<DocumentBody<'static>>(201, "Created"),
        )
        .route(
            caller(Route::patch("/v1/db/{collection}/{id}", patch_document))
                .summary("Change a document: merge patch, increment, server_time, array_union, array_remove")
                .body::<PatchRequest>()
                .response::<DocumentBody<'static>>(200, "The document"),
        )
        .route(
            caller(Route::delete("/v1/db/{collection}/{id}", delete_document))
                .summary("Delete a document; `If-Match` makes it conditional")
                .empty(204, "Deleted"),
        )
        .with_param(
            "collection",
            json!({"type": "string", "pattern": crate::document::COLLECTION_PATTERN}),
        )
        .with_param(
            "name",
            json!({"type": "string", "pattern": crate::document::COLLECTION_PATTERN}),
        )
        .with_param(
            "id",
            json!({"type": "string", "pattern": crate::document::ID_PATTERN}),
        )
}

// ---- bodies ---------------------------------------------------------------

#[derive(Serialize, JsonSchema)]
pub struct CollectionList {
    collections: Vec<Collection>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    /// `^[a-z][a-z0-9_]{0,62}$`.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$"))]
    name: String,
    #[serde(default)]
    rules: CollectionRules,
    /// A JSON Schema (draft 2020-12) for `data`.
    #[schemars(extend("type" = ["object", "boolean", "null"]))]
    schema: Option<Value>,
    #[serde(default)]
    indexes: Vec<IndexDef>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCollection {
    /// Replaces the rules.
    rules: Option<CollectionRules>,
    /// Replaces the schema; null removes it. Stored documents are not checked again.
    #[serde(default, deserialize_with = "basalt_core::extract::present")]
    #[schemars(extend("type" = ["object", "boolean", "null"]))]
    schema: Option<Option<Value>>,
    /// Replaces the indexes (they are rebuilt).
    indexes: Option<Vec<IndexDef>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDocument {
    /// The document's data: a JSON object.
    #[schemars(with = "Map<String, Value>")]
    data: Option<Value>,
    /// 1 to 128 of `[A-Za-z0-9_-]`; generated (sortable by creation time) when absent.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,128}$"))]
    id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDocument {
    #[schemars(with = "Map<String, Value>")]
    data: Option<Value>,
}

/// Transforms apply in this order: `data` (a JSON Merge Patch), then
/// `increment`, `server_time`, `array_union`, `array_remove`. Keys of the
/// transforms are dotted paths.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PatchRequest {
    #[serde(default)]
    data: Map<String, Value>,
    /// `{"likes": 1, "stats.views": -2}`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": crate::filter::FIELD_PATTERN}))]
    increment: BTreeMap<String, f64>,
    /// `["seen_at"]`: set to the server's time (RFC 3339).
    #[serde(default)]
    #[schemars(extend("items" = {"type": "string", "pattern": crate::filter::FIELD_PATTERN}))]
    server_time: Vec<String>,
    /// `{"tags": ["a"]}`: append values not already there.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": crate::filter::FIELD_PATTERN}))]
    array_union: BTreeMap<String, Vec<Value>>,
    /// `{"tags": ["a"]}`: remove every equal value.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": crate::filter::FIELD_PATTERN}))]
    array_remove: BTreeMap<String, Vec<Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// A filter: `[path, op, value]`, `{"and": [...]}`, `{"or": [...]}`, or a list (AND).
    #[serde(rename = "where")]
    #[schemars(with = "Option<crate::filter::FilterSchema>")]
    filter: Option<Value>,
    /// `[[path, "asc" | "desc"], ...]`; `id` breaks ties.
    order_by: Option<Value>,
    /// 1 to 1000, default 50.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
    /// Data paths to return; the rest of `data` is left out.
    select: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    #[serde(rename = "where")]
    #[schemars(with = "Option<crate::filter::FilterSchema>")]
    filter: Option<Value>,
}

#[derive(Serialize, JsonSchema)]
pub struct CountResult {
    count: u64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// 1 to 1000, default 50.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u64>,
    after: Option<String>,
    /// `field` (ascending) or `-field` (descending); default `id`.
    #[schemars(regex(pattern = r"^-?[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,15}$"))]
    order: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct DocumentList {
    documents: Vec<DocumentBody<'static>>,
    next_cursor: Option<String>,
}

/// `op` is `create`, `set`, `update` or `delete`; `update` takes the PATCH fields.
#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
pub struct BatchOperation {
    #[schemars(extend("enum" = ["create", "set", "update", "delete"]))]
    op: String,
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$"))]
    collection: String,
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,128}$"))]
    id: Option<String>,
    data: Option<Map<String, Value>>,
    /// The version the stored document must have (412 otherwise).
    #[schemars(range(min = 1))]
    if_version: Option<i64>,
    increment: Option<Map<String, Value>>,
    server_time: Option<Vec<String>>,
    array_union: Option<Map<String, Value>>,
    array_remove: Option<Map<String, Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    #[schemars(with = "Vec<BatchOperation>", length(min = 1, max = 500))]
    operations: Vec<Map<String, Value>>,
}

#[derive(Serialize, JsonSchema)]
pub struct BatchResults {
    results: Vec<Option<DocumentBody<'static>>>,
}

// ---- helpers --------------------------------------------------------------

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

fn etag(doc: &Document) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", doc.version)).expect("digits and quotes are a valid header")
}

fn document_response(status: StatusCode, collection: &str, doc: &Document) -> Result<Response, Error> {
    let mut r = json_response(status, doc.to_json(collection)?);
    r.headers_mut().insert(header::ETAG, etag(doc));
    Ok(r)
}

fn raw(doc: &Document) -> Result<&RawValue, Error> {
    serde_json::from_str(&doc.data).map_err(Error::internal)
}

fn page_response(collection: &str, page: Page) -> Result<Response, Error> {
    #[derive(Serialize)]
    struct Out<'a> {
        documents: Vec<DocumentBody<'a>>,
        next_cursor: Option<String>,
    }
    let raws: Vec<&RawValue> = page.documents.iter().map(raw).collect::<Result<_, _>>()?;
    let out = Out {
        documents: page
            .documents
            .iter()
            .zip(raws)
            .map(|(d, r)| d.body(collection, r))
            .collect(),
        next_cursor: page.next_cursor,
    };
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_string(&out).map_err(Error::internal)?,
    ))
}

/// `If-Match: "3"` → 3; `*` → the document must exist, at any version.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Error> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v == "*" {
        return Ok(Some(crate::write::ANY_VERSION));
    }
    let bare = v.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .map(Some)
        .ok_or_else(|| Error::invalid_argument("`If-Match` must be a document version, like \"3\", or *"))
}

fn access<'a>(caller: &'a Caller, ip: std::net::IpAddr, method: &'static str) -> Access<'a> {
    Access { caller, ip, method }
}

// ---- collections ----------------------------------------------------------

async fn list_collections(_: AdminCaller, State(d): State<Documents>) -> Result<Json<CollectionList>, Error> {
    Ok(Json(CollectionList {
        collections: d.list_collections().await?,
    }))
}

async fn create_collection(
    caller: AdminCaller,
    State(d): State<Documents>,
    Json(body): Json<CreateCollection>,
) -> Result<(StatusCode, Json<Collection>), Error> {
    let c = d
        .create_collection(
            NewCollection {
                name: body.name,
                rules: body.rules,
                schema: body.schema.filter(|s| !s.is_null()),
                indexes: body.indexes,
            },
            Actor::of(&caller.0),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

async fn get_collection(
    _: AdminCaller,
    State(d): State<Documents>,
    Path(name): Path<String>,
) -> Result<Json<Collection>, Error> {
    Ok(Json(d.get_collection(&name).await?))
}

async fn update_collection(
    caller: AdminCaller,
    State(d): State<Documents>,
    Path(name): Path<String>,
    Json(body): Json<UpdateCollection>,
) -> Result<Json<Collection>, Error> {
    let c = d
        .update_collection(
            &name,
            CollectionPatch {
                rules: body.rules,
                schema: body.schema.map(|s| s.filter(|s| !s.is_null())),
                indexes: body.indexes,
            },
            Actor::of(&caller.0),
        )
        .await?;
    Ok(Json(c))
}

async fn delete_collection(
    caller: AdminCaller,
    State(d): State<Documents>,
    Path(name): Path<String>,
) -> Result<StatusCode, Error> {
    d.delete_collection(&name, Actor::of(&caller.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- documents ------------------------------------------------------------

/// Runs one write and answers with the document it left: 201 when it
/// created one, else 200.
async fn written(
    d: &Documents,
    collection: String,
    op: Op,
    if_version: Option<i64>,
    access: Access<'_>,
) -> Result<Response, Error> {
    let out = d
        .write(
            Operation {
                collection: collection.clone(),
                op,
                if_version,
            },
            &access,
        )
        .await?;
    let doc = out
        .document
        .ok_or_else(|| Error::internal("a write left no document"))?;
    let status = if out.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    document_response(status, &collection, &doc)
}

async fn create_document(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Path(collection): Path<String>,
    Json(body): Json<CreateDocument>,
) -> Result<Response, Error> {
    let data = document::data_object(body.data)?;
    let op = Op::Create { id: body.id, data };
    written(&d, collection, op, None, access(&caller, ip, "POST")).await
}

async fn get_document(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let doc = d.get(&collection, &id, &access(&caller, ip, "GET")).await?;
    let tag = etag(&doc);
    if headers.get(header::IF_NONE_MATCH) == Some(&tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    document_response(StatusCode::OK, &collection, &doc)
}

async fn set_document(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<SetDocument>,
) -> Result<Response, Error> {
    let data = document::data_object(body.data)?;
    let op = Op::Set { id, data };
    written(
        &d,
        collection,
        op,
        if_match(&headers)?,
        access(&caller, ip, "PUT"),
    )
    .await
}

async fn patch_document(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, Error> {
    let op = Op::Update {
        id,
        patch: Patch::parse(&body)?,
    };
    written(
        &d,
        collection,
        op,
        if_match(&headers)?,
        access(&caller, ip, "PATCH"),
    )
    .await
}

async fn delete_document(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Error> {
    d.write(
        Operation {
            collection,
            op: Op::Delete { id },
            if_version: if_match(&headers)?,
        },
        &access(&caller, ip, "DELETE"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_documents(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Path(collection): Path<String>,
    QueryString(params): QueryString<ListParams>,
) -> Result<Response, Error> {
    let order = params.order.as_deref().map(|o| match o.strip_prefix('-') {
        Some(field) => serde_json::json!([[field, "desc"]]),
        None => serde_json::json!([[o, "asc"]]),
    });
    let q = Query::parse(None, order.as_ref(), params.limit, params.after.as_deref(), None)?;
    let page = d.query(&collection, &q, &access(&caller, ip, "GET")).await?;
    page_response(&collection, page)
}

async fn query(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Path(collection): Path<String>,
    Json(body): Json<QueryRequest>,
) -> Result<Response, Error> {
    let q = Query::parse(
        body.filter.as_ref(),
        body.order_by.as_ref(),
        body.limit,
        body.after.as_deref(),
        body.select.as_deref(),
    )?;
    let page = d.query(&collection, &q, &access(&caller, ip, "POST")).await?;
    page_response(&collection, page)
}

async fn count(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Path(collection): Path<String>,
    Json(body): Json<CountRequest>,
) -> Result<Json<CountResult>, Error> {
    let filter = match &body.filter {
        None | Some(Value::Null) => Filter::And(Vec::new()),
        Some(f) => Filter::parse(f)?,
    };
    let count = d
        .count(&collection, &filter, &access(&caller, ip, "POST"))
        .await?;
    Ok(Json(CountResult { count }))
}

/// One batch operation from its JSON.
/// One operation of a batch, from its JSON map (`{op, collection, id?, data?, …}`).
pub fn operation(mut o: Map<String, Value>) -> Result<Operation, Error> {
    let text = |o: &mut Map<String, Value>, k: &str| -> Result<Option<String>, Error> {
        match o.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::invalid_argument(format!("`{k}` must be a string"))),
        }
    };
    let kind = text(&mut o, "op")?.ok_or_else(|| Error::invalid_argument("each operation needs `op`"))?;
    let collection = text(&mut o, "collection")?
        .ok_or_else(|| Error::invalid_argument("each operation needs `collection`"))?;
    let id = text(&mut o, "id")?;
    let if_version =
        match o.remove("if_version") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().filter(|v| *v >= 1).ok_or_else(|| {
                Error::invalid_argument("`if_version` must be a version: an integer from 1")
            })?),
        };
    let need_id =
        |id: Option<String>| id.ok_or_else(|| Error::invalid_argument(format!("`{kind}` needs `id`")));
    let no_more = |o: &Map<String, Value>| match o.keys().next() {
        Some(k) => Err(Error::invalid_argument(format!(
            "unknown field `{k}` for `{kind}`"
        ))),
        None => Ok(()),
    };
    let op = match kind.as_str() {
        "create" => {
            if if_version.is_some() {
                return Err(Error::invalid_argument("`if_version` does not apply to `create`"));
            }
            let data = document::data_object(o.remove("data"))?;
            no_more(&o)?;
            Op::Create { id, data }
        }
        "set" => {
            let data = document::data_object(o.remove("data"))?;
            no_more(&o)?;
            Op::Set {
                id: need_id(id)?,
                data,
            }
        }
        "update" => Op::Update {
            id: need_id(id)?,
            patch: Patch::parse(&o)?,
        },
        "delete" => {
            no_more(&o)?;
            Op::Delete { id: need_id(id)? }
        }
        other => {
            return Err(Error::invalid_argument(format!(
                "unknown op `{other}`: use create, set, update or delete"
            )));
        }
    };
    Ok(Operation {
        collection,
        op,
        if_version,
    })
}

async fn batch(
    caller: Caller,
    State(d): State<Documents>,
    ClientIp(ip): ClientIp,
    Json(body): Json<BatchRequest>,
) -> Result<Response, Error> {
    if body.operations.len() > crate::write::MAX_BATCH {
        return Err(Error::invalid_argument(format!(
            "a batch takes at most {} operations, got {}",
            crate::write::MAX_BATCH,
            body.operations.len()
        )));
    }
    let operations: Vec<Operation> = body
        .operations
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            operation(o).map_err(|e| {
                Error::new(e.code(), format!("operation {i}: {}", e.message()))
                    .with_details(serde_json::json!({ "index": i }))
            })
        })
        .collect::<Result<_, _>>()?;
    let collections: Vec<String> = operations.iter().map(|o| o.collection.clone()).collect();
    let outcomes = d.batch(operations, &access(&caller, ip, "POST")).await?;
    #[derive(Serialize)]
    struct Out<'a> {
        results: Vec<Option<DocumentBody<'a>>>,
    }
    let raws: Vec<Option<&RawValue>> = outcomes
        .iter()
        .map(|o| o.document.as_ref().map(raw).transpose())
        .collect::<Result<_, _>>()?;
    let out = Out {
        results: outcomes
            .iter()
            .zip(raws)
            .zip(&collections)
            .map(|((o, r), c)| o.document.as_ref().zip(r).map(|(doc, r)| doc.body(c, r)))
            .collect(),
    };
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_string(&out).map_err(Error::internal)?,
    ))
}
