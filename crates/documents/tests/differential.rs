//! One semantics, three implementations: for a generated corpus and
//! hundreds of generated filters, SQLite, PostgreSQL and the in-memory
//! evaluator select exactly the same documents.

use basalt_documents::filter::{DocumentView, Filter};
use basalt_documents::sql::{Bound, Dialect, compile};
use serde_json::{Map, Value, json};
use sqlx::Connection;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const WORDS: [&str; 8] = ["alpha", "Beta", "gamma", "ålborg", "Ωmega", "zeta", "", "al"];

fn scalar(r: &mut Rng) -> Value {
    match r.below(7) {
        0 => json!(r.below(20) as i64 - 5),
        1 => json!((r.below(200) as f64) / 8.0 - 3.0),
        2 | 3 => json!(r.pick(&WORDS)),
        4 => json!(r.below(2) == 0),
        5 => Value::Null,
        _ => json!(r.below(5)),
    }
}

fn document(r: &mut Rng) -> Map<String, Value> {
    let mut d = Map::new();
    for key in ["a", "b", "c"] {
        if r.below(5) > 0 {
            d.insert(key.into(), scalar(r));
        }
    }
    if r.below(3) > 0 {
        let n = r.below(4);
        d.insert("tags".into(), Value::Array((0..n).map(|_| scalar(r)).collect()));
    }
    if r.below(3) > 0 {
        let mut inner = Map::new();
        if r.below(4) > 0 {
            inner.insert("city".into(), json!(r.pick(&WORDS)));
        }
        if r.below(2) > 0 {
            inner.insert("n".into(), scalar(r));
        }
        d.insert("addr".into(), Value::Object(inner));
    }
    if r.below(6) == 0 {
        // The wrong shape for some filters: a scalar where others have an object.
        d.insert("addr".into(), scalar(r));
    }
    d
}

fn condition(r: &mut Rng) -> Value {
    let paths = [
        "a",
        "b",
        "c",
        "tags",
        "addr.city",
        "addr.n",
        "addr",
        "missing",
        "id",
        "created_at",
    ];
    let path = *r.pick(&paths);
    if path == "created_at" {
        let op = *r.pick(&["==", "!=", "<", "<=", ">", ">="]);
        let t = basalt_core::Timestamp::from_millis(1_000 * r.below(60) as i64).to_string();
        return json!([path, op, t]);
    }
    if path == "id" {
        let op = *r.pick(&["==", "!=", "<", ">=", "prefix", "in", "not_in"]);
        let id = format!("d{:03}", r.below(120));
        return match op {
            "prefix" => json!([path, op, &id[..2]]),
            "in" | "not_in" => json!([path, op, [id, "d005"]]),
            _ => json!([path, op, id]),
        };
    }
    let op = *r.pick(&[
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "not_in",
        "array_contains",
        "array_contains_any",
        "exists",
        "prefix",
    ]);
    let ordered = |r: &mut Rng| loop {
        let v = scalar(r);
        if v.is_number() || v.is_string() {
            return v;
        }
    };
    match op {
        "<" | "<=" | ">" | ">=" => json!([path, op, ordered(r)]),
        "in" | "not_in" | "array_contains_any" => {
            let n = 1 + r.below(3);
            json!([path, op, (0..n).map(|_| scalar(r)).collect::<Vec<_>>()])
        }
        "exists" => json!([path, op, r.below(2) == 0]),
        "prefix" => json!([path, op, *r.pick(&["a", "al", "Ω", "", "z"])]),
        _ => json!([path, op, scalar(r)]),
    }
}

fn filter(r: &mut Rng, depth: usize) -> Value {
    match (depth, r.below(5)) {
        (d, 0) if d < 3 => json!({"or": (0..1 + r.below(3)).map(|_| filter(r, d + 1)).collect::<Vec<_>>()}),
        (d, 1) if d < 3 => json!({"and": (0..1 + r.below(3)).map(|_| filter(r, d + 1)).collect::<Vec<_>>()}),
        (d, 2) if d < 3 => Value::Array((0..1 + r.below(3)).map(|_| filter(r, d + 1)).collect()),
        _ => condition(r),
    }
}

struct Doc {
    id: String,
    created_at: i64,
    updated_at: i64,
    data: Map<String, Value>,
}

fn corpus() -> Vec<Doc> {
    let mut r = Rng(0x5eed_1234_abcd_ef01);
    (0..120)
        .map(|i| Doc {
            id: format!("d{i:03}"),
            created_at: 1_000 * (i as i64 % 60),
            updated_at: 2_000 * i as i64,
            data: document(&mut r),
        })
        .collect()
}

