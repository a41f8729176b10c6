//! Requests to URLs that tenants supply — webhook endpoints, webhook tools, LLM base URLs — and the one policy
//! they all go through, so that signing up never lets anyone reach our own network (SSRF).
//!
//! Tenants' URLs may only reach public addresses: loopback, private (RFC 1918), link-local (the cloud metadata
//! service at 169.254.169.254), carrier-grade NAT, unique local (`fdaa::/16`, Fly's private network),
//! multicast, unspecified and reserved addresses are refused, and so are IPv6 forms that carry one of those
//! IPv4 addresses ([`ranges`]). Operators let chosen ranges through with `--allow-outbound` (e.g.
//! `127.0.0.1/32` for a local Ollama). Operator-set URLs (`--twilio-api-url`) do not come through here.
//!
//! The check that counts is made when a request is sent ([`OutboundClient`]): a host name is resolved once,
//! every address it resolves to is checked, and the connection goes to those checked addresses — the client's
//! DNS resolver is the policy's ([`resolver`]), so a name cannot resolve to a public address for the check and
//! to a private one for the connection. Literal IP addresses (which never reach a resolver) are checked before
//! the request is built. Redirects are never followed and proxies from the environment are ignored.
//!
//! When a URL is saved, [`OutboundPolicy::check_url`] refuses literal addresses and names that resolve to
//! refused ranges, so tenants learn early; a name that does not resolve yet is accepted.

pub mod ranges;
mod resolver;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::{Method, Url};

use crate::error::{ErrorCode, FieldError, Reportable};

/// How long a save waits for DNS before accepting a name it cannot judge (the request-time check still holds).
const INPUT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Which addresses tenants' URLs may reach: public ones, plus the operator's `--allow-outbound` ranges.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allow: Arc<[IpNet]>,
}

/// A request refused because its destination is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct Refused {
    /// The host as the URL named it.
    pub host: String,
    /// The address that was refused (`None`: the URL itself is unusable, e.g. not http(s)).
    pub ip: Option<IpAddr>,
    /// What kind of address it is, e.g. "a loopback address (127.0.0.0/8)".
    pub why: &'static str,
}

impl Refused {
    fn describe(&self) -> String {
        match self.ip {
            Some(ip) if ip.to_string() == self.host.trim_matches(['[', ']']) => {
                format!("{ip} is {}, which tenant URLs may not reach", self.why)
            }
            Some(ip) => format!(
                "{} resolves to {ip}, {}, which tenant URLs may not reach",
                self.host, self.why
            ),
            None => format!("{}: {}", self.host, self.why),
        }
    }

    /// The refusal as a field error of input `field`.
    pub fn field(&self, field: impl Into<String>) -> FieldError {
        FieldError::new(field, ErrorCode::UrlNotAllowed, self.to_string())
    }
}

impl Reportable for Refused {
    fn code(&self) -> ErrorCode {
        ErrorCode::UrlNotAllowed
    }
}

/// The refusal behind a failed request, if the policy is why it failed (reqwest wraps the resolver's error).
pub fn refusal(error: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = err.source();
    }
    None
}

/// Counts a refusal (`voxedge_outbound_refused_total`): a stream of them is someone probing our network.
pub(crate) fn count_refused(purpose: &'static str) {
    metrics::counter!("voxedge_outbound_refused_total", "purpose" => purpose).increment(1);
}

/// Parses one `--allow-outbound` entry: a CIDR range (`127.0.0.1/32`, `fd00::/8`) or a single address.
pub fn parse_range(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not a CIDR range such as 127.0.0.1/32 or fd00::/8"))
}

