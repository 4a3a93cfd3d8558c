//! `/v1/storage`: buckets and objects.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{ClientIp, Json, Path, Query};
use basalt_core::{AdminCaller, Caller, Code, Error, Timestamp};
use basalt_rules::{RuleContext, auth_value, json_value, request_value};
use basalt_store::audit::{self, Actor, Change};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Files;
use crate::buckets::{self, Bucket, BucketRules};
use crate::path::ObjectPath;
use basalt_core::url::encode_component;

const META_PREFIX: &str = "x-basalt-meta-";
const MAX_SIGNED_SECS: u64 = 7 * 24 * 3600;

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Files: FromRef<S>,
    Authenticator: FromRef<S>,
{
    let admin = |r: Route<S>| r.tag("storage").access(Access::Admin);
    let caller = |r: Route<S>| r.tag("storage").access(Access::Caller);
    Api::new()
        .route(admin(Route::get("/v1/storage/buckets", list_buckets)).summary("List buckets").response::<BucketList>(200, "Buckets"))
        .route(admin(Route::post("/v1/storage/buckets", create_bucket))
            .summary("Create a bucket")
            .body::<CreateBucket>()
            .link("get", "get_storage_buckets_by_name", &[("name", "$response.body#/name")])
            .link("update", "patch_storage_buckets_by_name", &[("name", "$response.body#/name")])
            .link("delete", "delete_storage_buckets_by_name", &[("name", "$response.body#/name")])
            .link("list", "get_storage_by_bucket", &[("bucket", "$response.body#/name")])
            .response::<Bucket>(201, "The new bucket"))
        .route(admin(Route::get("/v1/storage/buckets/{name}", get_bucket)).summary("One bucket").response::<Bucket>(200, "The bucket"))
        .route(admin(Route::patch("/v1/storage/buckets/{name}", update_bucket))
            .summary("Change a bucket")
            .body::<UpdateBucket>()
            .response::<Bucket>(200, "The bucket"))
        .route(admin(Route::delete("/v1/storage/buckets/{name}", delete_bucket))
            .summary("Delete a bucket and every object in it")
            .empty(204, "Deleted"))
        .route(caller(Route::get("/v1/storage/{bucket}", list_objects))
            .summary("List objects by prefix")
            .query::<ListQuery>()
            .response::<ObjectList>(200, "A page of objects ordered by path"))
        .route(caller(Route::put("/v1/storage/{bucket}/{*path}", put_object))
            .summary("Upload an object (the raw body, streamed)")
            .optional_raw_body("*/*")
            .streamed_body()
            .link("download", "get_storage_by_bucket_by_path", &[("bucket", "$request.path.bucket"), ("path", "$request.path.path")])
            .link("sign", "post_storage_by_bucket_by_path", &[("bucket", "$request.path.bucket"), ("path", "$request.path.path")])
            .link("delete", "delete_storage_by_bucket_by_path", &[("bucket", "$request.path.bucket"), ("path", "$request.path.path")])
            .response::<ObjectInfo>(201, "The stored object"))
        .route(Route::get("/v1/storage/{bucket}/{*path}", get_object)
            .tag("storage")
            .access(Access::Caller)
            .summary("Download an object; Range, If-None-Match and ?download= are honoured; ?expires=&sig= is a signed URL")
            .query::<GetQuery>()
            .raw_response(200, "*/*", "The bytes")
            .raw_response(206, "*/*", "The requested range"))
        .route(caller(Route::delete("/v1/storage/{bucket}/{*path}", delete_object)).summary("Delete an object").empty(204, "Deleted"))
        .route(caller(Route::post("/v1/storage/{bucket}/{*path}", sign_object))
                .read_only()
            .summary("With ?sign: a URL that downloads the object without a token until it expires")
            .query::<SignQuery>()
            .body::<SignRequest>()
            .response::<Signed>(200, "A path with query string, relative to the server"))
        .with_param("bucket", json!({"type": "string", "pattern": crate::buckets::NAME_PATTERN}))
        .with_param("name", json!({"type": "string", "pattern": crate::buckets::NAME_PATTERN}))
        .with_param("path", json!({"type": "string", "pattern": crate::path::PATTERN, "maxLength": 1024}))
}

