//! `basalt export`, `basalt import` and `basalt migrate-db`: a whole project
//! as streamed NDJSON, the same on SQLite and PostgreSQL, so a project moves
//! from one database to the other with its users (password hashes and all),
//! sessions, keys, rules, functions, webhooks, documents and files.
//!
//! An export is a folder:
//! - `tables/<table>.ndjson`: a first line `{"columns": [...]}`, then one
//!   JSON array per row (text as strings, integers as numbers, booleans
//!   as 0 and 1, bytes as `{"$bytes": base64}`);
//! - `collections/<name>.ndjson`: one `[id, version, created_at, updated_at,
//!   data]` per document;
//! - `files/<key>`: the bytes of each object;
//! - `manifest.json`, written last, with what each file holds.
//!
//! Everything is read in one snapshot (a consistent copy of a running
//! server), page by page in primary-key order, so memory stays flat. An
//! import inserts with `ON CONFLICT DO NOTHING`: running it again after an
//! interruption goes on where it stopped. The change feed, OAuth sign-ins
//! in progress, function executions and request logs are not carried over.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use basalt_core::config::Config;
use basalt_store::{Backend, Db, Param, Row, Tx};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The tables a project is, in an order that satisfies their foreign keys.
const TABLES: &[&str] = &[
    "signing_keys",
    "server_secrets",
    "admins",
    "admin_mfa_recovery_codes",
    "service_keys",
    "users",
    "identities",
    "sessions",
    "refresh_tokens",
    "one_time_tokens",
    "mfa_recovery_codes",
    "outbox",
    "buckets",
    "objects",
    "collections",
    "channel_rules",
    "audit_log",
    "functions",
    "function_versions",
    "webhooks",
    "deliveries",
    "schedule_runs",
    "rule_cases",
    "push_subscriptions",
    "push_sends",
    "push_rates",
];
const PAGE: i64 = 1000;
const MANIFEST: &str = "manifest.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub version: String,
    pub exported_at: basalt_core::Timestamp,
    pub backend: String,
    pub tables: BTreeMap<String, u64>,
    pub collections: BTreeMap<String, u64>,
    pub objects: u64,
    pub object_bytes: u64,
    pub missing: Vec<String>,
    #[serde(default)]
    pub seconds: f64,
}

/// How a column's values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Float,
    Bool,
    Bytes,
}

fn kind_of(declared: &str) -> Kind {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") || t.contains("serial") {
        Kind::Int
    } else if t.contains("bool") {
        Kind::Bool
    } else if t.contains("blob") || t.contains("bytea") {
        Kind::Bytes
    } else if t.contains("real") || t.contains("double") || t.contains("float") || t.contains("numeric") {
        Kind::Float
    } else {
        Kind::Text
    }
}

/// A table's columns (name, kind) and its primary key columns, in order.
async fn columns(db: &Db, table: &str) -> Result<(Vec<(String, Kind)>, Vec<String>), String> {
    let err = |e: basalt_store::StoreError| format!("reading the columns of {table}: {e}");
    match db.backend() {
        Backend::Sqlite => {
            let rows = db
                .fetch_all(
                    &format!("SELECT name, type, pk FROM pragma_table_info('{table}') ORDER BY cid"),
                    &[],
                )
                .await
                .map_err(err)?;
            let mut cols = Vec::new();
            let mut pk: Vec<(i64, String)> = Vec::new();
            for r in rows {
                let name = r.text(0).map_err(err)?;
                let p = r.int(2).map_err(err)?;
                if p > 0 {
                    pk.push((p, name.clone()));
                }
                cols.push((name, kind_of(&r.text(1).map_err(err)?)));
            }
            pk.sort();
            Ok((cols, pk.into_iter().map(|(_, n)| n).collect()))
        }
        Backend::Postgres => {
            let rows = db
                .fetch_all(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    &[table.into()],
                )
                .await
                .map_err(err)?;
            let mut cols = Vec::new();
            for r in rows {
                cols.push((r.text(0).map_err(err)?, kind_of(&r.text(1).map_err(err)?)));
            }
            let rows = db
                .fetch_all(
                    "SELECT a.attname::text FROM pg_index i
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                     WHERE i.indrelid = (quote_ident(current_schema()) || '.' || quote_ident($1))::regclass
                       AND i.indisprimary
                     ORDER BY array_position(i.indkey, a.attnum)",
                    &[table.into()],
                )
                .await
                .map_err(err)?;
            let pk = rows
                .iter()
                .map(|r| r.text(0))
                .collect::<Result<_, _>>()
                .map_err(err)?;
            Ok((cols, pk))
        }
    }
}

