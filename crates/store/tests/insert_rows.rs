//! `Db::insert_rows`: many rows through bound statements, on SQLite and on
//! PostgreSQL (when `BASALT_TEST_POSTGRES_URL` is set; required in CI).

use basalt_store::{Db, Param};

async fn check(db: &Db, table: &str) {
    db.execute(&format!("DROP TABLE IF EXISTS {table}"), &[])
        .await
        .unwrap();
    db.execute(
        &format!("CREATE TABLE {table} (id TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT)"),
        &[],
    )
    .await
    .unwrap();
    let insert = format!("INSERT INTO {table} (id, n, note)");
    let mut total = 0;
    // Sizes around the 64-row statement and its halves, and none at all.
    for rows in [0usize, 1, 2, 3, 63, 64, 65, 127, 200] {
        let ids: Vec<String> = (0..rows).map(|i| format!("{rows}-{i:03}")).collect();
        let notes: Vec<String> = (0..rows).map(|i| format!("it's \"{i}\"; DROP TABLE x")).collect();
        let mut params = Vec::new();
        for i in 0..rows {
            params.push(Param::Text(&ids[i]));
            params.push(Param::Int(i as i64));
            params.push(if i % 2 == 0 {
                Param::Text(&notes[i])
            } else {
                Param::NullText
            });
        }
        let n = db.insert_rows(&insert, "", 3, &params).await.unwrap();
        assert_eq!(n, rows as u64);
        total += rows;
        // Again, with the conflict clause: nothing new, no error.
        let again = db
            .insert_rows(&insert, "ON CONFLICT (id) DO NOTHING", 3, &params)
            .await
            .unwrap();
        assert_eq!(again, 0);
    }
    let count = db
        .fetch_optional(&format!("SELECT COUNT(*), SUM(n) FROM {table}"), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count.int(0).unwrap(), total as i64);
    let row = db
        .fetch_optional(&format!("SELECT n, note FROM {table} WHERE id = '200-198'"), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.int(0).unwrap(), 198);
    assert_eq!(
        row.opt_text(1).unwrap().as_deref(),
        Some("it's \"198\"; DROP TABLE x")
    );
    let odd = db
        .fetch_optional(&format!("SELECT note FROM {table} WHERE id = '65-063'"), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(odd.opt_text(0).unwrap(), None);
    // A conflict without the clause fails the whole call: none of its rows stay.
    // 70 rows (a transaction of two statements) whose last one clashes.
    let fresh: Vec<String> = (0..69).map(|i| format!("fresh-{i}")).collect();
    let clash: Vec<Param> = (0..70)
        .flat_map(|i| {
            let id = if i == 69 { "200-000" } else { fresh[i].as_str() };
            [Param::Text(id), Param::Int(0), Param::NullText]
        })
        .collect();
    assert!(db.insert_rows(&insert, "", 3, &clash).await.is_err());
    let after = db
        .fetch_optional(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.int(0).unwrap(),
        total as i64,
        "the failed call left nothing"
    );
    db.execute(&format!("DROP TABLE {table}"), &[]).await.unwrap();
}

#[tokio::test]
async fn inserts_rows_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(None, dir.path(), 2).await.unwrap();
    check(&db, "rows_test").await;
}

#[tokio::test]
async fn inserts_rows_on_postgres() {
    let Ok(url) = std::env::var("BASALT_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("BASALT_TEST_REQUIRE_POSTGRES").is_err(),
            "BASALT_TEST_REQUIRE_POSTGRES is set but BASALT_TEST_POSTGRES_URL is not"
        );
        return;
    };
    let db = Db::connect(Some(&url), std::path::Path::new(""), 2)
        .await
        .unwrap();
    check(&db, &format!("rows_test_{}", std::process::id())).await;
}
