//! Per-minute rollups of the request log: how many requests, how many
//! failed (5xx), and a latency histogram, so the charts over 7 days read
//! at most 10,080 small rows per node instead of every request.

use std::collections::BTreeMap;
use std::sync::Mutex;

use basalt_core::metrics::LATENCY_BUCKETS;

use crate::Entry;

/// Buckets: the latency bounds, then one for everything slower.
pub const BUCKETS: usize = LATENCY_BUCKETS.len() + 1;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Minute {
    pub requests: u64,
    pub errors: u64,
    pub client_errors: u64,
    pub latency: [u64; BUCKETS],
}

impl Minute {
    pub fn add(&mut self, other: &Minute) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.client_errors += other.client_errors;
        for (a, b) in self.latency.iter_mut().zip(other.latency) {
            *a += b;
        }
    }

    /// `errors`, `client_errors` and the buckets as stored: comma-separated counts.
    pub fn encode_latency(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push_str(&self.client_errors.to_string());
        for n in self.latency {
            out.push(',');
            out.push_str(&n.to_string());
        }
        out
    }

    pub fn decode_latency(&mut self, text: &str) {
        let mut parts = text.split(',').map(|p| p.parse::<u64>().unwrap_or(0));
        self.client_errors = parts.next().unwrap_or(0);
        for (slot, n) in self.latency.iter_mut().zip(parts) {
            *slot = n;
        }
    }

    /// The 95th percentile in milliseconds, interpolated inside its bucket;
    /// `None` without requests.
    pub fn p95_ms(&self) -> Option<f64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (total as f64 * 0.95).ceil() as u64;
        let mut seen = 0;
        for (i, &n) in self.latency.iter().enumerate() {
            if n > 0 && seen + n >= rank {
                let low = if i == 0 { 0.0 } else { LATENCY_BUCKETS[i - 1] };
                // The overflow bucket has no upper bound: report its lower one.
                let Some(&high) = LATENCY_BUCKETS.get(i) else {
                    return Some(low * 1e3);
                };
                let within = (rank - seen) as f64 / n as f64;
                return Some((low + (high - low) * within) * 1e3);
            }
            seen += n;
        }
        None
    }
}

pub fn bucket(duration_us: u64) -> usize {
    let secs = duration_us as f64 / 1e6;
    LATENCY_BUCKETS
        .iter()
        .position(|&b| secs <= b)
        .unwrap_or(LATENCY_BUCKETS.len())
}

/// This node's minutes not yet final, with what changed since the last
/// write to the store.
pub struct Rollup {
    /// Identifies this process's rows in the store.
    pub node: String,
    minutes: Mutex<BTreeMap<i64, (Minute, bool)>>,
}

impl Default for Rollup {
    fn default() -> Self {
        Self::new()
    }
}

impl Rollup {
    pub fn new() -> Self {
        Rollup {
            node: basalt_core::id::new_id(),
            minutes: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn add(&self, entries: &[Entry]) {
        let mut minutes = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        for e in entries {
            let (m, dirty) = minutes.entry(e.time.div_euclid(60_000)).or_default();
            m.requests += 1;
            if e.status >= 500 {
                m.errors += 1;
            } else if e.status >= 400 {
                m.client_errors += 1;
            }
            m.latency[bucket(e.duration_us)] += 1;
            *dirty = true;
        }
    }

    /// The minutes changed since the last call, marked clean; minutes more
    /// than two minutes old are forgotten once written (no request adds to
    /// them any more).
    pub fn take_dirty(&self, now_minute: i64) -> Vec<(i64, Minute)> {
        let mut minutes = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        let out = minutes
            .iter_mut()
            .filter(|(_, (_, dirty))| *dirty)
            .map(|(&k, (m, dirty))| {
                *dirty = false;
                (k, m.clone())
            })
            .collect();
        minutes.retain(|&k, (_, dirty)| *dirty || k >= now_minute - 2);
        out
    }

    /// Puts minutes back as dirty after a failed write.
    pub fn mark_dirty(&self, failed: &[(i64, Minute)]) {
        let mut minutes = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        for (k, _) in failed {
            if let Some((_, dirty)) = minutes.get_mut(k) {
                *dirty = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_interpolates_within_its_bucket() {
        let mut m = Minute::default();
        // 100 requests at <= 0.5 ms: p95 is inside the first bucket.
        m.latency[0] = 100;
        let p = m.p95_ms().unwrap();
        assert!((p - 0.475).abs() < 1e-9, "{p}");
        // 90 fast and 10 between 5 and 10 ms: p95 is half way into that bucket.
        let mut m = Minute::default();
        m.latency[0] = 90;
        m.latency[bucket(7_000)] = 10;
        let p = m.p95_ms().unwrap();
        assert!((p - 7.5).abs() < 1e-9, "{p}");
        assert_eq!(Minute::default().p95_ms(), None);
    }

    #[test]
    fn encoding_round_trips() {
        let mut m = Minute {
            client_errors: 3,
            ..Minute::default()
        };
        m.latency[2] = 7;
        m.latency[BUCKETS - 1] = 1;
        let mut back = Minute::default();
        back.decode_latency(&m.encode_latency());
        assert_eq!(back.latency, m.latency);
        assert_eq!(back.client_errors, 3);
    }
}
