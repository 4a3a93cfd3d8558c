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
    state: Mutex<State>,
}

struct State {
    buckets: HashMap<String, Bucket>,
    /// Sweep refilled buckets when the map reaches this size; doubles when a
    /// sweep frees little, so a flood of keys cannot make every call a scan.
    sweep_at: usize,
    swept: Instant,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Past this many keys, buckets that have refilled are swept away.
const SWEEP_AT: usize = 10_000;
/// Never more keys than this: past it, new keys are refused until old ones refill.
const MAX_KEYS: usize = 200_000;

impl RateLimiter {
    /// `per_minute == 0` disables the limiter.
    pub fn per_minute(per_minute: u32) -> Self {
        RateLimiter {
            capacity: f64::from(per_minute),
            per_second: f64::from(per_minute) / 60.0,
            state: Mutex::new(State {
                buckets: HashMap::new(),
                sweep_at: SWEEP_AT,
                swept: Instant::now(),
            }),
        }
    }

    /// The key for a client address: IPv6 clients usually hold a whole /64,
    /// so they get one bucket per /64, not one per address.
    pub fn ip_key(prefix: &str, ip: std::net::IpAddr) -> String {
        match ip {
            std::net::IpAddr::V4(v4) => format!("{prefix}:{v4}"),
            std::net::IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{prefix}:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }

    /// Spends one request for `key`, or says how long to wait.
    pub fn check(&self, key: &str) -> Result<(), Error> {
        if self.capacity == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State {
            buckets,
            sweep_at,
            swept,
        } = &mut *state;
        if !buckets.contains_key(key) {
            let full = buckets.len() >= MAX_KEYS;
            if buckets.len() >= *sweep_at || (full && now.duration_since(*swept).as_secs() >= 1) {
                let full_after = self.capacity / self.per_second;
                buckets.retain(|_, b| now.duration_since(b.updated).as_secs_f64() < full_after);
                *sweep_at = (buckets.len() * 2).max(SWEEP_AT);
                *swept = now;
            }
            if buckets.len() >= MAX_KEYS {
                return Err(Error::rate_limited(60));
            }
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
    fn a_flood_of_keys_is_bounded_and_stays_cheap() {
        let limiter = RateLimiter::per_minute(5);
        let started = std::time::Instant::now();
        for i in 0..(MAX_KEYS + 1000) {
            let _ = limiter.check(&format!("ip:{i}"));
        }
        let state = limiter.state.lock().unwrap();
        assert!(state.buckets.len() <= MAX_KEYS, "{}", state.buckets.len());
        drop(state);
        // Without the doubling threshold this is quadratic (minutes, not a second).
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(limiter.check("ip:new").unwrap_err().code(), Code::RateLimited);
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::per_minute(0);
        for _ in 0..1000 {
            limiter.check("k").unwrap();
        }
    }
}
