//! Outbound HTTP for webhooks, `http.fetch` and Web Push: no redirects, a timeout,
//! no proxy from the environment, and a guard that refuses private,
//! loopback and link-local addresses (the cloud metadata service among
//! them) unless `functions_allow_private_net` is set. The guard sits in
//! the resolver, so a name that resolves to a private address is refused
//! at connect time as well: a DNS answer that changes between a check and
//! the connection cannot slip past.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let o = v6.octets();
            // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form
            // (::a.b.c.d) carry an IPv4 address in their last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0, 0, 0, 0, 0, 0] {
                return is_public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            // 6to4 (2002::/16) carries one in bits 16 to 47; a relay reaches it.
            if s[0] == 0x2002 {
                return is_public_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
            }
            // Teredo (2001::/32) carries the client's address inverted in the last 32 bits.
            if s[0] == 0x2001 && s[1] == 0 {
                return is_public_v4(Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || o[0] >= 240 // reserved
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space (CGNAT)
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)) // protocol assignments
}

/// A resolver that drops every address the guard refuses.
struct Guarded;

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` has no public address", self.0)
    }
}

impl std::error::Error for Refused {}

/// A send failure in words, without the URL's query (it may carry a token).
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    if e.is_timeout() {
        "no answer before the timeout".into()
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = source {
            if s.to_string().contains("has no public address") {
                return format!("refused: {s}");
            }
            source = s.source();
        }
        "could not connect".into()
    } else {
        format!("the request failed: {e}")
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
}

impl Client {
    /// Fails rather than fall back to a client without the guard.
    pub fn new(allow_private: bool, timeout: Duration) -> Result<Client, String> {
        // reqwest's TLS comes from rustls with the ring provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent("Basalt")
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(Guarded));
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the outbound HTTP client: {e}"))?;
        Ok(Client {
            http,
            allow_private,
            timeout,
        })
    }

    /// The longest a request takes before it gives up.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Refuses an URL the guard would refuse: not http(s), credentials in
    /// it, or an address literal that is not public. (Names are checked
    /// when they resolve.)
    pub fn check(&self, url: &str) -> Result<reqwest::Url, String> {
        if url.len() > 2048 {
            return Err("the URL is longer than 2048 bytes".into());
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not an URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("the URL must start with http:// or https://".into());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("the URL must not carry a user name or password".into());
        }
        // The URL parser writes address literals in their plain form
        // (`0x7f.1` becomes `127.0.0.1`).
        let host = parsed.host_str().ok_or("the URL has no host")?;
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        if let Some(ip) = literal
            && !self.allow_private
            && !is_public(ip)
        {
            return Err(format!(
                "{ip} is a private, loopback or reserved address (set functions_allow_private_net to allow it)"
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "::a00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "8.8.8.8",
            "2002:5db8:d822::1",
            "2001:0:4136:e378:8000:63bf:a247:27dd",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked() {
        let c = Client::new(false, Duration::from_secs(1)).unwrap();
        assert!(c.check("http://127.0.0.1:8080/x").is_err());
        assert!(c.check("http://[::1]/").is_err());
        assert!(c.check("http://169.254.169.254/latest/meta-data").is_err());
        assert!(c.check("ftp://example.com/").is_err());
        assert!(c.check("http://user:pw@example.com/").is_err());
        assert!(c.check("https://example.com/hook").is_ok());
        let open = Client::new(true, Duration::from_secs(1)).unwrap();
        assert!(open.check("http://127.0.0.1:8080/x").is_ok());
    }
}