async fn table_exists(db: &Db, table: &str) -> Result<bool, String> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1",
        Backend::Postgres => {
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    Ok(db
        .fetch_optional(sql, &[table.into()])
        .await
        .map_err(|e| e.to_string())?
        .is_some())
}

fn read_value(row: &Row, i: usize, kind: Kind) -> Result<Value, basalt_store::StoreError> {
    Ok(match kind {
        Kind::Text => row.opt_text(i)?.map_or(Value::Null, Value::String),
        Kind::Int => row.opt_int(i)?.map_or(Value::Null, Value::from),
        Kind::Float => row.opt_float(i)?.map_or(Value::Null, Value::from),
        // Written as 0 and 1, as SQLite keeps them, so an export reads the
        // same from either database.
        Kind::Bool => match row {
            Row::Sqlite(_) => row.opt_int(i)?.map_or(Value::Null, Value::from),
            Row::Postgres(_) => row
                .opt_bool(i)?
                .map_or(Value::Null, |b| Value::from(i64::from(b))),
        },
        Kind::Bytes => row
            .opt_bytes(i)?
            .map_or(Value::Null, |b| json!({"$bytes": B64.encode(b)})),
    })
}

/// A value as the target column wants it; `bytes` holds decoded bytes.
enum Bound {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    Null(Kind),
}

fn bind_value(value: &Value, kind: Kind, backend: Backend) -> Result<Bound, String> {
    let bad = || format!("a value {value} does not fit a {kind:?} column");
    Ok(match (value, kind) {
        (Value::Null, k) => Bound::Null(k),
        (Value::String(s), Kind::Text) => Bound::Text(s.clone()),
        (Value::Number(n), Kind::Int) => Bound::Int(n.as_i64().ok_or_else(bad)?),
        (Value::Bool(b), Kind::Int) => Bound::Int(i64::from(*b)),
        (Value::Number(n), Kind::Float) => Bound::Float(n.as_f64().ok_or_else(bad)?),
        (Value::Bool(b), Kind::Bool) if backend == Backend::Sqlite => Bound::Int(i64::from(*b)),
        (Value::Bool(b), Kind::Bool) => Bound::Bool(*b),
        (Value::Number(n), Kind::Bool) => Bound::Bool(n.as_i64().ok_or_else(bad)? != 0),
        (Value::Object(o), Kind::Bytes) => {
            let text = o.get("$bytes").and_then(Value::as_str).ok_or_else(bad)?;
            Bound::Bytes(B64.decode(text).map_err(|_| bad())?)
        }
        _ => return Err(bad()),
    })
}

