//! Collections: rules, schema and indexes, the table that holds their
//! documents, and a short-lived cache of their compiled form.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use basalt_core::{Error, Timestamp};
use basalt_rules::Rule;
use basalt_store::{Backend, Row, StoreError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::filter::Field;
use crate::order::{Direction, key_exprs, path_literal};
use crate::schema::Schema;
use crate::sql::Dialect;

/// Most indexes per collection, and fields per index.
pub const MAX_INDEXES: usize = 16;
pub const MAX_INDEX_FIELDS: usize = 8;
/// How long another node's change to a collection may go unseen here.
const CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CollectionRules {
    /// Who may get, list, query, count and subscribe. Missing denies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<String>,
    /// Who may create documents. Missing denies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create: Option<String>,
    /// Who may replace or patch documents. Missing denies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<String>,
    /// Who may delete documents. Missing denies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<String>,
}

/// An index: `{"fields": [["age", "asc"], ["city", "desc"]], "unique": false}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndexDef {
    /// `[path, "asc" | "desc"]` pairs, 1 to 8.
    #[schemars(length(min = 1, max = 8), extend("items" = {
        "type": "array", "minItems": 2, "maxItems": 2,
        "prefixItems": [{"type": "string", "pattern": crate::filter::FIELD_PATTERN}, {"enum": ["asc", "desc"]}]
    }))]
    pub fields: Vec<(String, String)>,
    /// Refuse a write that gives two documents the same values (409 `already_exists`).
    /// Documents where a field is missing or null are not constrained.
    #[serde(default)]
    pub unique: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Collection {
    pub name: String,
    pub rules: CollectionRules,
    /// The JSON Schema (draft 2020-12) every document's `data` must pass, or null.
    pub schema: Option<Value>,
    pub indexes: Vec<IndexDef>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The operations rules are written for, as array positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOp {
    Read = 0,
    Create = 1,
    Update = 2,
    Delete = 3,
}

impl RuleOp {
    pub fn name(self) -> &'static str {
        ["read", "create", "update", "delete"][self as usize]
    }
}

/// A collection ready for requests: rules compiled, schema compiled.
pub struct Loaded {
    pub def: Collection,
    /// The table holding its documents (generated, never user input).
    pub table: String,
    pub rules: [Option<Rule>; 4],
    pub schema: Option<Schema>,
    loaded_at: Instant,
}

impl Loaded {
    pub fn rule(&self, op: RuleOp) -> Option<&Rule> {
        self.rules[op as usize].as_ref()
    }
}

pub const COLUMNS: &str = "name, tbl, rules, schema, indexes, created_at, updated_at";

pub fn dialect(backend: Backend) -> Dialect {
    match backend {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres => Dialect::Postgres,
    }
}

/// Parsed index fields, checked.
pub fn check_indexes(indexes: &[IndexDef]) -> Result<Vec<Vec<(Field, Direction)>>, Error> {
    if indexes.len() > MAX_INDEXES {
        return Err(Error::invalid_argument(format!(
            "at most {MAX_INDEXES} indexes per collection"
        )));
    }
    indexes
        .iter()
        .map(|ix| {
            if ix.fields.is_empty() || ix.fields.len() > MAX_INDEX_FIELDS {
                return Err(Error::invalid_argument(format!(
                    "an index has 1 to {MAX_INDEX_FIELDS} fields"
                )));
            }
            ix.fields
                .iter()
                .map(|(path, dir)| {
                    let dir = match dir.as_str() {
                        "asc" => Direction::Asc,
                        "desc" => Direction::Desc,
                        other => {
                            return Err(Error::invalid_argument(format!(
                                "index direction `{other}`: use asc or desc"
                            )));
                        }
                    };
                    Ok((Field::parse(path)?, dir))
                })
                .collect()
        })
        .collect()
}

/// `CREATE TABLE` for a collection's documents.
pub fn table_ddl(dialect: Dialect, table: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "CREATE TABLE \"{table}\" (id TEXT PRIMARY KEY, version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, data TEXT NOT NULL)"
        ),
        Dialect::Postgres => format!(
            "CREATE TABLE \"{table}\" (id TEXT COLLATE \"C\" PRIMARY KEY, version BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, data JSONB NOT NULL)"
        ),
    }
}

/// The statements that make a collection's table and its indexes, from the
/// `indexes` JSON kept in `collections` (an import rebuilds storage this way).
pub fn storage_ddl(backend: Backend, table: &str, indexes: &str) -> Result<Vec<String>, Error> {
    let dialect = dialect(backend);
    let defs: Vec<IndexDef> =
        serde_json::from_str(indexes).map_err(|e| Error::invalid_argument(format!("stored indexes: {e}")))?;
    let fields = check_indexes(&defs)?;
    let mut out = vec![table_ddl(dialect, table)];
    for (i, (fields, def)) in fields.iter().zip(&defs).enumerate() {
        out.extend(index_ddl(dialect, table, i, fields, def.unique));
    }
    Ok(out)
}

/// Names of the indexes an index definition makes.
fn index_names(table: &str, i: usize) -> [String; 2] {
    [format!("{table}_i{i}"), format!("{table}_u{i}")]
}

