//! Moving a project between databases: a SQLite project with admins, users
//! (password hashes), sessions, a service key, collections with rules,
//! schemas and indexes, documents, buckets and objects, channel rules, a
//! function and a webhook goes to PostgreSQL with `basalt migrate-db`, comes
//! back to SQLite with `basalt export` and `basalt import`, and every table
//! and document is the same as at the start. Servers on PostgreSQL and on
//! the final SQLite serve it: users sign in with their passwords, the
//! service key works, documents and files are there, a unique index still
//! refuses a duplicate. And the refusals: a non-empty project, a folder that
//! is not an export, a damaged line.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use common::process::{Server, basalt, ok, refused};
use common::{Backend, PgDatabase, TestServer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn run(args: &[&str]) -> Output {
    basalt(args).output().unwrap()
}

/// Every line of every NDJSON file of an export, by file, as a set (the
/// order of text keys differs between the databases' collations).
fn contents(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for sub in ["tables", "collections"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            out.insert(
                format!("{sub}/{}", entry.file_name().to_string_lossy()),
                text.lines().map(str::to_owned).collect(),
            );
        }
    }
    out
}

async fn populate(s: &TestServer) -> (String, Vec<(String, Value)>) {
    let admin = s.admin_token().await;
    let key = s
        .post("/v1/admin/keys", Some(&admin), json!({"name": "worker"}))
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for email in ["ada@example.com", "bo@example.com"] {
        s.post(
            "/v1/auth/signup",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await
        .expect(201, None);
    }
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({
            "name": "people",
            "rules": {"read": "auth != ()", "create": "auth != ()"},
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
            "indexes": [{"fields": [["email", "asc"]], "unique": true}, {"fields": [["age", "desc"], ["name", "asc"]]}]
        }),
    )
    .await
    .expect(201, None);
    let mut docs = Vec::new();
    for i in 0..60 {
        let data = json!({"name": format!("p{i}"), "email": format!("p{i}@x.org"), "age": i % 7, "tags": ["a", i], "nested": {"ok": i % 2 == 0, "ratio": 0.5}});
        let r = s.post("/v1/db/people", Some(&key), json!({"data": data})).await;
        r.expect(201, None);
        docs.push((r.json()["id"].as_str().unwrap().to_owned(), data));
    }
    s.post(
        "/v1/storage/buckets",
        Some(&admin),
        json!({"name": "media", "public": false}),
    )
    .await
    .expect(201, None);
    for i in 0..3 {
        let r = s
            .client
            .put(format!("{}/v1/storage/media/dir/f{i}.bin", s.url))
            .bearer_auth(&key)
            .header("content-type", "application/octet-stream")
            .body(vec![i as u8; 5000 + i])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    s.put(
        "/v1/admin/channels/room:*",
        Some(&admin),
        json!({"join": "auth != ()", "broadcast": "auth != ()"}),
    )
    .await
    .expect(200, None);
    s.put(
        "/v1/admin/functions/greet",
        Some(&admin),
        json!({"kind": "http", "source": "`hello ${args.name}`", "invoke": "true"}),
    )
    .await
    .expect(201, None);
    s.put(
        "/v1/admin/webhooks/audit",
        Some(&admin),
        json!({"url": "https://hooks.example.com/basalt", "events": ["people.create"], "enabled": false}),
    )
    .await
    .expect(201, None);
    (key, docs)
}

/// Checks that a server on the moved project serves it.
async fn serves(server: &Server, key: &str, docs: &[(String, Value)]) {
    let http = reqwest::Client::new();
    let url = &server.url;
    let r = http
        .post(format!("{url}/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "a user signs in with the password set before the move"
    );
    let wrong = http
        .post(format!("{url}/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "not it at all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    for (id, data) in docs.iter().step_by(7) {
        let r = http
            .get(format!("{url}/v1/db/people/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(&r.json::<Value>().await.unwrap()["data"], data);
    }
    let r = http
        .post(format!("{url}/v1/db/people/query"))
        .bearer_auth(key)
        .json(&json!({"where": [["age", "==", 3]], "order_by": [["name", "asc"]], "limit": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let expected = docs.iter().filter(|(_, d)| d["age"] == 3).count();
    assert_eq!(
        r.json::<Value>().await.unwrap()["documents"]
            .as_array()
            .unwrap()
            .len(),
        expected
    );
    let dup = http
        .post(format!("{url}/v1/db/people"))
        .bearer_auth(key)
        .json(&json!({"data": {"name": "again", "email": "p1@x.org"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409, "the unique index came along");
    let r = http
        .get(format!("{url}/v1/storage/media/dir/f2.bin"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap()[..] == vec![2u8; 5002][..]);
}

fn serve(args: &[&str]) -> Server {
    let mut all = vec!["serve", "--http", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut cmd = basalt(&all);
    cmd.env("BASALT_LOG", "warn");
    Server::spawn(cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_keeps_everything() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    common::install_tls_provider();
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let (key, docs) = populate(&s).await;
    let (_, _, first) = s.stop_keeping_data().await;
    let first_s = first.path().to_str().unwrap().to_owned();
    let root = tempfile::tempdir().unwrap();
    let at = |name: &str| root.path().join(name).to_str().unwrap().to_owned();

    // The SQLite project as it is.
    let out = ok(&run(&["export", "--to", &at("start"), "--data-dir", &first_s]));
    assert!(
        out.contains("60 documents in 1 collections") && out.contains("3 objects"),
        "{out}"
    );
    refused(
        &run(&["export", "--to", &at("start"), "--data-dir", &first_s]),
        "already holds an export",
    );

    // To PostgreSQL in one command; the files stay where they are.
    let pg_url = pg.url();
    let out = ok(&run(&["migrate-db", "--to", &pg_url, "--data-dir", &first_s]));
    assert!(out.contains("copied to postgres://"), "{out}");
    refused(
        &run(&["migrate-db", "--to", &pg_url, "--data-dir", &first_s]),
        "not empty",
    );
    // And back to a new SQLite project.
    ok(&run(&[
        "export",
        "--to",
        &at("from-pg"),
        "--database-url",
        &pg_url,
        "--data-dir",
        &first_s,
    ]));
    // A server on PostgreSQL serves it (after the export: signing in adds a session).
    {
        let server = serve(&["--database-url", &pg_url, "--data-dir", &first_s]);
        serves(&server, &key, &docs).await;
    }

    let last = at("last");
    let out = ok(&run(&["import", "--from", &at("from-pg"), "--data-dir", &last]));
    assert!(out.contains("imported"), "{out}");
    ok(&run(&["export", "--to", &at("end"), "--data-dir", &last]));
    let (start, from_pg, end) = (
        contents(&root.path().join("start")),
        contents(&root.path().join("from-pg")),
        contents(&root.path().join("end")),
    );
    assert!(start.len() >= 20, "{:?}", start.keys());
    for (file, lines) in &start {
        assert_eq!(Some(lines), from_pg.get(file), "{file} changed on PostgreSQL");
        assert_eq!(Some(lines), end.get(file), "{file} changed on the way back");
    }
    assert_eq!(start["collections/people.ndjson"].len(), 60);
    assert_eq!(start["tables/users.ndjson"].len(), 3, "a header and two users");
    {
        let server = serve(&["--data-dir", &last]);
        serves(&server, &key, &docs).await;
    }

    // The refusals.
    refused(
        &run(&["import", "--from", &at("from-pg"), "--data-dir", &last]),
        "not empty",
    );
    // --merge adds nothing that is there already.
    ok(&run(&[
        "export",
        "--to",
        &at("before-merge"),
        "--data-dir",
        &last,
    ]));
    ok(&run(&[
        "import",
        "--from",
        &at("from-pg"),
        "--merge",
        "--data-dir",
        &last,
    ]));
    ok(&run(&["export", "--to", &at("merged"), "--data-dir", &last]));
    assert_eq!(
        contents(&root.path().join("merged")),
        contents(&root.path().join("before-merge"))
    );
    let empty = at("empty");
    std::fs::create_dir_all(&empty).unwrap();
    refused(
        &run(&["import", "--from", &empty, "--data-dir", &at("other")]),
        "no manifest.json",
    );
    let damaged = root.path().join("damaged");
    std::fs::create_dir_all(damaged.join("tables")).unwrap();
    std::fs::copy(
        root.path().join("start/manifest.json"),
        damaged.join("manifest.json"),
    )
    .unwrap();
    std::fs::write(
        damaged.join("tables/users.ndjson"),
        "{\"columns\": [\"id\"]}\n[\"u1\"\n",
    )
    .unwrap();
    refused(
        &run(&[
            "import",
            "--from",
            damaged.to_str().unwrap(),
            "--data-dir",
            &at("other2"),
        ]),
        "users.ndjson line 2",
    );
}