#[derive(Serialize, JsonSchema)]
pub struct BucketList {
    buckets: Vec<Bucket>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBucket {
    #[schemars(regex(pattern = r"^(?!buckets$)[a-z0-9][a-z0-9_-]{0,62}$"))]
    name: String,
    #[serde(default)]
    public: bool,
    #[schemars(range(max = 9_223_372_036_854_775_807_u64))]
    max_object_size: Option<u64>,
    #[serde(default)]
    #[schemars(extend("items" = {"type": "string", "pattern": crate::buckets::TYPE_PATTERN}))]
    allowed_types: Vec<String>,
    #[serde(default)]
    rules: BucketRules,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBucket {
    public: Option<bool>,
    /// A number, or null to remove the limit.
    #[serde(default, deserialize_with = "basalt_core::extract::present")]
    #[schemars(range(max = 9_223_372_036_854_775_807_u64))]
    max_object_size: Option<Option<u64>>,
    #[schemars(extend("items" = {"type": "string", "pattern": crate::buckets::TYPE_PATTERN}))]
    allowed_types: Option<Vec<String>>,
    /// Replaces the rules.
    rules: Option<BucketRules>,
}

/// The object of API.md.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ObjectInfo {
    bucket: String,
    path: String,
    size: u64,
    content_type: String,
    etag: String,
    metadata: BTreeMap<String, String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
pub struct ObjectList {
    objects: Vec<ObjectInfo>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    prefix: Option<String>,
    /// 1 to 1000, default 100.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    after: Option<String>,
}

#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    /// Download as an attachment with this file name.
    download: Option<String>,
    /// Signed URLs: expiry, seconds since the epoch.
    expires: Option<u64>,
    /// Signed URLs: the signature.
    sig: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct SignQuery {
    /// Present (empty) to ask for a signed URL.
    #[schemars(with = "String")]
    sign: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// Seconds the URL works, 1 to 604800.
    #[schemars(range(min = 1, max = 604_800))]
    expires_in: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct Signed {
    url: String,
}

// ---- buckets -------------------------------------------------------------

async fn list_buckets(_: AdminCaller, State(files): State<Files>) -> Result<Json<BucketList>, Error> {
    let sql = format!("SELECT {} FROM buckets ORDER BY name", buckets::COLUMNS);
    let rows = files.db().fetch_all(&sql, &[]).await?;
    Ok(Json(BucketList {
        buckets: rows.iter().map(buckets::from_row).collect::<Result<_, _>>()?,
    }))
}

async fn create_bucket(
    caller: AdminCaller,
    State(files): State<Files>,
    Json(body): Json<CreateBucket>,
) -> Result<(StatusCode, Json<Bucket>), Error> {
    buckets::check_name(&body.name)?;
    buckets::check_types(&body.allowed_types)?;
    buckets::check_max_size(body.max_object_size)?;
    files.check_rules(&body.rules)?;
    let now = Timestamp::now();
    let bucket = Bucket {
        name: body.name,
        public: body.public,
        max_object_size: body.max_object_size,
        allowed_types: body.allowed_types,
        rules: body.rules,
        created_at: now,
        updated_at: now,
    };
    files.save_bucket(&bucket, None, Actor::of(&caller.0)).await?;
    Ok((StatusCode::CREATED, Json(bucket)))
}

async fn get_bucket(
    _: AdminCaller,
    State(files): State<Files>,
    Path(name): Path<String>,
) -> Result<Json<Bucket>, Error> {
    files.bucket(&name).await.map(Json)
}

async fn update_bucket(
    caller: AdminCaller,
    State(files): State<Files>,
    Path(name): Path<String>,
    Json(body): Json<UpdateBucket>,
) -> Result<Json<Bucket>, Error> {
    let before = files.bucket(&name).await?;
    let mut bucket = before.clone();
    if let Some(p) = body.public {
        bucket.public = p;
    }
    if let Some(max) = body.max_object_size {
        buckets::check_max_size(max)?;
        bucket.max_object_size = max;
    }
    if let Some(types) = body.allowed_types {
        buckets::check_types(&types)?;
        bucket.allowed_types = types;
    }
    if let Some(rules) = body.rules {
        files.check_rules(&rules)?;
        bucket.rules = rules;
    }
    bucket.updated_at = Timestamp::now();
    files
        .save_bucket(&bucket, Some(&before), Actor::of(&caller.0))
        .await?;
    Ok(Json(bucket))
}

async fn delete_bucket(
    caller: AdminCaller,
    State(files): State<Files>,
    Path(name): Path<String>,
) -> Result<StatusCode, Error> {
    let before = files.bucket(&name).await?;
    let keys = files
        .db()
        .fetch_all("SELECT key FROM objects WHERE bucket = $1", &[(&name).into()])
        .await?;
    audit::execute(
        files.db(),
        "DELETE FROM buckets WHERE name = $1",
        &[(&name).into()],
        Actor::of(&caller.0),
        Change {
            action: "bucket.delete",
            target: &name,
            before: serde_json::to_string(&before).ok(),
            after: None,
        },
    )
    .await?;
    for row in keys {
        files.forget_bytes(&row.text(0)?).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- objects -------------------------------------------------------------

const OBJECT_COLUMNS: &str = "bucket, path, key, size, content_type, etag, metadata, created_at, updated_at";

struct Stored {
    info: ObjectInfo,
    key: String,
}

fn object_from_row(row: &basalt_store::Row) -> Result<Stored, Error> {
    Ok(Stored {
        key: row.text(2)?,
        info: ObjectInfo {
            bucket: row.text(0)?,
            path: row.text(1)?,
            size: row.int(3)?.max(0) as u64,
            content_type: row.text(4)?,
            etag: row.text(5)?,
            metadata: serde_json::from_str(&row.text(6)?)
                .map_err(|_| Error::internal("malformed object metadata"))?,
            created_at: Timestamp::from_millis(row.int(7)?),
            updated_at: Timestamp::from_millis(row.int(8)?),
        },
    })
}

impl Files {
    async fn object(&self, bucket: &str, path: &str) -> Result<Option<Stored>, Error> {
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = $1 AND path = $2");
        self.db()
            .fetch_optional(&sql, &[bucket.into(), path.into()])
            .await?
            .as_ref()
            .map(object_from_row)
            .transpose()
    }

    /// Deletes bytes nothing refers to any more; a failure leaves an orphan, logged.
    async fn forget_bytes(&self, key: &str) {
        if let Err(e) = self.inner.store.delete(&StorePath::from(key)).await {
            tracing::warn!(key, error = %e, "could not delete replaced object bytes");
        }
    }

    /// Runs the bucket's rule for `operation` unless the caller bypasses rules.
    async fn allow(
        &self,
        caller: &Caller,
        bucket: &Bucket,
        operation: &str,
        object: Value,
        method: &str,
        ip: std::net::IpAddr,
    ) -> Result<(), Error> {
        if caller.is_privileged() {
            return Ok(());
        }
        let rule = match operation {
            "read" => &bucket.rules.read,
            "write" => &bucket.rules.write,
            _ => &bucket.rules.delete,
        };
        let denied = || {
            Error::permission_denied(format!(
                "the `{}` bucket's {operation} rule does not allow this",
                bucket.name
            ))
        };
        let Some(source) = rule else { return Err(denied()) };
        let rules = &self.inner.rules;
        let compiled = rules.engine.compile(source)?;
        let request_op = match (operation, method) {
            ("read", "LIST") => "list",
            ("read", _) => "get",
            ("write", _) => "create",
            _ => "delete",
        };
        let ctx = RuleContext::new(
            auth_value(caller),
            request_value(method, Timestamp::now().millis(), &ip.to_string(), request_op),
        )
        .with_object(json_value(&object));
        let decision = rules
            .engine
            .evaluate(&compiled, &ctx, rules.documents.as_ref())
            .await;
        if decision.allowed { Ok(()) } else { Err(denied()) }
    }

    /// What a caller hears of an object that does not exist, when they
    /// asked to `operation` it: `404` if they could read an object at that
    /// path (the read rule sees `object` with only its bucket and path), or
    /// do what they asked; else the refusal an existing object would get.
    /// A caller the rules deny cannot tell a path in use from a free one.
    async fn missing(
        &self,
        caller: &Caller,
        bucket: &Bucket,
        path: &str,
        operation: &str,
        method: &str,
        ip: std::net::IpAddr,
    ) -> Error {
        let not_found = || Error::not_found("no such object");
        if bucket.public {
            return not_found();
        }
        let object =
            json!({"bucket": bucket.name, "path": path, "size": null, "content_type": null, "metadata": {}});
        let read = self
            .allow(caller, bucket, "read", object.clone(), "GET", ip)
            .await;
        match read {
            Ok(()) => not_found(),
            Err(e) if operation == "read" => e,
            Err(_) => match self.allow(caller, bucket, operation, object, method, ip).await {
                Ok(()) => not_found(),
                Err(e) => e,
            },
        }
    }

    /// The signature of a URL to `bucket`/`path` that expires at `expires`,
    /// by the key that signs now.
    fn sign(&self, bucket: &str, path: &str, expires: u64) -> String {
        signature(&self.inner.url_keys.signer(), bucket, path, expires)
    }

    /// Whether `sig` is the signature of one of the keys that still verify.
    fn signed(&self, bucket: &str, path: &str, expires: u64, sig: &str) -> bool {
        self.inner.url_keys.any_verifies(|key| {
            bool::from(
                signature(key, bucket, path, expires)
                    .as_bytes()
                    .ct_eq(sig.as_bytes()),
            )
        })
    }
}

fn signature(key: &[u8], bucket: &str, path: &str, expires: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(format!("GET\n{bucket}\n{path}\n{expires}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

impl ObjectInfo {
    /// The `object` a rule sees for this object.
    fn context(&self) -> Value {
        object_context(
            &self.bucket,
            &self.path,
            self.size,
            &self.content_type,
            &self.metadata,
        )
    }
}

fn object_context(
    bucket: &str,
    path: &str,
    size: u64,
    content_type: &str,
    metadata: &BTreeMap<String, String>,
) -> Value {
    json!({"bucket": bucket, "path": path, "size": size, "content_type": content_type, "metadata": metadata})
}

/// `x-basalt-meta-*` headers: names lowercased, at most 8 KiB in all.
fn metadata(headers: &HeaderMap) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    let mut total = 0;
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(META_PREFIX) {
            let value = value
                .to_str()
                .map_err(|_| Error::invalid_argument("metadata values must be visible ASCII"))?;
            total += key.len() + value.len();
            out.insert(key.to_owned(), value.to_owned());
        }
    }
    if total > 8 * 1024 {
        return Err(Error::invalid_argument("object metadata is limited to 8 KiB"));
    }
    Ok(out)
}

struct NewRow<'a> {
    bucket: &'a str,
    path: &'a str,
    key: &'a str,
    size: u64,
    content_type: &'a str,
    etag: &'a str,
    metadata: &'a str,
    now: Timestamp,
}

/// Points the object's row at freshly uploaded bytes, in one transaction;
/// returns the object's creation time and the key of the bytes it replaced.
async fn record(files: &Files, row: NewRow<'_>, create_only: bool) -> Result<(i64, Option<String>), Error> {
    let mut tx = files.db().begin().await?;
    // PostgreSQL: lock the row so two uploads to one path take turns and each
    // sees the key the other replaced (SQLite transactions are serial already).
    let lock = match files.db().backend() {
        basalt_store::Backend::Postgres => " FOR UPDATE",
        basalt_store::Backend::Sqlite => "",
    };
    let previous = tx
        .fetch_optional(
            &format!("SELECT key, created_at FROM objects WHERE bucket = $1 AND path = $2{lock}"),
            &[row.bucket.into(), row.path.into()],
        )
        .await?;
    let exists = || Error::new(Code::FailedPrecondition, "the object exists (If-None-Match: *)");
    if create_only && previous.is_some() {
        return Err(exists());
    }
    let created_at = match &previous {
        Some(r) => r.int(1)?,
        None => row.now.millis(),
    };
    let conflict = if create_only {
        "ON CONFLICT (bucket, path) DO NOTHING"
    } else {
        "ON CONFLICT (bucket, path) DO UPDATE SET key = $3, size = $4, content_type = $5, etag = $6, metadata = $7, updated_at = $9"
    };
    let written = tx
        .execute(
            &format!(
                "INSERT INTO objects (bucket, path, key, size, content_type, etag, metadata, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) {conflict}"
            ),
            &[
                row.bucket.into(),
                row.path.into(),
                row.key.into(),
                (row.size.min(i64::MAX as u64) as i64).into(),
                row.content_type.into(),
                row.etag.into(),
                row.metadata.into(),
                created_at.into(),
                row.now.millis().into(),
            ],
        )
        .await?;
    if written == 0 {
        // Another create-only upload of the same path won the race.
        return Err(exists());
    }
    let metadata: Value = serde_json::from_str(row.metadata).unwrap_or_else(|_| json!({}));
    let mut fields = serde_json::Map::new();
    fields.insert(
        "object".into(),
        json!({
            "bucket": row.bucket, "path": row.path, "size": row.size, "content_type": row.content_type,
            "etag": row.etag, "metadata": metadata, "created_at": Timestamp::from_millis(created_at),
            "updated_at": row.now,
        }),
    );
    let queued = basalt_store::outbox::emit(&mut tx, files.db().outbox(), "storage.upload", fields).await?;
    tx.commit().await?;
    if queued {
        files.db().outbox().ring();
    }
    Ok((created_at, previous.map(|r| r.text(0)).transpose()?))
}

async fn put_object(
    caller: Caller,
    State(files): State<Files>,
    ClientIp(ip): ClientIp,
    Path((bucket_name, raw_path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ObjectInfo>), Error> {
    let path = ObjectPath::parse(&raw_path)?;
    let bucket = files.bucket(&bucket_name).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    if !buckets::type_allowed(&bucket.allowed_types, &content_type) {
        return Err(Error::new(
            Code::UnsupportedMediaType,
            format!("`{content_type}` is not allowed in this bucket"),
        ));
    }
    let declared: Option<u64> = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let max = bucket.max_object_size.unwrap_or(u64::MAX);
    let too_large = || {
        Error::new(
            Code::PayloadTooLarge,
            format!("objects in this bucket are at most {max} bytes"),
        )
    };
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let meta = metadata(&headers)?;
    let create_only = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*");
    let ctx = object_context(
        &bucket.name,
        path.as_str(),
        declared.unwrap_or(0),
        &content_type,
        &meta,
    );
    files.allow(&caller, &bucket, "write", ctx, "PUT", ip).await?;
    // Only a caller who may write here learns that the path is taken.
    if create_only && files.object(&bucket.name, path.as_str()).await?.is_some() {
        return Err(Error::new(
            Code::FailedPrecondition,
            "the object exists (If-None-Match: *)",
        ));
    }

    // Stream the body to a fresh key; only a finished upload becomes visible.
    let id = basalt_core::id::new_id();
    let key = format!("{}/{id}", bucket.name);
    let upload = files
        .inner
        .store
        .put_multipart(&StorePath::from(key.as_str()))
        .await
        .map_err(write_error)?;
    let mut writer = WriteMultipart::new(upload);
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    let failure = loop {
        match stream.next().await {
            None => break None,
            Some(Err(_)) => break Some(Error::invalid_argument("the upload was interrupted")),
            Some(Ok(chunk)) => {
                size += chunk.len() as u64;
                if size > max {
                    break Some(too_large());
                }
                if let Err(e) = writer.wait_for_capacity(4).await {
                    break Some(write_error(e));
                }
                writer.write(&chunk);
            }
        }
    };
    if let Some(e) = failure {
        let _ = writer.abort().await;
        return Err(e);
    }
    writer.finish().await.map_err(write_error)?;

    let now = Timestamp::now();
    let meta_json = serde_json::to_string(&meta).map_err(Error::internal)?;
    let row = NewRow {
        bucket: &bucket.name,
        path: path.as_str(),
        key: &key,
        size,
        content_type: &content_type,
        etag: &id,
        metadata: &meta_json,
        now,
    };
    let created_at = match record(&files, row, create_only).await {
        Ok((created_at, previous)) => {
            if let Some(old) = previous {
                files.forget_bytes(&old).await;
            }
            created_at
        }
        Err(e) => {
            // The bytes never became an object.
            files.forget_bytes(&key).await;
            return Err(e);
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(ObjectInfo {
            bucket: bucket.name,
            path: path.as_str().to_owned(),
            size,
            content_type,
            etag: id,
            metadata: meta,
            created_at: Timestamp::from_millis(created_at),
            updated_at: now,
        }),
    ))
}

/// A single `bytes=` range: `a-b`, `a-` or `-n`. `Err` means unsatisfiable.
fn parse_range(value: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // several ranges: answer with the whole object
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n: u64 = b.parse().ok()?;
            if n == 0 || size == 0 {
                return Some(Err(()));
            }
            (size.saturating_sub(n), size - 1)
        }
        (false, _) => {
            let start: u64 = a.parse().ok()?;
            let end: u64 = if b.is_empty() {
                size.saturating_sub(1)
            } else {
                b.parse().ok()?
            };
            if start >= size || end < start {
                return Some(Err(()));
            }
            (start, end.min(size - 1))
        }
        _ => return None,
    };
    Some(Ok(range))
}

fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = encode_component(name);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[allow(clippy::too_many_arguments)]
async fn get_object(
    caller: Caller,
    method: Method,
    State(files): State<Files>,
    ClientIp(ip): ClientIp,
    Path((bucket_name, raw_path)): Path<(String, String)>,
    Query(q): Query<GetQuery>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let path = ObjectPath::parse(&raw_path)?;
    let bucket = files.bucket(&bucket_name).await?;
    let stored = files.object(&bucket.name, path.as_str()).await?;
    let signed = match (q.expires, &q.sig) {
        (Some(expires), Some(sig)) => {
            let valid = files.signed(&bucket.name, path.as_str(), expires, sig);
            if !valid || expires < Timestamp::now().seconds().max(0) as u64 {
                return Err(Error::permission_denied(
                    "the signed URL is invalid or has expired",
                ));
            }
            true
        }
        (None, None) => false,
        _ => {
            return Err(Error::invalid_argument(
                "a signed URL needs both `expires` and `sig`",
            ));
        }
    };
    let Some(stored) = stored else {
        if signed {
            return Err(Error::not_found("no such object"));
        }
        return Err(files
            .missing(&caller, &bucket, path.as_str(), "read", "GET", ip)
            .await);
    };
    let info = &stored.info;
    if !signed && !bucket.public {
        let ctx = info.context();
        files.allow(&caller, &bucket, "read", ctx, "GET", ip).await?;
    }
    let etag = format!("\"{}\"", info.etag);
    let mut response_headers = HeaderMap::new();
    let hv = |s: &str| HeaderValue::from_str(s).map_err(|_| Error::internal("an unrepresentable header"));
    response_headers.insert(header::ETAG, hv(&etag)?);
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // Uploaded content is served as data, never as an active page of this origin.
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response_headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    response_headers.insert(
        header::CONTENT_TYPE,
        hv(&info.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    response_headers.insert(header::LAST_MODIFIED, hv(&http_date(info.updated_at))?);
    for (k, v) in &info.metadata {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(format!("{META_PREFIX}{k}").as_bytes()),
            HeaderValue::from_str(v),
        ) {
            response_headers.insert(name, value);
        }
    }
    if let Some(name) = &q.download {
        response_headers.insert(header::CONTENT_DISPOSITION, hv(&content_disposition(name))?);
    }
    let none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, info.size));
    let (status, start, end) = match range {
        Some(Err(())) => {
            let mut e =
                Error::new(Code::RangeNotSatisfiable, "the range is outside the object").into_response();
            e.headers_mut()
                .insert(header::CONTENT_RANGE, hv(&format!("bytes */{}", info.size))?);
            return Ok(e);
        }
        Some(Ok((a, b))) => {
            response_headers.insert(
                header::CONTENT_RANGE,
                hv(&format!("bytes {a}-{b}/{}", info.size))?,
            );
            (StatusCode::PARTIAL_CONTENT, a, b + 1)
        }
        None => (StatusCode::OK, 0, info.size),
    };
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if method == Method::HEAD || end == start {
        return Ok((status, response_headers).into_response());
    }
    let options = GetOptions {
        range: Some(GetRange::Bounded(start..end)),
        ..Default::default()
    };
    let result = files
        .inner
        .store
        .get_opts(&StorePath::from(stored.key.as_str()), options)
        .await
        .map_err(|e| match e {
            object_store::Error::NotFound { .. } => Error::not_found("no such object"),
            e => Error::internal(e),
        })?;
    let body = match result.payload {
        // On local disk, read the file in large blocks (the generic stream reads 8 KiB at a time).
        object_store::GetResultPayload::File(file, _) => file_body(file, start, end - start),
        _ => Body::from_stream(result.into_stream()),
    };
    Ok((status, response_headers, body).into_response())
}

/// A failed write to the file store: `disk_full` when the disk has no room
/// left (the cause is somewhere in the chain of sources), else internal.
fn write_error(e: object_store::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::StorageFull
        {
            return Error::disk_full();
        }
        source = s.source();
    }
    Error::internal(e)
}

/// `len` bytes of `file` from `start`, read in 256 KiB blocks off the async workers.
fn file_body(file: std::fs::File, start: u64, len: u64) -> Body {
    const BLOCK: u64 = 256 * 1024;
    let state = (Some(file), start, len);
    let stream = futures_util::stream::unfold(state, |(file, pos, left)| async move {
        let file = file?;
        if left == 0 {
            return None;
        }
        let want = left.min(BLOCK) as usize;
        let read = tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0u8; want];
            let n = file.read_at(&mut buf, pos)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await;
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "object shorter than its record",
                )),
                (None, pos, 0),
            )),
            Ok(Ok((file, buf))) => {
                let n = buf.len() as u64;
                Some((Ok(bytes::Bytes::from(buf)), (Some(file), pos + n, left - n)))
            }
            Ok(Err(e)) => Some((Err(e), (None, pos, 0))),
            Err(e) => Some((Err(std::io::Error::other(e)), (None, pos, 0))),
        }
    });
    Body::from_stream(stream)
}

