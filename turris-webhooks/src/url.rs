//! Endpoint URL validation and the SSRF guard.
//!
//! A [`WebhookUrl`] is an absolute `https` URL without credentials whose host is not a private,
//! loopback, link-local, CGNAT, multicast, documentation or otherwise reserved address.
//! [`WebhookUrl::parse`] and the [`UrlPolicy`] checks do no I/O. With the `delivery` feature,
//! names are resolved and every address is checked ([`WebhookUrl::resolve`]), and the delivery
//! engine checks again at connection time through the same policy, so a name that later
//! resolves to a private address (DNS rebinding) is refused. Without it, a caller that resolves
//! names itself checks the addresses with [`UrlPolicy::check_resolved`].

#[cfg(feature = "delivery")]
use std::net::SocketAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::Serialize;
use url::{Host, Url};

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a valid absolute URL.
    #[error("invalid url: {0}")]
    Invalid(String),
    /// The scheme is not `https` (plain `http` only to loopback, when allowed).
    #[error("url must use https")]
    NotHttps,
    /// The URL carries a user name or password.
    #[error("url must not contain credentials")]
    Credentials,
    /// The URL has no host.
    #[error("url must have a host")]
    MissingHost,
    /// The host is a name that always means this machine (`localhost`).
    #[error("host {0} is not allowed")]
    ForbiddenHost(String),
    /// The host is, or resolves to, an address the policy refuses.
    ///
    /// The message names the kind of address (`refused: private address`) but never the
    /// address: for a host name, that would tell whoever typed the URL what the name resolves
    /// to inside our network. The address is kept for the operator's logs (`Debug`).
    #[error("refused: {reason} address")]
    ForbiddenAddress {
        /// The refused address (not in the message).
        ip: IpAddr,
        /// Which range it is in.
        reason: &'static str,
    },
    /// The host name could not be resolved.
    #[error("host {0} could not be resolved")]
    Unresolvable(String),
}

/// One entry of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllowRule {
    /// A host name (case-insensitive), whatever it resolves to.
    Host(String),
    /// A network: addresses in it are allowed even if private.
    Net(IpNet),
}

/// What endpoint URLs may point at.
///
/// The default is strict: `https` only, public addresses only.
///
/// ```
/// use turris_webhooks::{UrlPolicy, WebhookUrl};
///
/// let strict = UrlPolicy::default();
/// assert!(WebhookUrl::parse("https://hooks.example.com/turris", &strict).is_ok());
/// assert!(WebhookUrl::parse("http://hooks.example.com/turris", &strict).is_err());
/// assert!(WebhookUrl::parse("https://10.0.0.8/", &strict).is_err());
/// assert!(WebhookUrl::parse("https://10.0.0.8/", &strict.clone().allow("10.0.0.0/8".parse().unwrap())).is_ok());
///
/// let demo = UrlPolicy::default().with_insecure_loopback();
/// assert!(WebhookUrl::parse("http://127.0.0.1:8080/hook", &demo).is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UrlPolicy {
    /// Allows loopback addresses (`127.0.0.0/8`, `::1`, `localhost`), over plain `http` too.
    /// For tests and demos only.
    pub allow_insecure_loopback: bool,
    /// Hosts and networks allowed even though their addresses are not public.
    pub allow_list: Vec<AllowRule>,
}

impl UrlPolicy {
    /// The strict default policy.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Also allows loopback, over `http` or `https` (tests and demos).
    pub fn with_insecure_loopback(mut self) -> Self {
        self.allow_insecure_loopback = true;
        self
    }

    /// Allows the addresses of a network.
    pub fn allow(mut self, net: IpNet) -> Self {
        self.allow_list.push(AllowRule::Net(net));
        self
    }

