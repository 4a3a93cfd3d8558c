//! The dashboard's serving rules at `/_/`, over HTTP on a real server.

mod common;

use common::{Backend, TestServer};

/// The hashed script `index.html` loads, read from the committed build.
fn entry_script() -> String {
    let index = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard-dist/index.html"))
        .expect("the dashboard build is committed");
    let start = index.find("/_/assets/").expect("index.html loads an asset");
    let rest = &index[start..];
    let end = rest.find('"').unwrap();
    rest[..end].to_owned()
}

async fn get(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = s.client.get(format!("{}{path}", s.url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_links_assets_and_caching() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    // `/_` moves to `/_/`; every deep link is the app's index, never cached.
    let res = s.client.get(format!("{}/_", s.url)).send().await.unwrap();
    assert_eq!(res.url().path(), "/_/");
    for path in ["/_/", "/_/collections/posts/documents", "/_/login"] {
        let res = get(&s, path, &[]).await;
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        assert_eq!(h["content-type"], "text/html; charset=utf-8");
        assert_eq!(h["cache-control"], "no-cache");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        let body = res.text().await.unwrap();
        assert!(body.contains("<script type=\"module\""), "{body}");
        assert!(!body.contains("<script>"), "no inline script");
    }
    // Hashed assets: immutable, precompressed as the client accepts, ETags.
    let script = entry_script();
    let plain = get(&s, &script, &[("accept-encoding", "identity")]).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(plain.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(plain.headers().get("content-encoding").is_none());
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain_len = plain.bytes().await.unwrap().len();
    for (accept, coding) in [
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
    ] {
        // reqwest decodes nothing here: it was built without decompression.
        let res = get(&s, &script, &[("accept-encoding", accept)]).await;
        assert_eq!(res.headers()["content-encoding"], coding, "{accept}");
        assert_eq!(res.headers()["vary"], "Accept-Encoding");
        let len = res.bytes().await.unwrap().len();
        assert!(len * 2 < plain_len, "{coding}: {len} of {plain_len} bytes");
    }
    let again = get(
        &s,
        &script,
        &[("accept-encoding", "identity"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status(), 304);
    // A missing asset is a 404 in the envelope, not the index.
    let missing = get(&s, "/_/assets/nope-123.js", &[]).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let sibling = format!("{script}.gz");
    assert_eq!(get(&s, &sibling, &[]).await.status(), 404);
    // Paths that try to leave the folder find nothing.
    assert_eq!(get(&s, "/_/assets/..%2f..%2fCargo.toml", &[]).await.status(), 404);
    s.stop().await;
}