fn http_date(t: Timestamp) -> String {
    // RFC 7231 IMF-fixdate from our RFC 3339 form.
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = t.to_string();
    let (y, mo, d, time) = (&s[0..4], &s[5..7], &s[8..10], &s[11..19]);
    let month = MONTHS[mo.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1];
    let weekday = DAYS[(t.seconds().div_euclid(86_400).rem_euclid(7)) as usize];
    format!("{weekday}, {d} {month} {y} {time} GMT")
}

async fn delete_object(
    caller: Caller,
    State(files): State<Files>,
    ClientIp(ip): ClientIp,
    Path((bucket_name, raw_path)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    let path = ObjectPath::parse(&raw_path)?;
    let bucket = files.bucket(&bucket_name).await?;
    let Some(stored) = files.object(&bucket.name, path.as_str()).await? else {
        return Err(files
            .missing(&caller, &bucket, path.as_str(), "delete", "DELETE", ip)
            .await);
    };
    let info = &stored.info;
    let ctx = info.context();
    files.allow(&caller, &bucket, "delete", ctx, "DELETE", ip).await?;
    let mut tx = files.db().begin().await?;
    let n = tx
        .execute(
            "DELETE FROM objects WHERE bucket = $1 AND path = $2 AND key = $3",
            &[(&bucket.name).into(), path.as_str().into(), (&stored.key).into()],
        )
        .await?;
    let mut queued = false;
    if n == 1 {
        let mut fields = serde_json::Map::new();
        fields.insert(
            "object".into(),
            serde_json::to_value(info).map_err(Error::internal)?,
        );
        queued = basalt_store::outbox::emit(&mut tx, files.db().outbox(), "storage.delete", fields).await?;
    }
    tx.commit().await?;
    if queued {
        files.db().outbox().ring();
    }
    if n == 1 {
        files.forget_bytes(&stored.key).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_objects(
    caller: Caller,
    State(files): State<Files>,
    ClientIp(ip): ClientIp,
    Path(bucket_name): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<ObjectList>, Error> {
    let bucket = files.bucket(&bucket_name).await?;
    let limit = i64::from(q.limit.unwrap_or(100));
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 1000"));
    }
    let prefix = q.prefix.unwrap_or_default();
    // Paths are compared as text: everything from `prefix` up to `prefix` + U+10FFFF.
    let upper = format!("{prefix}\u{10FFFF}");
    let after = q.after.unwrap_or_default();
    let sql = format!(
        "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = $1 AND path >= $2 AND path < $3 AND path > $4
         ORDER BY path LIMIT $5"
    );
    let rows = files
        .db()
        .fetch_all(
            &sql,
            &[
                (&bucket.name).into(),
                (&prefix).into(),
                (&upper).into(),
                (&after).into(),
                (limit + 1).into(),
            ],
        )
        .await?;
    // One page is the next `limit` paths; objects the read rule denies are
    // left out of it (the page may be shorter), and the cursor moves past them.
    let more = rows.len() as i64 > limit;
    let page = &rows[..rows.len().min(limit as usize)];
    let mut objects = Vec::new();
    for row in page {
        let info = object_from_row(row)?.info;
        // Listing is its own permission: even a public bucket lists only by rule.
        if !caller.is_privileged() {
            let ctx = info.context();
            if files
                .allow(&caller, &bucket, "read", ctx, "LIST", ip)
                .await
                .is_err()
            {
                continue;
            }
        }
        objects.push(info);
    }
    let next_cursor = if more {
        page.last().map(|r| r.text(1)).transpose()?
    } else {
        None
    };
    Ok(Json(ObjectList { objects, next_cursor }))
}

async fn sign_object(
    caller: Caller,
    State(files): State<Files>,
    ClientIp(ip): ClientIp,
    Path((bucket_name, raw_path)): Path<(String, String)>,
    Query(q): Query<SignQuery>,
    Json(body): Json<SignRequest>,
) -> Result<Json<Signed>, Error> {
    if q.sign.is_none() {
        return Err(Error::invalid_argument("POST on an object needs ?sign"));
    }
    if !(1..=MAX_SIGNED_SECS).contains(&body.expires_in) {
        return Err(Error::invalid_argument(format!(
            "`expires_in` must be 1 to {MAX_SIGNED_SECS} seconds"
        )));
    }
    let path = ObjectPath::parse(&raw_path)?;
    let bucket = files.bucket(&bucket_name).await?;
    let Some(stored) = files.object(&bucket.name, path.as_str()).await? else {
        return Err(files
            .missing(&caller, &bucket, path.as_str(), "read", "GET", ip)
            .await);
    };
    // Whoever may read the object may hand out a link to it.
    if !bucket.public {
        let info = &stored.info;
        let ctx = info.context();
        files.allow(&caller, &bucket, "read", ctx, "GET", ip).await?;
    }
    let expires = Timestamp::now().seconds().max(0) as u64 + body.expires_in;
    let sig = files.sign(&bucket.name, path.as_str(), expires);
    let encoded: Vec<String> = path.as_str().split('/').map(encode_component).collect();
    let encoded = encoded.join("/");
    Ok(Json(Signed {
        url: format!(
            "/v1/storage/{}/{encoded}?expires={expires}&sig={sig}",
            bucket.name
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=95-200", 100), Some(Ok((95, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=9-3", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=-0", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=x-1", 100), None);
    }

    #[test]
    fn dates_and_dispositions() {
        assert_eq!(
            http_date(Timestamp::from_millis(784_111_777_000)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            content_disposition("résumé \"v2\".pdf"),
            "attachment; filename=\"r_sum_ _v2_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf"
        );
    }
}