fn param(b: &Bound) -> Param<'_> {
    match b {
        Bound::Text(s) => Param::Text(s),
        Bound::Int(v) => Param::Int(*v),
        Bound::Float(v) => Param::Float(*v),
        Bound::Bool(v) => Param::Bool(*v),
        Bound::Bytes(v) => Param::Bytes(v),
        Bound::Null(Kind::Text) => Param::NullText,
        Bound::Null(Kind::Int | Kind::Float) => Param::NullInt,
        Bound::Null(Kind::Bool) => Param::NullBool,
        Bound::Null(Kind::Bytes) => Param::NullBytes,
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Pages through `from` in the order of `key`, calling `each` with every
/// row: `select`'s `width` columns, then the key's. Keyset paging: each page starts after the
/// last key seen.
async fn page_through(
    tx: &mut Tx,
    select: &str,
    width: usize,
    from: &str,
    key: &[String],
    key_kinds: &[Kind],
    mut each: impl FnMut(&Row) -> Result<(), String>,
) -> Result<u64, String> {
    if key.is_empty() {
        // No primary key to page by: small tables; one read.
        let rows = tx
            .fetch_all(&format!("SELECT {select} FROM {from}"), &[])
            .await
            .map_err(|e| format!("reading {from}: {e}"))?;
        for row in &rows {
            each(row)?;
        }
        return Ok(rows.len() as u64);
    }
    let order = key.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ");
    let key_select = key.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ");
    let mut last: Option<Vec<Bound>> = None;
    let mut count = 0u64;
    loop {
        let (sql, params): (String, Vec<Param<'_>>) = match &last {
            None => (
                format!("SELECT {select}, {key_select} FROM {from} ORDER BY {order} LIMIT {PAGE}"),
                vec![],
            ),
            Some(values) => {
                let placeholders = (1..=values.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    format!(
                        "SELECT {select}, {key_select} FROM {from} WHERE ({key_select}) > ({placeholders}) ORDER BY {order} LIMIT {PAGE}"
                    ),
                    values.iter().map(param).collect(),
                )
            }
        };
        let rows = tx
            .fetch_all(&sql, &params)
            .await
            .map_err(|e| format!("reading {from}: {e}"))?;
        let n = rows.len();
        for row in &rows {
            each(row)?;
            count += 1;
        }
        let Some(tail) = rows.last() else { break };
        let mut values = Vec::new();
        for (j, kind) in key_kinds.iter().enumerate() {
            let v = read_value(tail, width + j, *kind).map_err(|e| e.to_string())?;
            values.push(bind_value(&v, *kind, tx.backend())?);
        }
        last = Some(values);
        if (n as i64) < PAGE {
            break;
        }
    }
    Ok(count)
}

fn line(out: &mut impl Write, value: &Value) -> Result<(), String> {
    serde_json::to_writer(&mut *out, value).map_err(|e| e.to_string())?;
    out.write_all(b"\n").map_err(|e| e.to_string())
}

fn create(path: &Path) -> Result<BufWriter<std::fs::File>, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(BufWriter::new(
        std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
    ))
}

/// Opens the database of `config` without starting a server.
pub async fn open(config: &Config) -> Result<Db, String> {
    let db = Db::connect(
        config.database_url.as_ref().map(|u| u.expose().as_str()),
        &config.data_dir,
        4,
    )
    .await
    .map_err(|e| format!("cannot open the database: {e}"))?;
    db.migrate()
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    Ok(db)
}

