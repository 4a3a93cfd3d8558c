//! The SQLite handle: pragmas, the read-only pool, migrations.

use std::time::Duration;

use basalt_store::{Backend, Db, MIGRATIONS, Param, Pools};

async fn open(dir: &std::path::Path) -> Db {
    let db = Db::connect(None, dir, 4).await.expect("open");
    db.migrate().await.expect("migrate");
    db
}

#[tokio::test]
async fn wal_normal_sync_and_a_read_only_pool() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    assert_eq!(db.backend(), Backend::Sqlite);
    let Pools::Sqlite { read, write } = db.pools() else {
        panic!("sqlite")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(read)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(write)
        .await
        .unwrap();
    assert_eq!(sync, 1, "synchronous=NORMAL");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(write)
        .await
        .unwrap();
    assert_eq!(busy, 5000);
    assert_eq!(write.options().get_max_connections(), 1, "one writer");
    // Readers cannot write.
    let err = sqlx::query(
        "INSERT INTO service_keys (id, name, secret_hash, created_at) VALUES ('a', 'b', x'00', 0)",
    )
    .execute(read)
    .await;
    assert!(err.is_err());
    // The portable API writes through the writer and reads what it wrote.
    db.execute(
        "INSERT INTO service_keys (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)",
        &[
            Param::Text("k1"),
            Param::Text("name"),
            Param::Bytes(&[1, 2]),
            Param::Int(5),
        ],
    )
    .await
    .unwrap();
    let row = db
        .fetch_optional(
            "SELECT name, secret_hash, last_used_at FROM service_keys WHERE id = $1",
            &["k1".into()],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.text(0).unwrap(), "name");
    assert_eq!(row.bytes(1).unwrap(), vec![1, 2]);
    assert_eq!(row.opt_int(2).unwrap(), None);
    db.ping(Duration::from_secs(1)).await.unwrap();
    db.close().await;
}

#[tokio::test]
async fn migrations_run_once_and_refuse_edits() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    assert_eq!(db.migrate().await.unwrap(), 0, "nothing left to apply");
    let rows = db
        .fetch_all("SELECT version FROM basalt_migrations ORDER BY version", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), MIGRATIONS.len());
    db.execute(
        "UPDATE basalt_migrations SET checksum = 'edited' WHERE version = 1",
        &[],
    )
    .await
    .unwrap();
    let err = db.migrate().await.unwrap_err().to_string();
    assert!(err.contains("changed after it was applied"), "{err}");
    db.close().await;
}

#[tokio::test]
async fn unique_violations_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let insert = "INSERT INTO admins (id, email, password_hash, created_at, updated_at) VALUES ($1, 'a@b.c', 'h', 0, 0)";
    db.execute(insert, &["1".into()]).await.unwrap();
    let err = db.execute(insert, &["2".into()]).await.unwrap_err();
    assert!(matches!(err, basalt_store::StoreError::UniqueViolation), "{err}");
    let core: basalt_core::Error = err.into();
    assert_eq!(core.code(), basalt_core::Code::AlreadyExists);
    // A bad statement is internal and says nothing about SQL to a client.
    let err: basalt_core::Error = db.execute("SELEC nonsense", &[]).await.unwrap_err().into();
    assert_eq!(err.code(), basalt_core::Code::Internal);
    assert!(!err.body().to_string().to_lowercase().contains("selec"));
    db.close().await;
}

#[tokio::test]
async fn sqlite_urls_must_name_a_file() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["sqlite::memory:", "sqlite:", "sqlite:x.db?mode=ro", "mysql://x"] {
        assert!(Db::connect(Some(url), dir.path(), 1).await.is_err(), "{url}");
    }
    let file = dir.path().join("elsewhere.db");
    let db = Db::connect(Some(&format!("sqlite:{}", file.display())), dir.path(), 1)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    assert!(file.exists());
    db.close().await;
}

#[tokio::test]
async fn a_new_data_directory_is_readable_by_the_server_alone() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data").join("nested");
    let db = open(&dir).await;
    for d in [parent.path().join("data"), dir.clone()] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} has mode {mode:o}", d.display());
    }
    db.close().await;
}
