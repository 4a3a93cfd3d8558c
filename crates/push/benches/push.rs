//! What one device's notification costs the server's CPU before it goes on
//! the wire: the RFC 8291 encryption of a Web Push payload (a fresh P-256
//! key agreement, HKDF, AES-128-GCM) at three sizes, a VAPID token (ES256,
//! made once per push service per 11 hours and cached), an APNs provider
//! token (ES256, once per 40 minutes) and an FCM assertion (RS256, once
//! per hour), beside the JSON bodies FCM and APNs get.
//! Run: `cargo bench -p basalt-push --bench push`

use std::time::{Duration, Instant};

use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median microseconds per call of `f` over 7 rounds of `n` calls.
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
    median(rounds).as_nanos() as f64 / f64::from(n) / 1000.0
}

fn main() {
    let browser = p256::SecretKey::from_slice(&[7u8; 32]).unwrap().public_key();
    let mut auth = web_push_native::Auth::default();
    auth.copy_from_slice(&[9u8; 16]);
    println!(
        "per call, median of 7 rounds ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for size in [64usize, 512, 3000] {
        let payload = vec![b'x'; size];
        let us = per_call(2000, || {
            std::hint::black_box(web_push_native::encrypt(payload.clone(), &browser, &auth).unwrap());
        });
        println!("  Web Push encryption, {size:>4}-byte payload: {us:>7.1} µs");
    }

    let server = p256::SecretKey::from_slice(&[3u8; 32]).unwrap();
    let der = server.to_pkcs8_der().unwrap();
    let es256 = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
    let _public = server.public_key().as_affine().to_encoded_point(false);
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    let claims = serde_json::json!({"aud": "https://push.example.net", "exp": 1_900_000_000u64, "sub": "mailto:ops@example.com"});
    let us = per_call(2000, || {
        std::hint::black_box(jsonwebtoken::encode(&header, &claims, &es256).unwrap());
    });
    println!("  VAPID or APNs token (ES256), made, not cached: {us:>7.1} µs");

    // An RSA key as Google's service accounts have (2048 bits).
    let pem = include_str!("rsa2048.pem");
    let rs256 = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let claims = serde_json::json!({"iss": "x@example.iam.gserviceaccount.com", "scope": "s", "aud": "a", "iat": 1, "exp": 2});
    let us = per_call(200, || {
        std::hint::black_box(jsonwebtoken::encode(&header, &claims, &rs256).unwrap());
    });
    println!("  FCM assertion (RS256), once an hour:           {us:>7.1} µs");
}
