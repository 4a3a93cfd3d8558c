//! Buckets: who may read, write and delete, how large, which types.

use basalt_core::{Error, Timestamp};
use basalt_store::audit::{self, Actor, Change};
use basalt_store::{Row, StoreError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Files;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketRules {
    /// Who may download (and list). Missing denies, unless the bucket is public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<String>,
    /// Who may upload or overwrite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<String>,
    /// Who may delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Bucket {
    pub name: String,
    /// Anyone may download, without a token.
    pub public: bool,
    /// Bytes; null for no limit beyond the server's.
    pub max_object_size: Option<u64>,
    /// Content types allowed in, like `image/*`; empty allows any.
    pub allowed_types: Vec<String>,
    pub rules: BucketRules,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub const COLUMNS: &str = "name, public, max_object_size, allowed_types, rules, created_at, updated_at";

pub fn from_row(row: &Row) -> Result<Bucket, Error> {
    let bad = |_| Error::internal("a stored bucket has a malformed JSON column");
    Ok(Bucket {
        name: row.text(0)?,
        public: row.bool(1)?,
        max_object_size: row.opt_int(2)?.map(|n| n.max(0) as u64),
        allowed_types: serde_json::from_str(&row.text(3)?).map_err(bad)?,
        rules: serde_json::from_str(&row.text(4)?).map_err(bad)?,
        created_at: Timestamp::from_millis(row.int(5)?),
        updated_at: Timestamp::from_millis(row.int(6)?),
    })
}

/// What [`check_name`] accepts, as a JSON Schema pattern.
pub const NAME_PATTERN: &str = "^(?!buckets$)[a-z0-9][a-z0-9_-]{0,62}$";

pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name != "buckets";
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "bucket names are 1 to 63 of a-z, 0-9, - and _, starting with a letter or digit (and not `buckets`)",
        ))
    }
}

/// `max_object_size` is stored as a 64-bit signed integer.
pub fn check_max_size(max: Option<u64>) -> Result<(), Error> {
    if max.is_some_and(|n| n > i64::MAX as u64) {
        return Err(Error::invalid_argument(format!(
            "`max_object_size` is at most {}",
            i64::MAX
        )));
    }
    Ok(())
}

/// What [`check_types`] accepts of one pattern, as a JSON Schema pattern.
pub const TYPE_PATTERN: &str = r"^(\*/\*|[A-Za-z0-9!#$&^_.+-]+/(\*|[A-Za-z0-9!#$&^_.+-]+))$";

pub fn check_types(types: &[String]) -> Result<(), Error> {
    for t in types {
        let valid = t.split_once('/').is_some_and(|(a, b)| {
            let token = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&c))
            };
            (a == "*" && b == "*") || (token(a) && (b == "*" || token(b)))
        });
        if !valid {
            return Err(Error::invalid_argument(format!(
                "`{t}` is not a content type pattern like image/* or application/pdf"
            )));
        }
    }
    Ok(())
}

/// Whether `content_type` (its essence, without parameters) matches a pattern.
pub fn type_allowed(patterns: &[String], content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    patterns.is_empty()
        || patterns.iter().any(|p| {
            let p = p.to_ascii_lowercase();
            p == "*/*"
                || p == essence
                || p.strip_suffix("/*")
                    .is_some_and(|major| essence.split('/').next() == Some(major))
        })
}

impl Files {
    /// Compiles each rule so a bad one is refused when saved.
    pub(crate) fn check_rules(&self, rules: &BucketRules) -> Result<(), Error> {
        for rule in [&rules.read, &rules.write, &rules.delete].into_iter().flatten() {
            self.inner.rules.engine.compile(rule)?;
        }
        Ok(())
    }

    pub(crate) async fn bucket(&self, name: &str) -> Result<Bucket, Error> {
        let sql = format!("SELECT {COLUMNS} FROM buckets WHERE name = $1");
        let row = self.db().fetch_optional(&sql, &[name.into()]).await?;
        row.as_ref()
            .map(from_row)
            .transpose()?
            .ok_or_else(|| Error::not_found(format!("no bucket named `{name}`")))
    }

    /// Writes a bucket and its audit record (`before`: the bucket as it was).
    pub(crate) async fn save_bucket(
        &self,
        b: &Bucket,
        before: Option<&Bucket>,
        actor: Actor<'_>,
    ) -> Result<(), Error> {
        let create = before.is_none();
        let types = serde_json::to_string(&b.allowed_types).map_err(Error::internal)?;
        let rules = serde_json::to_string(&b.rules).map_err(Error::internal)?;
        let max = b.max_object_size.map(|n| n.min(i64::MAX as u64) as i64);
        let sql = if create {
            "INSERT INTO buckets (name, public, max_object_size, allowed_types, rules, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        } else {
            "UPDATE buckets SET public = $2, max_object_size = $3, allowed_types = $4, rules = $5, updated_at = $7
             WHERE name = $1 AND created_at = $6"
        };
        let snapshot = |b: &Bucket| serde_json::to_string(b).ok();
        audit::execute(
            self.db(),
            sql,
            &[
                (&b.name).into(),
                b.public.into(),
                max.into(),
                (&types).into(),
                (&rules).into(),
                b.created_at.millis().into(),
                b.updated_at.millis().into(),
            ],
            actor,
            Change {
                action: if create { "bucket.create" } else { "bucket.update" },
                target: &b.name,
                before: before.and_then(snapshot),
                after: snapshot(b),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::UniqueViolation => {
                Error::already_exists(format!("a bucket named `{}` exists", b.name))
            }
            e => e.into(),
        })?;
        Ok(())
    }
}