/// Writes the project of `db` (and the bytes in `files`) to the folder `to`.
pub async fn export(db: &Db, files: &dyn ObjectStore, to: &Path) -> Result<Manifest, String> {
    let started = Instant::now();
    if to.join(MANIFEST).exists() {
        return Err(format!(
            "{} already holds an export: give a new folder",
            to.display()
        ));
    }
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let mut tx = db.snapshot().await.map_err(|e| e.to_string())?;
    let mut tables = BTreeMap::new();
    for table in TABLES {
        let (cols, key) = columns(db, table).await?;
        if cols.is_empty() {
            continue;
        }
        let kinds: Vec<Kind> = cols.iter().map(|(_, k)| *k).collect();
        let key_kinds: Vec<Kind> = key
            .iter()
            .map(|k| {
                cols.iter()
                    .find(|(n, _)| n == k)
                    .map_or(Kind::Text, |(_, kind)| *kind)
            })
            .collect();
        let mut out = create(&to.join("tables").join(format!("{table}.ndjson")))?;
        line(
            &mut out,
            &json!({"columns": cols.iter().map(|(n, _)| n).collect::<Vec<_>>()}),
        )?;
        let select = cols.iter().map(|(n, _)| quote(n)).collect::<Vec<_>>().join(", ");
        let n = page_through(
            &mut tx,
            &select,
            cols.len(),
            &quote(table),
            &key,
            &key_kinds,
            |row| {
                let values = kinds
                    .iter()
                    .enumerate()
                    .map(|(i, k)| read_value(row, i, *k))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                line(&mut out, &Value::Array(values))
            },
        )
        .await?;
        out.flush().map_err(|e| e.to_string())?;
        tables.insert((*table).to_owned(), n);
    }
    // Each collection's documents, from the table its row names.
    let mut collections = BTreeMap::new();
    let rows = tx
        .fetch_all("SELECT name, tbl FROM collections ORDER BY name", &[])
        .await
        .map_err(|e| e.to_string())?;
    for r in rows {
        let (name, tbl) = (
            r.text(0).map_err(|e| e.to_string())?,
            r.text(1).map_err(|e| e.to_string())?,
        );
        let mut out = create(&to.join("collections").join(format!("{name}.ndjson")))?;
        let n = page_through(
            &mut tx,
            "version, created_at, updated_at, CAST(data AS TEXT)",
            4,
            &quote(&tbl),
            &["id".to_owned()],
            &[Kind::Text],
            |row| {
                let id = row.text(4).map_err(|e| e.to_string())?;
                let data: Value = serde_json::from_str(&row.text(3).map_err(|e| e.to_string())?)
                    .map_err(|e| format!("document {name}/{id}: {e}"))?;
                let v = json!([
                    id,
                    row.int(0).map_err(|e| e.to_string())?,
                    row.int(1).map_err(|e| e.to_string())?,
                    row.int(2).map_err(|e| e.to_string())?,
                    data
                ]);
                line(&mut out, &v)
            },
        )
        .await?;
        out.flush().map_err(|e| e.to_string())?;
        collections.insert(name, n);
    }
    let keys = tx
        .fetch_all("SELECT key, size FROM objects ORDER BY key", &[])
        .await
        .map_err(|e| e.to_string())?;
    drop(tx);
    let local = object_store::local::LocalFileSystem::new_with_prefix(to).map_err(|e| e.to_string())?;
    let (mut objects, mut object_bytes, mut missing) = (0, 0, Vec::new());
    for r in keys {
        let key = r.text(0).map_err(|e| e.to_string())?;
        if copy(
            files,
            &StorePath::from(key.as_str()),
            &local,
            &StorePath::from(format!("files/{key}")),
        )
        .await?
        {
            objects += 1;
            object_bytes += r.int(1).map_err(|e| e.to_string())?.max(0) as u64;
        } else {
            missing.push(key);
        }
    }
    let manifest = Manifest {
        format: 1,
        version: crate::app::VERSION.to_owned(),
        exported_at: basalt_core::Timestamp::now(),
        backend: db.backend().as_str().to_owned(),
        tables,
        collections,
        objects,
        object_bytes,
        missing,
        seconds: started.elapsed().as_secs_f64(),
    };
    std::fs::write(
        to.join(MANIFEST),
        serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    Ok(manifest)
}

/// Copies one object's bytes between stores; `false` if they were gone.
pub async fn copy(
    from: &dyn ObjectStore,
    key: &StorePath,
    to: &dyn ObjectStore,
    dest: &StorePath,
) -> Result<bool, String> {
    let got = match from.get(key).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(format!("reading {key}: {e}")),
    };
    let upload = to
        .put_multipart(dest)
        .await
        .map_err(|e| format!("writing {dest}: {e}"))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("reading {key}: {e}"))?;
        writer.wait_for_capacity(4).await.map_err(|e| e.to_string())?;
        writer.write(&chunk);
    }
    writer
        .finish()
        .await
        .map_err(|e| format!("writing {dest}: {e}"))?;
    Ok(true)
}

/// Whether the project of `db` holds anything an admin made.
async fn is_empty(db: &Db) -> Result<bool, String> {
    for table in [
        "admins",
        "users",
        "collections",
        "buckets",
        "functions",
        "webhooks",
        "service_keys",
    ] {
        let found = db
            .fetch_optional(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])
            .await
            .map_err(|e| e.to_string())?;
        if found.is_some() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn ndjson(path: &Path) -> Result<impl Iterator<Item = Result<Value, String>>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.display().to_string();
    Ok(std::io::BufReader::new(file)
        .lines()
        .enumerate()
        .map(move |(i, l)| {
            let l = l.map_err(|e| format!("{name}: {e}"))?;
            serde_json::from_str(&l).map_err(|e| format!("{name} line {}: {e}", i + 1))
        }))
}

