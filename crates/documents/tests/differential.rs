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

/// A database holding the corpus in table `docs`, on either backend.
enum Db {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Db {
    async fn sqlite() -> Db {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query(
            "CREATE TABLE docs (id TEXT PRIMARY KEY, created_at INTEGER, updated_at INTEGER, data TEXT)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let mut db = Db::Sqlite(conn);
        db.load("INSERT INTO docs VALUES ($1, $2, $3, $4)").await;
        db
    }

    /// `None` when no PostgreSQL is configured (a failure if it is required).
    async fn postgres() -> Option<Db> {
        let url = match std::env::var("BASALT_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                assert!(
                    std::env::var("BASALT_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "BASALT_TEST_REQUIRE_POSTGRES=1 but BASALT_TEST_POSTGRES_URL is not set"
                );
                return None;
            }
        };
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        // A temporary table: private to this connection, gone when it closes.
        sqlx::query(
            "CREATE TEMP TABLE docs (id TEXT PRIMARY KEY, created_at BIGINT, updated_at BIGINT, data JSONB)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let mut db = Db::Postgres(conn);
        db.load("INSERT INTO docs VALUES ($1, $2, $3, $4::jsonb)").await;
        Some(db)
    }

    fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    async fn load(&mut self, insert: &str) {
        for d in corpus() {
            let data = Value::Object(d.data).to_string();
            macro_rules! run {
                ($conn:expr) => {
                    sqlx::query(insert)
                        .bind(&d.id)
                        .bind(d.created_at)
                        .bind(d.updated_at)
                        .bind(&data)
                        .execute($conn)
                        .await
                        .map(|_| ())
                };
            }
            match self {
                Db::Sqlite(c) => run!(c),
                Db::Postgres(c) => run!(c),
            }
            .unwrap();
        }
    }

    /// The ids a query selects, in its order.
    async fn ids(&mut self, sql: &str, params: &[Bound]) -> Vec<String> {
        macro_rules! run {
            ($conn:expr, $db:ty) => {{
                let mut q = sqlx::query_scalar::<$db, String>(sql);
                for p in params {
                    q = match p {
                        Bound::Text(s) => q.bind(s.clone()),
                        Bound::Float(x) => q.bind(*x),
                        Bound::Int(i) => q.bind(*i),
                        Bound::Bool(b) => q.bind(*b),
                    };
                }
                q.fetch_all($conn).await
            }};
        }
        let result = match self {
            Db::Sqlite(c) => run!(c, sqlx::Sqlite),
            Db::Postgres(c) => run!(c, sqlx::Postgres),
        };
        result.unwrap_or_else(|e| panic!("{sql}\nparams {params:?}\n{e}"))
    }
}

/// Every generated filter selects what the evaluator selects.
async fn check_filters(db: &mut Db) {
    let docs = corpus();
    let order = match db.dialect() {
        Dialect::Sqlite => "id",
        Dialect::Postgres => "id COLLATE \"C\"",
    };
    let mut selective = 0;
    for (json, f) in filters() {
        let c = compile(&f, db.dialect(), 0);
        let sql = format!("SELECT id FROM docs WHERE {} ORDER BY {order}", c.sql);
        let got = db.ids(&sql, &c.params).await;
        let want = expected(&docs, &f);
        selective += usize::from(!want.is_empty() && want.len() < docs.len());
        assert_eq!(got, want, "filter {json}\nSQL {sql}\nparams {:?}", c.params);
    }
    assert!(
        selective > 200,
        "the generated filters select something interesting: {selective}"
    );
}

#[tokio::test]
async fn sqlite_matches_the_evaluator() {
    check_filters(&mut Db::sqlite().await).await;
}

#[tokio::test]
async fn postgres_matches_the_evaluator() {
    if let Some(mut db) = Db::postgres().await {
        check_filters(&mut db).await;
    }
}

mod ordering {
    use super::*;
    use basalt_documents::order::{Key, OrderBy};

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

    fn view(d: &Doc) -> DocumentView<'_> {
        DocumentView {
            id: &d.id,
            created_at: d.created_at,
            updated_at: d.updated_at,
            data: &d.data,
        }
    }

    fn memory_order(docs: &[Doc], f: &Filter, o: &OrderBy) -> Vec<String> {
        let mut rows: Vec<(Vec<Key>, &str)> = docs
            .iter()
            .filter(|d| f.matches(&view(d)))
            .map(|d| (o.keys(&view(d)), d.id.as_str()))
            .collect();
        rows.sort_by(|a, b| o.compare(a, b));
        rows.into_iter().map(|(_, id)| id.to_owned()).collect()
    }

    /// Each order, paged 7 at a time through opaque cursors, gives the in-memory order.
    async fn check_orders(db: &mut Db) {
        let docs = corpus();
        let filters: Vec<(Value, Filter)> = filters()
            .into_iter()
            .take(15)
            .chain([(json!([]), Filter::parse(&json!([])).unwrap())])
            .collect();
        for o in orders() {
            for (fjson, f) in &filters {
                let mut got = Vec::new();
                let mut cursor: Option<(Vec<Key>, String)> = None;
                loop {
                    let c = compile(f, db.dialect(), 0);
                    let os = o.sql(db.dialect(), f, cursor.as_ref(), c.params.len());
                    let after = os.after.clone().map(|a| format!(" AND {a}")).unwrap_or_default();
                    let sql = format!(
                        "SELECT id FROM docs WHERE {}{after} ORDER BY {} LIMIT 7",
                        c.sql, os.order_by
                    );
                    let params: Vec<Bound> = c.params.iter().chain(&os.params).cloned().collect();
                    let page = db.ids(&sql, &params).await;
                    let Some(last_id) = page.last() else { break };
                    let last = docs.iter().find(|d| d.id == *last_id).unwrap();
                    // Round-trip the cursor through its opaque form.
                    let opaque = o.cursor(&o.keys(&view(last)), &last.id);
                    cursor = Some(o.decode_cursor(&opaque).unwrap());
                    got.extend(page);
                    assert!(got.len() <= docs.len(), "paging does not end: {o:?}");
                }
                assert_eq!(
                    got,
                    memory_order(&docs, f, &o),
                    "{:?} filter {fjson} order {o:?}",
                    db.dialect()
                );
            }
        }
    }

    #[tokio::test]
    async fn sqlite_orders_and_pages_like_memory() {
        check_orders(&mut Db::sqlite().await).await;
    }

    #[tokio::test]
    async fn postgres_orders_and_pages_like_memory() {
        if let Some(mut db) = Db::postgres().await {
            check_orders(&mut db).await;
        }
    }
}
