//! A real S3-compatible server (moto, from PyPI) on loopback.

pub struct S3Server {
    pub url: String,
    child: std::process::Child,
}

impl S3Server {
    pub async fn start(bucket: &str) -> S3Server {
        let port = super::OidcProvider::free_port();
        let mut child = std::process::Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (pip install 'moto[server]')");
        let url = format!("http://127.0.0.1:{port}");
        super::install_tls_provider();
        let client = reqwest::Client::new();
        for _ in 0..400 {
            if client.get(&url).send().await.is_ok() {
                // Create the bucket with a plain S3 call (moto accepts unsigned requests).
                let res = client.put(format!("{url}/{bucket}")).send().await.unwrap();
                assert!(res.status().is_success(), "create bucket: {}", res.status());
                return S3Server { url, child };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto did not start; is it installed (pip install 'moto[server]')?");
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