impl OutboundPolicy {
    /// Public addresses only.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Public addresses and `allow`.
    pub fn allowing(allow: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            allow: allow.into_iter().collect(),
        }
    }

    /// From a comma-separated list of ranges, as `--allow-outbound` takes them (empty: public only).
    pub fn parse(list: &str) -> Result<Self, String> {
        let ranges = list
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(parse_range)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::allowing(ranges))
    }

    /// The operator's extra ranges.
    pub fn allowed_ranges(&self) -> &[IpNet] {
        &self.allow
    }

    /// Whether `ip` may be reached; `host` names it in the refusal.
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        // `::ffff:127.0.0.1` is 127.0.0.1 to the allow list as much as to the kernel.
        let ip = ip.to_canonical();
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match ranges::forbidden(ip) {
            None => Ok(()),
            Some(why) => Err(Refused {
                host: host.to_owned(),
                ip: Some(ip),
                why,
            }),
        }
    }

    /// Checks a URL's scheme and, when its host is a literal address, that address; a name is left to the
    /// resolver. Returns the host name to resolve, if any.
    fn check_literal<'u>(&self, url: &'u Url) -> Result<Option<&'u str>, Refused> {
        let unusable = |why| Refused {
            host: url.host_str().unwrap_or_default().to_owned(),
            ip: None,
            why,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(unusable("only http and https URLs can be called"));
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self
                .check_ip(&ip.to_string(), IpAddr::V4(ip))
                .map(|()| None),
            Some(url::Host::Ipv6(ip)) => self
                .check_ip(&ip.to_string(), IpAddr::V6(ip))
                .map(|()| None),
            Some(url::Host::Domain(name)) => Ok(Some(name)),
            None => Err(unusable("the URL has no host")),
        }
    }

    /// Resolves `host` once and checks every address; all must be allowed.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        if addrs.is_empty() {
            return Err(ResolveError::Lookup(std::io::Error::other(format!(
                "{host} has no addresses"
            ))));
        }
        for addr in &addrs {
            self.check_ip(host, addr.ip())?;
        }
        Ok(addrs)
    }

    /// The check made when a tenant saves a URL: a literal address or a name that resolves (within a couple
    /// of seconds) to a refused range is refused. Unparsable URLs pass: the caller's format check reports them.
    pub async fn check_url(&self, url: &str) -> Result<(), Refused> {
        let Ok(url) = Url::parse(url) else {
            return Ok(());
        };
        let checked = match self.check_literal(&url) {
            Ok(Some(host)) => {
                match tokio::time::timeout(INPUT_RESOLVE_TIMEOUT, self.resolve(host)).await {
                    Ok(Err(ResolveError::Refused(refused))) => Err(refused),
                    // Not resolvable now (or DNS is slow): the request-time check decides later.
                    Ok(Ok(_) | Err(ResolveError::Lookup(_))) | Err(_) => Ok(()),
                }
            }
            Ok(None) => Ok(()),
            Err(refused) => Err(refused),
        };
        if checked.is_err() {
            count_refused("input");
        }
        checked
    }

    /// A client for tenants' URLs, from `builder` (timeouts, user agent ...) plus this policy. `purpose`
    /// (`webhook`, `tool`, `llm`) labels its refusals in `voxedge_outbound_refused_total`.
    pub fn client(
        &self,
        purpose: &'static str,
        builder: reqwest::ClientBuilder,
    ) -> reqwest::Result<OutboundClient> {
        crate::brain::install_crypto_provider();
        let client = builder
            .dns_resolver(Arc::new(resolver::PolicyResolver::new(
                self.clone(),
                purpose,
            )))
            // A redirect could point anywhere; tenants' endpoints must answer themselves.
            .redirect(reqwest::redirect::Policy::none())
            // An environment proxy would resolve the name itself, out of the policy's sight.
            .no_proxy()
            .build()?;
        Ok(OutboundClient {
            client,
            policy: self.clone(),
            purpose,
        })
    }
}

/// Why resolving a name for a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("cannot resolve: {0}")]
    Lookup(#[from] std::io::Error),
}

/// An HTTP client whose every request obeys an [`OutboundPolicy`]. The inner client is never handed out, so
/// nothing can send through it without the check.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    policy: OutboundPolicy,
    purpose: &'static str,
}

impl OutboundClient {
    /// Starts a request to `url`, refused at once if the URL names a refused address literally (names are
    /// checked by the resolver when the request is sent; a refusal then surfaces as the request's error, see
    /// [`refusal`]).
    pub fn request(&self, method: Method, url: Url) -> Result<reqwest::RequestBuilder, Refused> {
        if let Err(refused) = self.policy.check_literal(&url) {
            count_refused(self.purpose);
            return Err(refused);
        }
        Ok(self.client.request(method, url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_parse_and_let_their_ranges_through() {
        let policy = OutboundPolicy::parse(" 127.0.0.1/32 , fd00::/16,10.1.2.3").unwrap();
        assert_eq!(policy.allowed_ranges().len(), 3);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(policy.check_ip("x", ip("127.0.0.1")).is_ok());
        assert!(policy.check_ip("x", ip("::ffff:127.0.0.1")).is_ok());
        assert!(policy.check_ip("x", ip("127.0.0.2")).is_err());
        assert!(policy.check_ip("x", ip("10.1.2.3")).is_ok());
        assert!(policy.check_ip("x", ip("fd00::1")).is_ok());
        assert!(policy.check_ip("x", ip("fdaa::1")).is_err());
        assert!(
            OutboundPolicy::parse("")
                .unwrap()
                .allowed_ranges()
                .is_empty()
        );
        assert!(OutboundPolicy::parse("localhost").is_err());
        assert!(OutboundPolicy::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn refusals_say_what_and_why() {
        let policy = OutboundPolicy::strict();
        let ip: IpAddr = "169.254.169.254".parse().unwrap();
        let refused = policy.check_ip("169.254.169.254", ip).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "169.254.169.254 is a link-local address (169.254.0.0/16), which tenant URLs may not reach"
        );
        let named = policy
            .check_ip("localhost", "127.0.0.1".parse().unwrap())
            .unwrap_err();
        assert!(
            named
                .to_string()
                .starts_with("localhost resolves to 127.0.0.1, a loopback")
        );
    }

    #[tokio::test]
    async fn saved_urls_are_checked_literally_and_by_name() {
        let policy = OutboundPolicy::strict();
        for bad in [
            "http://127.0.0.1:8080/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5:8080/v1",
            "http://[::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://[fdaa::3]:8080/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://localhost:9/x",
            "ftp://example.com/",
        ] {
            assert!(policy.check_url(bad).await.is_err(), "{bad}");
        }
        // Unresolvable here (no DNS): judged when a request is made.
        assert!(
            policy
                .check_url("https://hooks.example.com/x")
                .await
                .is_ok()
        );
        assert!(policy.check_url("https://8.8.8.8/x").await.is_ok());
        let local = OutboundPolicy::parse("127.0.0.1/32").unwrap();
        assert!(local.check_url("http://127.0.0.1:8080/v1").await.is_ok());
    }
}