/// Inserts the export at `from` into `db` and its bytes into `files`. A
/// project that is not empty is refused unless `merge`: then rows that
/// exist are kept as they are.
pub async fn import(db: &Db, files: &dyn ObjectStore, from: &Path, merge: bool) -> Result<Manifest, String> {
    let started = Instant::now();
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(from.join(MANIFEST)).map_err(|_| {
        format!(
            "{}: no manifest.json: not an export, or an unfinished one",
            from.display()
        )
    })?)
    .map_err(|e| format!("manifest.json: {e}"))?;
    if manifest.format != 1 {
        return Err(format!(
            "export format {} is not known to this version",
            manifest.format
        ));
    }
    if !merge && !is_empty(db).await? {
        return Err("the project is not empty: import into a new one, or give --merge to add to it".into());
    }
    if !merge {
        // Keys made when the empty project was opened give way to the project's own.
        for table in ["signing_keys", "server_secrets"] {
            db.execute(&format!("DELETE FROM {table}"), &[])
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let backend = db.backend();
    for table in TABLES {
        let path = from.join("tables").join(format!("{table}.ndjson"));
        if !path.exists() {
            continue;
        }
        let (target_cols, _) = columns(db, table).await?;
        let mut lines = ndjson(&path)?;
        let header = lines.next().ok_or_else(|| format!("{table}.ndjson is empty"))??;
        let names: Vec<String> = serde_json::from_value(header["columns"].clone())
            .map_err(|_| format!("{table}.ndjson: the first line must list the columns"))?;
        let kinds = names
            .iter()
            .map(|n| {
                target_cols
                    .iter()
                    .find(|(c, _)| c == n)
                    .map(|(_, k)| *k)
                    .ok_or_else(|| format!("{table}.{n} is not a column of this version"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let head = format!(
            "INSERT INTO {} ({}) VALUES ",
            quote(table),
            names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ")
        );
        let cells = vec!["?"; names.len()];
        insert_lines(db, &head, &cells, lines, |row| {
            let values = row.as_array().ok_or("a row is not an array")?;
            if values.len() != kinds.len() {
                return Err(format!(
                    "{table}: a row has {} values for {} columns",
                    values.len(),
                    kinds.len()
                ));
            }
            values
                .iter()
                .zip(&kinds)
                .map(|(v, k)| bind_value(v, *k, backend))
                .collect()
        })
        .await?;
    }
    // Each collection's table and indexes, then its documents.
    let rows = db
        .fetch_all("SELECT name, tbl, indexes FROM collections ORDER BY name", &[])
        .await
        .map_err(|e| e.to_string())?;
    for r in rows {
        let (name, tbl, indexes) = (
            r.text(0).map_err(|e| e.to_string())?,
            r.text(1).map_err(|e| e.to_string())?,
            r.text(2).map_err(|e| e.to_string())?,
        );
        // A new table gets its indexes after its documents: building them
        // once is faster than keeping them up to date row by row.
        let mut indexes_after = Vec::new();
        if !table_exists(db, &tbl).await? {
            let mut ddl = basalt_documents::storage_ddl(backend, &tbl, &indexes)
                .map_err(|e| e.message().to_owned())?
                .into_iter();
            let table_ddl = ddl.next().unwrap_or_default();
            db.execute(&table_ddl, &[])
                .await
                .map_err(|e| format!("making collection {name}: {e}"))?;
            indexes_after.extend(ddl);
        }
        let path = from.join("collections").join(format!("{name}.ndjson"));
        let documents = if path.exists() { Some(ndjson(&path)?) } else { None };
        let data = if backend == Backend::Postgres {
            "CAST(? AS JSONB)"
        } else {
            "?"
        };
        let head = format!(
            "INSERT INTO {} (id, version, created_at, updated_at, data) VALUES ",
            quote(&tbl)
        );
        let cells = ["?", "?", "?", "?", data];
        insert_lines(db, &head, &cells, documents.into_iter().flatten(), |row| {
            let v = row
                .as_array()
                .filter(|v| v.len() == 5)
                .ok_or("a document is not [id, version, created_at, updated_at, data]")?;
            let int = |x: &Value| {
                x.as_i64()
                    .map(Bound::Int)
                    .ok_or_else(|| "a document's version or time is not an integer".to_owned())
            };
            Ok(vec![
                Bound::Text(v[0].as_str().ok_or("a document id is not a string")?.to_owned()),
                int(&v[1])?,
                int(&v[2])?,
                int(&v[3])?,
                Bound::Text(serde_json::to_string(&v[4]).map_err(|e| e.to_string())?),
            ])
        })
        .await?;
        for ddl in indexes_after {
            db.execute(&ddl, &[])
                .await
                .map_err(|e| format!("indexing collection {name}: {e}"))?;
        }
    }
    let local = object_store::local::LocalFileSystem::new_with_prefix(from).map_err(|e| e.to_string())?;
    let keys = db
        .fetch_all("SELECT key FROM objects ORDER BY key", &[])
        .await
        .map_err(|e| e.to_string())?;
    let mut objects = 0;
    for r in keys {
        let key = r.text(0).map_err(|e| e.to_string())?;
        if manifest.missing.contains(&key) {
            continue;
        }
        let dest = StorePath::from(key.as_str());
        if files.head(&dest).await.is_ok() {
            continue;
        }
        if copy(&local, &StorePath::from(format!("files/{key}")), files, &dest).await? {
            objects += 1;
        }
    }
    Ok(Manifest {
        objects,
        seconds: started.elapsed().as_secs_f64(),
        ..manifest
    })
}

/// Inserts one row per line: many rows to a statement (`head` then one
/// `(cells…)` per row, each `?` a parameter), 500 to a transaction.
async fn insert_lines(
    db: &Db,
    head: &str,
    cells: &[&str],
    lines: impl Iterator<Item = Result<Value, String>>,
    to_row: impl Fn(&Value) -> Result<Vec<Bound>, String>,
) -> Result<(), String> {
    // Well below SQLite's 32,766 parameters and PostgreSQL's 65,535.
    let per_statement = (20_000 / cells.len().max(1)).clamp(1, 500);
    let statement = |rows: usize| {
        let mut sql = head.to_owned();
        let mut n = 0;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, cell) in cells.iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&cell.replace('?', &format!("${n}")));
            }
            sql.push(')');
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        sql
    };
    let full = statement(per_statement);
    let flush = |batch: Vec<Vec<Bound>>| {
        let full = &full;
        let statement = &statement;
        async move {
            let mut tx = db.begin().await.map_err(|e| e.to_string())?;
            for chunk in batch.chunks(per_statement) {
                let sql = if chunk.len() == per_statement {
                    full.clone()
                } else {
                    statement(chunk.len())
                };
                let params: Vec<Param<'_>> = chunk.iter().flatten().map(param).collect();
                tx.execute(&sql, &params).await.map_err(|e| e.to_string())?;
            }
            tx.commit().await.map_err(|e| e.to_string())
        }
    };
    let mut batch: Vec<Vec<Bound>> = Vec::new();
    for l in lines {
        batch.push(to_row(&l?)?);
        if batch.len() == 500 {
            flush(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        flush(batch).await?;
    }
    Ok(())
}

/// The file store of `config`.
pub fn files_of(config: &Config) -> Result<Arc<dyn ObjectStore>, String> {
    let backing = crate::app::backing(config).map_err(|e| e.0)?;
    Ok(basalt_files::open_store(&backing)
        .map_err(|e| e.message().to_owned())?
        .0)
}

/// A line for the command line.
pub fn summary(m: &Manifest) -> String {
    let rows: u64 = m.tables.values().sum();
    let docs: u64 = m.collections.values().sum();
    format!(
        "{rows} rows in {} tables, {docs} documents in {} collections, {} objects ({:.1} MiB); {:.1} s",
        m.tables.len(),
        m.collections.len(),
        m.objects,
        m.object_bytes as f64 / 1048576.0,
        m.seconds
    )
}

/// A scratch folder for `migrate-db`.
pub fn scratch(config: &Config) -> Result<tempfile::TempDir, String> {
    let dir: PathBuf = config.data_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".migrate-")
        .tempdir_in(&dir)
        .map_err(|e| e.to_string())
}