fn filters() -> Vec<(Value, Filter)> {
    let mut r = Rng(0x0ddb_a11c_afe0_1234);
    let mut out = Vec::new();
    while out.len() < 600 {
        let f = filter(&mut r, 0);
        if let Ok(parsed) = Filter::parse(&f) {
            out.push((f, parsed));
        }
    }
    out
}

fn expected(docs: &[Doc], f: &Filter) -> Vec<String> {
    docs.iter()
        .filter(|d| {
            f.matches(&DocumentView {
                id: &d.id,
                created_at: d.created_at,
                updated_at: d.updated_at,
                data: &d.data,
            })
        })
        .map(|d| d.id.clone())
        .collect()
}

#[tokio::test]
async fn sqlite_matches_the_evaluator() {
    let docs = corpus();
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
    sqlx::query("CREATE TABLE docs (id TEXT PRIMARY KEY, created_at INTEGER, updated_at INTEGER, data TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    for d in &docs {
        sqlx::query("INSERT INTO docs VALUES ($1, $2, $3, $4)")
            .bind(&d.id)
            .bind(d.created_at)
            .bind(d.updated_at)
            .bind(Value::Object(d.data.clone()).to_string())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let mut nonempty = 0;
    for (json, f) in filters() {
        let c = compile(&f, Dialect::Sqlite, 0);
        let sql = format!("SELECT id FROM docs WHERE {} ORDER BY id", c.sql);
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for p in &c.params {
            q = match p {
                Bound::Text(s) => q.bind(s.clone()),
                Bound::Float(x) => q.bind(*x),
                Bound::Int(i) => q.bind(*i),
            };
        }
        let got = q
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{json}\n{sql}\n{e}"));
        let want = expected(&docs, &f);
        nonempty += usize::from(!want.is_empty() && want.len() < docs.len());
        assert_eq!(got, want, "filter {json}\nSQL {sql}\nparams {:?}", c.params);
    }
    assert!(
        nonempty > 200,
        "the generated filters select something interesting: {nonempty}"
    );
}

#[tokio::test]
async fn postgres_matches_the_evaluator() {
    let url = match std::env::var("BASALT_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(
                std::env::var("BASALT_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "BASALT_TEST_REQUIRE_POSTGRES=1 but BASALT_TEST_POSTGRES_URL is not set"
            );
            return;
        }
    };
    let docs = corpus();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    // A temporary table: private to this connection, gone when it closes.
    sqlx::query(
        "CREATE TEMP TABLE docs (id TEXT PRIMARY KEY, created_at BIGINT, updated_at BIGINT, data JSONB)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    for d in &docs {
        sqlx::query("INSERT INTO docs VALUES ($1, $2, $3, $4::jsonb)")
            .bind(&d.id)
            .bind(d.created_at)
            .bind(d.updated_at)
            .bind(Value::Object(d.data.clone()).to_string())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for (json, f) in filters() {
        let c = compile(&f, Dialect::Postgres, 0);
        let sql = format!("SELECT id FROM docs WHERE {} ORDER BY id COLLATE \"C\"", c.sql);
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for p in &c.params {
            q = match p {
                Bound::Text(s) => q.bind(s.clone()),
                Bound::Float(x) => q.bind(*x),
                Bound::Int(i) => q.bind(*i),
            };
        }
        let got = q
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{json}\n{sql}\n{e}"));
        assert_eq!(
            got,
            expected(&docs, &f),
            "filter {json}\nSQL {sql}\nparams {:?}",
            c.params
        );
    }
}

mod ordering {
    use super::*;
    use basalt_documents::order::OrderBy;

    fn orders() -> Vec<OrderBy> {
        let mut r = Rng(0xfeed_beef_0000_0001);
        let paths = [
            "a",
            "b",
            "c",
            "addr.city",
            "addr.n",
            "tags",
            "addr",
            "missing",
            "id",
            "created_at",
            "updated_at",
        ];
        let mut out = Vec::new();
        while out.len() < 60 {
            let n = 1 + r.below(2);
            let spec: Vec<Value> = (0..n)
                .map(|_| json!([*r.pick(&paths), *r.pick(&["asc", "desc"])]))
                .collect();
            out.push(OrderBy::parse(Some(&Value::Array(spec))).unwrap());
        }
        out.push(OrderBy::parse(None).unwrap());
        out
    }

    fn memory_order(docs: &[Doc], f: &Filter, o: &OrderBy) -> Vec<String> {
        let mut rows: Vec<(Vec<basalt_documents::order::Key>, &str)> = docs
            .iter()
            .filter_map(|d| {
                let view = DocumentView {
                    id: &d.id,
                    created_at: d.created_at,
                    updated_at: d.updated_at,
                    data: &d.data,
                };
                f.matches(&view).then(|| (o.keys(&view), d.id.as_str()))
            })
            .collect();
        rows.sort_by(|a, b| o.compare(a, b));
        rows.into_iter().map(|(_, id)| id.to_owned()).collect()
    }

    fn view(d: &Doc) -> DocumentView<'_> {
        DocumentView {
            id: &d.id,
            created_at: d.created_at,
            updated_at: d.updated_at,
            data: &d.data,
        }
    }

    async fn check<DB>(conn: &mut DB::Connection, dialect: Dialect)
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
        for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'r> String: sqlx::Decode<'r, DB>,
        usize: sqlx::ColumnIndex<DB::Row>,
    {
        let docs = corpus();
        let filters: Vec<(Value, Filter)> = filters()
            .into_iter()
            .take(15)
            .chain([(json!([]), Filter::parse(&json!([])).unwrap())])
            .collect();
        for o in orders() {
            for (fjson, f) in &filters {
                let want = memory_order(&docs, f, &o);
                // Page through with cursors, 7 at a time.
                let mut got = Vec::new();
                let mut cursor: Option<(Vec<basalt_documents::order::Key>, String)> = None;
                loop {
                    let c = compile(f, dialect, 0);
                    let os = o.sql(dialect, cursor.as_ref(), c.params.len());
                    let after = os.after.clone().map(|a| format!(" AND {a}")).unwrap_or_default();
                    let sql = format!(
                        "SELECT id FROM docs WHERE {}{after} ORDER BY {} LIMIT 7",
                        c.sql, os.order_by
                    );
                    let mut q = sqlx::query_scalar::<DB, String>(&sql);
                    for p in c.params.iter().chain(&os.params) {
                        q = match p {
                            Bound::Text(s) => q.bind(s.clone()),
                            Bound::Float(x) => q.bind(*x),
                            Bound::Int(i) => q.bind(*i),
                        };
                    }
                    let page = q
                        .fetch_all(&mut *conn)
                        .await
                        .unwrap_or_else(|e| panic!("{fjson} {o:?}\n{sql}\n{e}"));
                    if page.is_empty() {
                        break;
                    }
                    let last = docs.iter().find(|d| d.id == *page.last().unwrap()).unwrap();
                    let keys = o.keys(&view(last));
                    // Round-trip the cursor through its opaque form.
                    let opaque = o.cursor(&keys, &last.id);
                    cursor = Some(o.decode_cursor(&opaque).unwrap());
                    got.extend(page);
                    assert!(got.len() <= docs.len(), "paging does not end: {o:?}");
                }
                assert_eq!(got, want, "{dialect:?} filter {fjson} order {o:?}");
            }
        }
    }

    #[tokio::test]
    async fn sqlite_orders_and_pages_like_memory() {
        let docs = corpus();
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query(
            "CREATE TABLE docs (id TEXT PRIMARY KEY, created_at INTEGER, updated_at INTEGER, data TEXT)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        for d in &docs {
            sqlx::query("INSERT INTO docs VALUES ($1, $2, $3, $4)")
                .bind(&d.id)
                .bind(d.created_at)
                .bind(d.updated_at)
                .bind(Value::Object(d.data.clone()).to_string())
                .execute(&mut conn)
                .await
                .unwrap();
        }
        check::<sqlx::Sqlite>(&mut conn, Dialect::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_orders_and_pages_like_memory() {
        let Ok(url) = std::env::var("BASALT_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("BASALT_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PostgreSQL required"
            );
            return;
        };
        let docs = corpus();
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(
            "CREATE TEMP TABLE docs (id TEXT PRIMARY KEY, created_at BIGINT, updated_at BIGINT, data JSONB)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        for d in &docs {
            sqlx::query("INSERT INTO docs VALUES ($1, $2, $3, $4::jsonb)")
                .bind(&d.id)
                .bind(d.created_at)
                .bind(d.updated_at)
                .bind(Value::Object(d.data.clone()).to_string())
                .execute(&mut conn)
                .await
                .unwrap();
        }
        check::<sqlx::Postgres>(&mut conn, Dialect::Postgres).await;
    }
}
