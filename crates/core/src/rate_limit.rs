//! Keyed token buckets for endpoints that attackers like (logins, mail).
//! Each key may spend `per_minute` requests at once and regains them
//! steadily over a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::Error;

pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Past this many keys, buckets that have refilled are swept away.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    /// `per_minute == 0` disables the limiter.
    pub fn per_minute(per_minute: u32) -> Self {
        RateLimiter {
            capacity: f64::from(per_minute),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one request for `key`, or says how long to wait.
    pub fn check(&self, key: &str) -> Result<(), Error> {
        if self.capacity == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_AT && !buckets.contains_key(key) {
            let full_after = self.capacity / self.per_second;
            buckets.retain(|_, b| now.duration_since(b.updated).as_secs_f64() < full_after);
        }
        let bucket = match buckets.get_mut(key) {
            Some(b) => b,
            None => buckets.entry(key.to_owned()).or_insert(Bucket {
                tokens: self.capacity,
                updated: now,
            }),
        };
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / self.per_second).ceil() as u64;
            Err(Error::rate_limited(wait))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    #[test]
    fn spends_then_refuses_per_key() {
        let limiter = RateLimiter::per_minute(3);
        for _ in 0..3 {
            limiter.check("ip:1").unwrap();
        }
        let err = limiter.check("ip:1").unwrap_err();
        assert_eq!(err.code(), Code::RateLimited);
        assert!(err.body().to_string().contains("rate_limited"));
        limiter.check("ip:2").unwrap();
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::per_minute(0);
        for _ in 0..1000 {
            limiter.check("k").unwrap();
        }
    }
}
