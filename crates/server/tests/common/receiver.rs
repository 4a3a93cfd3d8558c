//! The webhook receiver of tests/webhook-receiver: a Python server that
//! verifies every delivery with the `standardwebhooks` package from PyPI.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The receiver of tests/webhook-receiver, on a port of its own.
pub struct Receiver {
    child: Child,
    pub url: String,
}

impl Receiver {
    pub fn start(secret: &str) -> Receiver {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/webhook-receiver/receiver.py"
        );
        let mut child = Command::new("python3")
            .args([script, secret])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the receiver (pip install standardwebhooks)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the receiver says where it listens");
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("receiver said {line:?}; is standardwebhooks installed?"))
            .to_owned();
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn log(&self) -> Vec<Value> {
        reqwest::get(format!("{}/log", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn at(&self, path: &str) -> Vec<Value> {
        self.log()
            .await
            .into_iter()
            .filter(|e| e["path"] == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