/// `CREATE INDEX` statements for index `i`: one over the fields' sort keys
/// (the expressions queries filter and order by), and for a unique index
/// another over their values that the database enforces.
pub fn index_ddl(
    dialect: Dialect,
    table: &str,
    i: usize,
    fields: &[(Field, Direction)],
    unique: bool,
) -> Vec<String> {
    let [ordered, uniq] = index_names(table, i);
    let mut columns = Vec::new();
    for (field, dir) in fields {
        for e in key_exprs(field, dialect) {
            if e == "NULL" || e.parse::<i64>().is_ok() {
                continue;
            }
            // In parentheses, so a COLLATE or cast stays part of the indexed expression.
            columns.push(format!("({e}) {}", direction(dialect, *dir)));
        }
    }
    let tie = fields.last().map_or(Direction::Asc, |f| f.1);
    let id = match dialect {
        Dialect::Sqlite => "id",
        Dialect::Postgres => "id COLLATE \"C\"",
    };
    columns.push(format!("{id} {}", direction(dialect, tie)));
    let mut out = vec![format!(
        "CREATE INDEX \"{ordered}\" ON \"{table}\" ({})",
        columns.join(", ")
    )];
    if unique {
        let mut values = Vec::new();
        for (field, _) in fields {
            match field {
                Field::Id => values.push("id".to_owned()),
                Field::CreatedAt => values.push("created_at".to_owned()),
                Field::UpdatedAt => values.push("updated_at".to_owned()),
                Field::Data(path) => {
                    let p = path_literal(path, dialect);
                    match dialect {
                        Dialect::Sqlite => {
                            let t = format!("json_type(data, {p})");
                            let v = format!("json_extract(data, {p})");
                            values.push(format!(
                                "(CASE WHEN {t} IN ('integer', 'real') THEN 'number' WHEN {t} IN ('true', 'false') THEN 'boolean' WHEN {t} IN ('text', 'array', 'object') THEN {t} END)"
                            ));
                            values.push(format!(
                                "(CASE WHEN {t} IN ('integer', 'real') THEN CAST({v} AS REAL) WHEN {t} IN ('true', 'false', 'text', 'array', 'object') THEN {v} END)"
                            ));
                        }
                        Dialect::Postgres => {
                            values.push(format!("(NULLIF(jsonb_extract_path(data, {p}), 'null'::jsonb))"))
                        }
                    }
                }
            }
        }
        out.push(format!(
            "CREATE UNIQUE INDEX \"{uniq}\" ON \"{table}\" ({})",
            values.join(", ")
        ));
    }
    out
}

fn direction(dialect: Dialect, dir: Direction) -> &'static str {
    match (dir, dialect) {
        (Direction::Asc, Dialect::Sqlite) => "ASC",
        (Direction::Desc, Dialect::Sqlite) => "DESC",
        (Direction::Asc, Dialect::Postgres) => "ASC NULLS FIRST",
        (Direction::Desc, Dialect::Postgres) => "DESC NULLS LAST",
    }
}

/// `DROP INDEX` for every index a definition list made.
pub fn drop_indexes_ddl(table: &str, count: usize) -> Vec<String> {
    (0..count)
        .flat_map(|i| index_names(table, i))
        .map(|n| format!("DROP INDEX IF EXISTS \"{n}\""))
        .collect()
}

pub fn from_row(row: &Row, engine: &basalt_rules::RuleEngine) -> Result<Loaded, Error> {
    let bad = |_| Error::internal("a stored collection has a malformed JSON column");
    let rules: CollectionRules = serde_json::from_str(&row.text(2)?).map_err(bad)?;
    let schema: Option<Value> = row
        .opt_text(3)?
        .map(|s| serde_json::from_str(&s))
        .transpose()
        .map_err(bad)?;
    let compile = |r: &Option<String>| -> Result<Option<Rule>, Error> {
        r.as_deref()
            .map(|r| engine.compile(r).map_err(Error::from))
            .transpose()
    };
    let compiled = [
        compile(&rules.read)?,
        compile(&rules.create)?,
        compile(&rules.update)?,
        compile(&rules.delete)?,
    ];
    Ok(Loaded {
        schema: schema.as_ref().map(Schema::compile).transpose()?,
        def: Collection {
            name: row.text(0)?,
            rules,
            schema,
            indexes: serde_json::from_str(&row.text(4)?).map_err(bad)?,
            created_at: Timestamp::from_millis(row.int(5)?),
            updated_at: Timestamp::from_millis(row.int(6)?),
        },
        table: row.text(1)?,
        rules: compiled,
        loaded_at: Instant::now(),
    })
}

/// Compiled collections by name, each trusted for [`CACHE_TTL`].
#[derive(Default)]
pub struct Cache {
    entries: RwLock<HashMap<String, Arc<Loaded>>>,
}

impl Cache {
    pub fn get(&self, name: &str) -> Option<Arc<Loaded>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(name)
            .filter(|l| l.loaded_at.elapsed() < CACHE_TTL)
            .cloned()
    }

    pub fn put(&self, loaded: Arc<Loaded>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.insert(loaded.def.name.clone(), loaded);
    }

    pub fn forget(&self, name: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(name);
    }
}

/// Maps a failed DDL statement to what the caller did wrong, if anything.
pub fn ddl_error(e: StoreError) -> Error {
    match e {
        StoreError::UniqueViolation => {
            Error::already_exists("existing documents already break this unique index; fix them first")
        }
        e => e.into(),
    }
}
