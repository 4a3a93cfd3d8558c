//! `basalt backup` of a running server in a write storm (creates and
//! uploads from four clients), then `basalt restore` into a new data
//! directory and a server started on it: every document and object
//! acknowledged before the backup began is there, byte for byte, and the
//! database passes `integrity_check`. The same to an S3 prefix (moto). And
//! the refusals: a place that already holds a backup, a data directory that
//! already holds a database, a folder without a manifest, a damaged copy,
//! and PostgreSQL (which `pg_dump` backs up).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{Server, basalt, ok, refused};
use common::s3::S3Server;
use serde_json::{Value, json};

const WRITERS: usize = 4;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = basalt(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn serve(dir: &Path) -> Server {
    let mut cmd = basalt(&[
        "serve",
        "--http",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    cmd.env("BASALT_LOG", "warn");
    Server::spawn(cmd)
}

/// What the server acknowledged, with when.
#[derive(Default)]
struct Acked {
    documents: Vec<(Instant, String, Value)>,
    objects: Vec<(Instant, String, Vec<u8>)>,
}

async fn storm(
    url: String,
    key: String,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    n: usize,
) {
    let http = reqwest::Client::new();
    let mut i = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        i += 1;
        let data = json!({"writer": n, "i": i, "text": "x".repeat(200)});
        let r = http
            .post(format!("{url}/v1/db/notes"))
            .bearer_auth(&key)
            .json(&json!({"data": data}))
            .send()
            .await;
        if let Ok(r) = r
            && r.status() == 201
        {
            let id = r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            acked.lock().unwrap().documents.push((Instant::now(), id, data));
        }
        if i % 5 == 0 {
            let path = format!("w{n}/o{i}.bin");
            let bytes: Vec<u8> = path.bytes().cycle().take(40_000 + i * 13).collect();
            let r = http
                .put(format!("{url}/v1/storage/media/{path}"))
                .bearer_auth(&key)
                .header("content-type", "application/octet-stream")
                .body(bytes.clone())
                .send()
                .await;
            if let Ok(r) = r
                && r.status() == 201
            {
                acked.lock().unwrap().objects.push((Instant::now(), path, bytes));
            }
        }
    }
}

async fn check_restored(dir: &Path, key: &str, docs: &[(String, Value)], objects: &[(String, Vec<u8>)]) {
    assert_eq!(
        basalt_store::sqlite_integrity(&dir.join("basalt.db"))
            .await
            .unwrap(),
        "ok"
    );
    let server = serve(dir);
    let http = reqwest::Client::new();
    for (id, data) in docs {
        let r = http
            .get(format!("{}/v1/db/notes/{id}", server.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "document {id} acknowledged before the backup is missing"
        );
        assert_eq!(&r.json::<Value>().await.unwrap()["data"], data);
    }
    for (path, bytes) in objects {
        let r = http
            .get(format!("{}/v1/storage/media/{path}", server.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "object {path} acknowledged before the backup is missing"
        );
        assert!(r.bytes().await.unwrap() == bytes[..], "object {path} differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_in_a_write_storm_restores_whole() {
    common::install_tls_provider();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_s = data.to_str().unwrap();
    ok(&run(&["migrate", "--data-dir", data_s], &[]));
    let key = ok(&run(
        &["keys", "create", "--name", "storm", "--data-dir", data_s],
        &[],
    ))
    .trim()
    .to_owned();
    let server = serve(&data);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/v1/db/collections", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "notes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{}/v1/storage/buckets", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "media"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            tokio::spawn(storm(
                server.url.clone(),
                key.clone(),
                acked.clone(),
                stop.clone(),
                n,
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Two backups while the storm goes on: to a directory and to S3.
    let s3 = S3Server::start("backups").await;
    let s3_env = [
        ("BASALT_S3_ENDPOINT", s3.url.as_str()),
        ("BASALT_S3_REGION", "us-east-1"),
        ("BASALT_S3_ACCESS_KEY_ID", "test"),
        ("BASALT_S3_SECRET_ACCESS_KEY", "test"),
        ("BASALT_S3_ALLOW_HTTP", "true"),
    ];
    let to_dir = root.path().join("backup");
    let began = Instant::now();
    let out = ok(&run(
        &["backup", "--to", to_dir.to_str().unwrap(), "--data-dir", data_s],
        &[],
    ));
    let took = began.elapsed();
    assert!(out.contains("backup written"), "{out}");
    let began_s3 = Instant::now();
    ok(&run(
        &["backup", "--to", "s3://backups/nightly/1", "--data-dir", data_s],
        &s3_env,
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let before = |t: Instant| {
        let docs: Vec<(String, Value)> = acked
            .documents
            .iter()
            .filter(|(at, ..)| *at < t)
            .map(|(_, id, d)| (id.clone(), d.clone()))
            .collect();
        let objects: Vec<(String, Vec<u8>)> = acked
            .objects
            .iter()
            .filter(|(at, ..)| *at < t)
            .map(|(_, p, b)| (p.clone(), b.clone()))
            .collect();
        (docs, objects)
    };
    let (docs, objects) = before(began);
    let after = acked.documents.iter().filter(|(at, ..)| *at > began).count();
    assert!(
        docs.len() > 20 && objects.len() > 4,
        "{} documents, {} objects",
        docs.len(),
        objects.len()
    );
    assert!(after > 0, "the storm went on during the backup");
    eprintln!(
        "backup took {took:?} during the storm; {} documents and {} objects acknowledged before it, {after} documents after",
        docs.len(),
        objects.len()
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(to_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["databases"][0]["name"], "basalt.db");
    assert!(manifest["objects"].as_u64().unwrap() >= objects.len() as u64);

    // The refusals.
    refused(
        &run(
            &["backup", "--to", to_dir.to_str().unwrap(), "--data-dir", data_s],
            &[],
        ),
        "already holds a backup",
    );
    refused(
        &run(
            &[
                "restore",
                "--from",
                to_dir.to_str().unwrap(),
                "--data-dir",
                data_s,
            ],
            &[],
        ),
        "already holds a database",
    );
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let fresh = root.path().join("fresh");
    refused(
        &run(
            &[
                "restore",
                "--from",
                empty.to_str().unwrap(),
                "--data-dir",
                fresh.to_str().unwrap(),
            ],
            &[],
        ),
        "no manifest.json",
    );
    let damaged = root.path().join("damaged");
    std::fs::create_dir_all(damaged.join("files")).unwrap();
    for name in ["manifest.json", "basalt.db"] {
        std::fs::copy(to_dir.join(name), damaged.join(name)).unwrap();
    }
    let mut db = std::fs::read(damaged.join("basalt.db")).unwrap();
    let middle = db.len() / 2;
    db[middle] ^= 0xff;
    std::fs::write(damaged.join("basalt.db"), db).unwrap();
    let mut manifest_only_main = manifest.clone();
    manifest_only_main["databases"] = json!([manifest["databases"][0]]);
    std::fs::write(damaged.join("manifest.json"), manifest_only_main.to_string()).unwrap();
    refused(
        &run(
            &[
                "restore",
                "--from",
                damaged.to_str().unwrap(),
                "--data-dir",
                fresh.to_str().unwrap(),
            ],
            &[],
        ),
        "does not match the manifest",
    );
    assert!(
        !fresh.join("basalt.db").exists(),
        "a refused restore leaves nothing"
    );
    refused(
        &run(
            &[
                "backup",
                "--to",
                root.path().join("pg").to_str().unwrap(),
                "--database-url",
                "postgres://postgres@127.0.0.1:5432/test",
            ],
            &[],
        ),
        "pg_dump",
    );
    drop(server);

    // Restores: from the directory, and from S3.
    let restored = root.path().join("restored");
    let out = ok(&run(
        &[
            "restore",
            "--from",
            to_dir.to_str().unwrap(),
            "--data-dir",
            restored.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(out.contains("restored into"), "{out}");
    check_restored(&restored, &key, &docs, &objects).await;
    let (docs, objects) = before(began_s3);
    let from_s3 = root.path().join("from-s3");
    ok(&run(
        &[
            "restore",
            "--from",
            "s3://backups/nightly/1",
            "--data-dir",
            from_s3.to_str().unwrap(),
        ],
        &s3_env,
    ));
    check_restored(&from_s3, &key, &docs, &objects).await;
    let counted: BTreeMap<String, usize> = [
        ("documents".to_owned(), docs.len()),
        ("objects".to_owned(), objects.len()),
    ]
    .into();
    eprintln!("restored from S3: {counted:?}");
}

/// Scheduled backups: every 2 seconds here, 2 kept; their state in
/// `GET /v1/admin/backups` and `/metrics`; one asked for with
/// `POST /v1/admin/backups`; and the refusals (no `backup_to`, PostgreSQL,
/// a cron that does not parse).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_run_keep_and_report() {
    common::install_tls_provider();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_s = data.to_str().unwrap();
    let to = root.path().join("nightly");
    ok(&run(&["migrate", "--data-dir", data_s], &[]));
    let key = ok(&run(
        &["keys", "create", "--name", "ops", "--data-dir", data_s],
        &[],
    ))
    .trim()
    .to_owned();
    let mut cmd = basalt(&[
        "serve",
        "--http",
        "127.0.0.1:0",
        "--data-dir",
        data_s,
        "--backup-schedule",
        "*/2 * * * * *",
        "--backup-to",
        to.to_str().unwrap(),
        "--backup-keep",
        "2",
    ]);
    cmd.env("BASALT_LOG", "warn");
    let server = Server::spawn(cmd);
    let http = reqwest::Client::new();
    let status = || async {
        let r = http
            .get(format!("{}/v1/admin/backups", server.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    let first = status().await;
    assert_eq!(first["schedule"], "*/2 * * * * *");
    assert_eq!(first["keep"], 2);
    assert!(first["next_at"].is_string(), "{first}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let settled = loop {
        let s = status().await;
        let runs_ok = metric(&http, &server.url, "basalt_backup_runs_total{result=\"ok\"}").await;
        if runs_ok >= 3.0 && s["backups"].as_array().unwrap().len() == 2 && s["running"] == false {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no three scheduled backups in 30 s: {s}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(settled["last"]["ok"], true, "{settled}");
    assert!(settled["last"]["database_bytes"].as_u64().unwrap() > 0);
    let kept: Vec<String> = settled["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(kept[0] > kept[1], "newest first: {kept:?}");
    let on_disk: Vec<String> = std::fs::read_dir(&to)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("manifest.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(on_disk.len() <= 3, "older backups are deleted: {on_disk:?}");
    for name in &kept {
        assert!(to.join(name).join("basalt.db").exists());
    }
    assert!(metric(&http, &server.url, "basalt_backup_last_success_timestamp_seconds").await > 1.7e9);
    // One asked for now.
    let r = http
        .post(format!("{}/v1/admin/backups", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(r.status() == 202 || r.status() == 409, "{}", r.status());
    drop(server);

    // Without backup_to there is nowhere to write; on PostgreSQL, pg_dump is the tool.
    let plain = serve(&data);
    let r = http
        .post(format!("{}/v1/admin/backups", plain.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "failed_precondition");
    drop(plain);
    let refused_start = run(
        &[
            "serve",
            "--data-dir",
            data_s,
            "--backup-schedule",
            "every night",
            "--backup-to",
            to.to_str().unwrap(),
        ],
        &[],
    );
    refused(&refused_start, "backup_schedule");
    let refused_start = run(
        &["serve", "--data-dir", data_s, "--backup-schedule", "0 3 * * *"],
        &[],
    );
    refused(&refused_start, "backup_to");
}

async fn metric(http: &reqwest::Client, url: &str, name: &str) -> f64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}