    /// Allows a host name, whatever it resolves to.
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allow_list
            .push(AllowRule::Host(host.into().to_ascii_lowercase()));
        self
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.allow_list
            .iter()
            .any(|r| matches!(r, AllowRule::Host(h) if h.eq_ignore_ascii_case(host)))
    }

    /// Checks one address: `Ok` when it is public, allow-listed, or loopback under
    /// `allow_insecure_loopback`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), UrlError> {
        let Some(reason) = non_public_reason(ip) else {
            return Ok(());
        };
        if self.allow_insecure_loopback && is_loopback(ip) {
            return Ok(());
        }
        let canonical = canonical_ip(ip);
        if self
            .allow_list
            .iter()
            .any(|r| matches!(r, AllowRule::Net(n) if n.contains(&ip) || n.contains(&canonical)))
        {
            return Ok(());
        }
        Err(UrlError::ForbiddenAddress { ip, reason })
    }

    /// Checks every address a host resolved to; one refused address refuses the host.
    pub fn check_resolved(&self, host: &str, addrs: &[IpAddr]) -> Result<(), UrlError> {
        if self.host_allowed(host) {
            return Ok(());
        }
        if addrs.is_empty() {
            return Err(UrlError::Unresolvable(host.to_owned()));
        }
        addrs.iter().try_for_each(|ip| self.check_ip(*ip))
    }
}

/// A validated endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl Serialize for WebhookUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl WebhookUrl {
    /// Checks the syntax, scheme, credentials and (for IP hosts) the address, without I/O. Host
    /// names are checked by `WebhookUrl::resolve` (feature `delivery`), which needs the
    /// network, or by [`UrlPolicy::check_resolved`] on addresses the caller resolved.
    pub fn parse(input: &str, policy: &UrlPolicy) -> Result<Self, UrlError> {
        let url = Url::parse(input.trim()).map_err(|e| UrlError::Invalid(e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        let host = url.host().ok_or(UrlError::MissingHost)?;
        let loopback_host = match &host {
            Host::Domain(name) => is_localhost_name(name),
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => is_loopback(IpAddr::V6(*ip)),
        };
        match url.scheme() {
            "https" => {}
            "http" if policy.allow_insecure_loopback && loopback_host => {}
            _ => return Err(UrlError::NotHttps),
        }
        match host {
            Host::Domain(name) => {
                if name.is_empty() {
                    return Err(UrlError::MissingHost);
                }
                if is_localhost_name(name)
                    && !policy.allow_insecure_loopback
                    && !policy.host_allowed(name)
                {
                    return Err(UrlError::ForbiddenHost(name.to_owned()));
                }
            }
            Host::Ipv4(ip) => policy.check_ip(IpAddr::V4(ip))?,
            Host::Ipv6(ip) => policy.check_ip(IpAddr::V6(ip))?,
        }
        Ok(Self(url))
    }

    /// Parses and then resolves the host, refusing it if any address is not allowed.
    #[cfg(feature = "delivery")]
    pub async fn parse_and_resolve(input: &str, policy: &UrlPolicy) -> Result<Self, UrlError> {
        let url = Self::parse(input, policy)?;
        url.resolve(policy).await?;
        Ok(url)
    }

    /// Resolves the host and checks every address against `policy`; returns the addresses.
    #[cfg(feature = "delivery")]
    pub async fn resolve(&self, policy: &UrlPolicy) -> Result<Vec<SocketAddr>, UrlError> {
        let port = self.0.port_or_known_default().unwrap_or(443);
        match self.0.host() {
            Some(Host::Ipv4(ip)) => {
                policy.check_ip(IpAddr::V4(ip))?;
                Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)])
            }
            Some(Host::Ipv6(ip)) => {
                policy.check_ip(IpAddr::V6(ip))?;
                Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)])
            }
            Some(Host::Domain(name)) => {
                let addrs = lookup(name, port).await?;
                let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
                policy.check_resolved(name, &ips)?;
                if self.0.scheme() == "http" && !ips.iter().all(|ip| is_loopback(*ip)) {
                    return Err(UrlError::NotHttps);
                }
                Ok(addrs)
            }
            None => Err(UrlError::MissingHost),
        }
    }

    /// The IP address when the host is an IP literal.
    pub fn ip_host(&self) -> Option<IpAddr> {
        match self.0.host()? {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        }
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(feature = "delivery")]
async fn lookup(name: &str, port: u16) -> Result<Vec<SocketAddr>, UrlError> {
    let found = tokio::net::lookup_host((name, port))
        .await
        .map_err(|_| UrlError::Unresolvable(name.to_owned()))?;
    Ok(found.collect())
}

