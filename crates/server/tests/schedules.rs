//! Schedules through HTTP on real servers: each slot runs once, slots
//! before a save never run; and
//! three `basalt serve` nodes on one PostgreSQL run every slot of a
//! one-second schedule exactly once (checked against `croniter`), also
//! while one of them is SIGKILLed.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::process::{Server, basalt};
use common::{Backend, TestServer};
use serde_json::{Value, json};

/// Slots (RFC 3339) in the ticks collection, with how often each ran.
fn tally(ticks: &[Value], field: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for t in ticks {
        if let Some(slot) = t["data"][field].as_str() {
            *out.entry(slot.to_owned()).or_default() += 1;
        }
    }
    out
}

/// The slots `croniter` expects for `cron` from `first` to `last`, inclusive.
fn expected(cron: &str, first: &str, last: &str) -> Vec<String> {
    let script = r#"
import sys
from datetime import datetime, timezone, timedelta
from croniter import croniter
cron, first, last = sys.argv[1:4]
start = datetime.fromisoformat(first.replace("Z", "+00:00"))
end = datetime.fromisoformat(last.replace("Z", "+00:00"))
it = croniter(cron, start - timedelta(seconds=1), second_at_beginning=True)
while True:
    t = it.get_next(datetime)
    if t > end:
        break
    print(t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
"#;
    let o = Command::new("python3")
        .args(["-c", script, cron, first, last])
        .output()
        .expect("python3 runs (pip install croniter)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn ticks(s: &TestServer, token: &str) -> Vec<Value> {
    let res = s
        .post("/v1/db/ticks/query", Some(token), json!({"limit": 1000}))
        .await;
    res.expect(200, None);
    res.json()["documents"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_run_once_and_old_slots_never_run() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let admin = s.admin_token().await;
    s.post("/v1/db/collections", Some(&admin), json!({"name": "ticks"}))
        .await
        .expect(201, None);
    for body in [
        json!({"kind": "schedule", "source": "1"}),
        json!({"kind": "schedule", "source": "1", "cron": "* * * *"}),
        json!({"kind": "schedule", "source": "1", "cron": "0 0 0 * * * 2030"}),
        json!({"kind": "schedule", "source": "1", "cron": "99 * * * *"}),
        json!({"kind": "schedule", "source": "1", "cron": "* * * * *", "timezone": "Mars/Olympus"}),
        json!({"kind": "schedule", "source": "1", "cron": "* * * * *", "invoke": "true"}),
        json!({"kind": "schedule", "source": "auth.uid", "cron": "* * * * *"}),
        json!({"kind": "http", "source": "1", "cron": "* * * * *"}),
    ] {
        s.put("/v1/admin/functions/bad", Some(&admin), body)
            .await
            .expect(400, Some("invalid_argument"));
    }
    // A nightly schedule saved now does not run for last night's slot.
    s.put(
        "/v1/admin/functions/nightly",
        Some(&admin),
        json!({"kind": "schedule", "cron": "0 3 * * *", "timezone": "Europe/Paris", "source": "db.create(\"ticks\", #{nightly: event.slot});"}),
    )
    .await
    .expect(201, None);
    let every = s
        .put(
            "/v1/admin/functions/every",
            Some(&admin),
            json!({"kind": "schedule", "cron": "* * * * * *", "source": "db.create(\"ticks\", #{slot: event.slot, type: event.type});"}),
        )
        .await;
    every.expect(201, None);
    assert_eq!(every.json()["cron"], "* * * * * *");
    tokio::time::sleep(Duration::from_millis(5500)).await;
    s.delete("/v1/admin/functions/every", Some(&admin))
        .await
        .expect(204, None);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all = ticks(&s, &admin).await;
    let every = tally(&all, "slot");
    assert!(every.len() >= 4, "{every:?}");
    assert!(every.values().all(|&n| n == 1), "{every:?}");
    let slots: Vec<&String> = every.keys().collect();
    let want = expected("* * * * * *", slots[0], slots[slots.len() - 1]);
    assert_eq!(slots, want.iter().collect::<Vec<_>>(), "no slot missed");
    assert!(all.iter().any(|t| t["data"]["type"] == "schedule"));
    assert!(tally(&all, "nightly").is_empty());
    let runs = s
        .get("/v1/admin/functions/nightly/executions", Some(&admin))
        .await;
    assert_eq!(runs.json()["executions"].as_array().unwrap().len(), 0);
    s.stop().await;
}

struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("the node answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_run_every_slot_once_while_one_is_killed() {
    let Some(pg) = common::PgDatabase::create().await else {
        return;
    };
    let url = pg.url();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let o = basalt(&[
        "admin",
        "create",
        "--email",
        "ops@example.com",
        "--password",
        "correct horse battery",
        "--database-url",
        &url,
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut nodes: Vec<Server> = dirs
        .iter()
        .map(|d| {
            let mut cmd = basalt(&[
                "serve",
                "--http",
                "127.0.0.1:0",
                "--public-url",
                "http://basalt.test",
                "--data-dir",
                d.path().to_str().unwrap(),
                "--database-url",
                &url,
            ]);
            cmd.env("BASALT_LOG", "warn");
            Server::spawn(cmd)
        })
        .collect();
    common::install_tls_provider();
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}/v1/admin/login", nodes[0].url))
        .json(&json!({"email": "ops@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = Client {
        http,
        url: nodes[0].url.clone(),
        token: login["access_token"].as_str().unwrap().to_owned(),
    };
    let (status, body) = c
        .send(
            reqwest::Method::POST,
            "/v1/db/collections",
            json!({"name": "ticks"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = c
        .send(
            reqwest::Method::PUT,
            "/v1/admin/functions/tick",
            json!({"kind": "schedule", "cron": "* * * * * *", "source": "db.create(\"ticks\", #{slot: event.slot});"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    nodes[2].kill();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let end = basalt_core::Timestamp::now().millis() / 1000 * 1000;
    // A slot the killed node had claimed runs again once it is taken to be dead.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let (_, page) = c
        .send(
            reqwest::Method::POST,
            "/v1/db/ticks/query",
            json!({"limit": 1000}),
        )
        .await;
    let all = page["documents"].as_array().unwrap().clone();
    let end_text = basalt_core::Timestamp::from_millis(end).to_string();
    let end_text = format!("{}Z", &end_text[..19]);
    let ran: BTreeMap<String, usize> = tally(&all, "slot")
        .into_iter()
        .filter(|(slot, _)| *slot <= end_text)
        .collect();
    assert!(ran.len() >= 18, "{ran:?}");
    assert!(ran.values().all(|&n| n == 1), "a slot ran twice: {ran:?}");
    let slots: Vec<&String> = ran.keys().collect();
    let want = expected("* * * * * *", slots[0], slots[slots.len() - 1]);
    assert_eq!(slots, want.iter().collect::<Vec<_>>(), "a slot was missed");
    drop(nodes);
}
