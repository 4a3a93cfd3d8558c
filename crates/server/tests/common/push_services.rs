//! The push services of tests/push-services: a Web Push service, FCM's
//! token endpoint and `messages:send`, and APNs on HTTP/2 over TLS, each
//! checking what Basalt sends with libraries of its own (http_ece,
//! py-vapid, PyJWT, hypercorn).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use basalt_core::config::Config;
use serde_json::Value;

pub struct PushServices {
    child: Child,
    /// The plain HTTP side: Web Push endpoints, FCM, the log.
    pub url: String,
    /// APNs, on HTTP/2 over TLS.
    pub apns_url: String,
    /// Where its keys and certificates are.
    pub dir: PathBuf,
    http: reqwest::Client,
}

impl PushServices {
    pub fn start() -> PushServices {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/push-services/services.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the push services (pip install http_ece py-vapid PyJWT hypercorn)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the push services say where they listen");
        let at: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|_| panic!("the push services said {line:?}; are their packages installed?"));
        super::install_tls_provider();
        PushServices {
            child,
            url: format!("http://127.0.0.1:{}", at["http"]),
            apns_url: format!("https://127.0.0.1:{}", at["tls"]),
            dir: PathBuf::from(at["dir"].as_str().unwrap()),
            http: reqwest::Client::new(),
        }
    }

    /// Points a server's push settings at these services.
    pub fn configure(&self, c: &mut Config) {
        c.functions_allow_private_net = true;
        c.push_fcm_credentials_file = Some(self.dir.join("fcm.json"));
        c.push_fcm_url = self.url.clone();
        c.push_apns_key_file = Some(self.dir.join("apns.p8"));
        c.push_apns_key_id = Some("KEY1234567".into());
        c.push_apns_team_id = Some("TEAM123456".into());
        c.push_apns_url = self.apns_url.clone();
        c.push_ca_file = Some(self.dir.join("ca.pem"));
    }

    /// The same as flags of `basalt serve`.
    pub fn flags(&self) -> Vec<String> {
        let p = |name: &str| self.dir.join(name).to_str().unwrap().to_owned();
        [
            ("--functions-allow-private-net", "true".to_owned()),
            ("--push-fcm-credentials-file", p("fcm.json")),
            ("--push-fcm-url", self.url.clone()),
            ("--push-apns-key-file", p("apns.p8")),
            ("--push-apns-key-id", "KEY1234567".into()),
            ("--push-apns-team-id", "TEAM123456".into()),
            ("--push-apns-url", self.apns_url.clone()),
            ("--push-ca-file", p("ca.pem")),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_owned(), v])
        .collect()
    }

    /// A browser's subscription (`mode`: ok, gone, flaky), as
    /// `PushSubscription.toJSON()` gives it.
    pub async fn browser(&self, mode: &str) -> Value {
        self.http
            .get(format!("{}/webpush/new?mode={mode}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn log(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/log", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn token_requests(&self) -> u64 {
        let stats: Value = self
            .http
            .get(format!("{}/stats", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["token_requests"].as_u64().unwrap()
    }
}

impl Drop for PushServices {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