/// A reqwest resolver that refuses names resolving to addresses the policy refuses, so the
/// client only ever connects to vetted addresses (no DNS rebinding between check and use).
#[cfg(feature = "delivery")]
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: std::sync::Arc<UrlPolicy>,
}

#[cfg(feature = "delivery")]
impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs = lookup(&host, 0).await?;
            let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
            policy.check_resolved(&host, &ips)?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

fn is_localhost_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

fn is_loopback(ip: IpAddr) -> bool {
    canonical_ip(ip).is_loopback()
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as the IPv4 address they stand for.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "shared address space (cgnat)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "ietf protocol assignments"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, why)| *why)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    // NAT64 well-known prefix: judge the embedded IPv4 address.
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        let [.., a, b, c, d] = ip.octets();
        return v4_reason(Ipv4Addr::new(a, b, c, d));
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
        ([0, 0, 0, 0, 0, 0, 0, 0], 96, "ipv4-compatible (deprecated)"),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use nat64"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "ietf protocol assignments",
        ),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    ];
    if let Some((_, _, why)) = RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
    {
        return Some(why);
    }
    // Only global unicast (2000::/3) is public.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some("reserved");
    }
    None
}

/// Why an address is not public (`None` when it is an ordinary public address).
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(ip: &str, expected: Option<&str>) {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(non_public_reason(ip), expected, "{ip}");
    }

    #[test]
    fn address_table_classifies_public_and_non_public_addresses() {
        check("8.8.8.8", None);
        check("1.1.1.1", None);
        check("100.63.255.255", None);
        check("100.64.0.1", Some("shared address space (cgnat)"));
        check("100.127.255.255", Some("shared address space (cgnat)"));
        check("100.128.0.0", None);
        check("0.0.0.0", Some("unspecified"));
        check("10.1.2.3", Some("private"));
        check("172.15.255.255", None);
        check("172.16.0.1", Some("private"));
        check("172.31.255.255", Some("private"));
        check("172.32.0.0", None);
        check("192.168.1.1", Some("private"));
        check("127.0.0.1", Some("loopback"));
        check("127.255.255.254", Some("loopback"));
        check("169.254.169.254", Some("link-local"));
        check("192.0.2.10", Some("documentation"));
        check("198.51.100.1", Some("documentation"));
        check("203.0.113.9", Some("documentation"));
        check("198.18.0.1", Some("benchmarking"));
        check("224.0.0.251", Some("multicast"));
        check("239.255.255.250", Some("multicast"));
        check("240.0.0.1", Some("reserved"));
        check("255.255.255.255", Some("broadcast"));
        check("2606:4700:4700::1111", None);
        check("2a00:1450:4001::200e", None);
        check("::", Some("unspecified"));
        check("::1", Some("loopback"));
        check("::ffff:127.0.0.1", Some("loopback"));
        check("::ffff:10.0.0.1", Some("private"));
        check("::ffff:8.8.8.8", None);
        check("::127.0.0.1", Some("ipv4-compatible (deprecated)"));
        check("64:ff9b::a9fe:a9fe", Some("link-local"));
        check("64:ff9b::808:808", None);
        check("fc00::1", Some("unique local"));
        check("fd12:3456::1", Some("unique local"));
        check("fe80::1", Some("link-local"));
        check("fec0::1", Some("site-local (deprecated)"));
        check("ff02::1", Some("multicast"));
        check("2001:db8::1", Some("documentation"));
        check("2001::1", Some("ietf protocol assignments"));
        check("2002:7f00:1::", Some("6to4"));
        check("4000::1", Some("reserved"));
    }
}
