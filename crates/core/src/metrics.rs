//! A small Prometheus registry: request counters and latency histograms
//! kept by the server, plus collectors that slices register for their own
//! numbers. Rendering happens only when `/metrics` is scraped.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// Latency bucket bounds, in seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bucket bounds for work measured in microseconds (rule evaluation), in seconds.
pub const FAST_BUCKETS: [f64; 14] = [
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
];

/// A cumulative latency histogram with fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::with_bounds(&LATENCY_BUCKETS)
    }
}

impl Histogram {
    /// A histogram over `bounds` (seconds, ascending).
    pub fn with_bounds(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Writes `name_bucket`, `name_sum` and `name_count` lines; `labels` is
    /// either empty or `key="value",…` without braces.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

#[derive(Default)]
struct RouteStats {
    /// (method, status) → requests.
    responses: HashMap<(&'static str, u16), u64>,
    latency: Histogram,
}

type Collector = Box<dyn Fn(&mut String) + Send + Sync>;

/// The process-wide registry.
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<HashMap<String, RouteStats>>,
    collectors: RwLock<Vec<Collector>>,
}

impl Metrics {
    /// Records one finished HTTP request. `route` is the matched route
    /// template (never the raw path, so label cardinality stays bounded).
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = static_method(method);
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let stats = match routes.get_mut(route) {
            Some(stats) => stats,
            None => routes.entry(route.to_owned()).or_default(),
        };
        *stats.responses.entry((method, status)).or_insert(0) += 1;
        stats.latency.observe(elapsed);
    }

    /// Adds a collector that writes its own metric lines at scrape time.
    pub fn register(&self, collector: impl Fn(&mut String) + Send + Sync + 'static) {
        self.collectors
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(collector));
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        {
            let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
            let mut names: Vec<&String> = routes.keys().collect();
            names.sort();
            out.push_str("# HELP basalt_http_requests_total HTTP requests by route, method and status.\n");
            out.push_str("# TYPE basalt_http_requests_total counter\n");
            for name in &names {
                let mut responses: Vec<_> = routes[*name].responses.iter().collect();
                responses.sort();
                for ((method, status), n) in responses {
                    let _ = writeln!(
                        out,
                        "basalt_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                        escape(name)
                    );
                }
            }
            out.push_str("# HELP basalt_http_request_duration_seconds HTTP request latency by route.\n");
            out.push_str("# TYPE basalt_http_request_duration_seconds histogram\n");
            for name in &names {
                let labels = format!("route=\"{}\"", escape(name));
                routes[*name]
                    .latency
                    .render(&mut out, "basalt_http_request_duration_seconds", &labels);
            }
        }
        for collector in self.collectors.read().unwrap_or_else(|e| e.into_inner()).iter() {
            collector(&mut out);
        }
        out
    }
}

/// A method name as a `'static` string: `OTHER` for anything unusual, so
/// labels and stored values stay a small fixed set.
pub fn static_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Escapes a label value for the Prometheus text format.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record_request("GET", "/v1/health", 200, Duration::from_micros(300));
        m.record_request("GET", "/v1/health", 200, Duration::from_millis(30));
        m.record_request("BREW", "/v1/health", 405, Duration::from_millis(1));
        m.register(|out| out.push_str("basalt_custom 7\n"));
        let text = m.render();
        assert!(
            text.contains("basalt_http_requests_total{method=\"GET\",route=\"/v1/health\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "basalt_http_requests_total{method=\"OTHER\",route=\"/v1/health\",status=\"405\"} 1"
            )
        );
        assert!(
            text.contains(
                "basalt_http_request_duration_seconds_bucket{route=\"/v1/health\",le=\"0.0005\"} 1"
            )
        );
        assert!(
            text.contains("basalt_http_request_duration_seconds_bucket{route=\"/v1/health\",le=\"0.05\"} 3")
        );
        assert!(text.contains("basalt_http_request_duration_seconds_count{route=\"/v1/health\"} 3"));
        assert!(text.contains("basalt_custom 7"));
    }
}
