//! What sealing secrets costs: sealing and opening one value (a 32-byte key,
//! a 2 KiB mail), and bringing a database's secrets to a new master key at
//! start (10,000 sealed values, as many MFA users), on SQLite and, with
//! BASALT_BENCH_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres),
//! on a fresh PostgreSQL database.
//! Run: `cargo bench -p basalt-store --bench vault`

use std::time::{Duration, Instant};

use basalt_store::vault::{MasterKey, Vault, reseal};
use basalt_store::{Db, Param};

const ROWS: usize = 10_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median nanoseconds per call of `f` over 7 rounds of `n` calls.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let rounds = (0..7)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..n {
                f();
            }
            started.elapsed()
        })
        .collect();
    median(rounds).as_nanos() as f64 / f64::from(n)
}

fn key(byte: u8) -> MasterKey {
    MasterKey::from_bytes(&[byte; 32])
}

async fn restarts(label: &str, db: Db) {
    for i in 0..ROWS {
        db.execute(
            "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, 0)",
            &[format!("bench.{i}").as_str().into(), Param::Bytes(&[7u8; 32])],
        )
        .await
        .unwrap();
    }
    let steps: [(&str, Option<u8>, Vec<u8>); 4] = [
        ("seal 10,000 clear values", Some(1), vec![]),
        ("start again, same key (nothing to do)", Some(1), vec![]),
        ("rotate: seal again under a new key", Some(2), vec![1]),
        ("open them all back to the clear", None, vec![2]),
    ];
    for (what, current, previous) in steps {
        let db = db.clone().with_vault(Vault::new(
            current.map(key),
            previous.into_iter().map(key).collect(),
        ));
        let started = Instant::now();
        let done = reseal(&db).await.unwrap();
        println!(
            "{label:<10} {what:<40} {:>9.1} ms  ({} values rewritten)",
            started.elapsed().as_secs_f64() * 1e3,
            done.sealed
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let vault = Vault::new(Some(key(1)), vec![]);
    let small = [9u8; 32];
    let mail = vec![b'x'; 2048];
    let sealed_small = vault.seal("users.mfa_secret", &small);
    let sealed_mail = vault.seal("outbox.body", &mail);
    println!("one value (median of 7 rounds):");
    println!(
        "  seal 32 B  {:>7.0} ns   open 32 B  {:>7.0} ns",
        per_call(100_000, || {
            std::hint::black_box(vault.seal("users.mfa_secret", &small));
        }),
        per_call(100_000, || {
            std::hint::black_box(vault.open("users.mfa_secret", &sealed_small).unwrap());
        })
    );
    println!(
        "  seal 2 KiB {:>7.0} ns   open 2 KiB {:>7.0} ns",
        per_call(20_000, || {
            std::hint::black_box(vault.seal("outbox.body", &mail));
        }),
        per_call(20_000, || {
            std::hint::black_box(vault.open("outbox.body", &sealed_mail).unwrap());
        })
    );
    println!("start-up, {ROWS} secrets:");
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(None, dir.path(), 2).await.unwrap();
    db.migrate().await.unwrap();
    restarts("sqlite", db).await;
    if let Ok(url) = std::env::var("BASALT_BENCH_POSTGRES_URL") {
        use sqlx::Connection;
        let name = format!("basalt_bench_{}", basalt_core::secret::random_hex(6));
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
        let db = Db::connect(Some(&format!("{base}/{name}")), dir.path(), 4)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        restarts("postgres", db.clone()).await;
        db.close().await;
        sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
