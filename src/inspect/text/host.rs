//! Hosts named by reachback matches, read the way a client would read them: the `url`
//! crate's WHATWG host parser (IPv4 as one number, in hex, in octal parts or mixed; IPv6
//! literals and IPv4-mapped IPv6; percent-encoding; IDNA to punycode), then judged against
//! the enclave's allow-list (domains and `ipnet` CIDR blocks, IPv4 and IPv6).

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Longest authority (user info, host, port) looked at, in bytes.
const MAX_AUTHORITY: usize = 1024;

/// A bad allow-list entry: a configuration error.
#[derive(Debug, thiserror::Error)]
#[error(
    "allowed host {entry:?} is neither a domain, an IP address nor a CIDR block ({why}); \
     give e.g. corp.lan, 10.0.0.0/8 or fd00::/8"
)]
pub struct AllowError {
    /// The allow-list entry as written.
    pub entry: String,
    /// Why it is refused.
    pub why: String,
}

/// One entry of the allow-list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Allowed {
    /// A domain (lower-case ASCII, punycode for IDNA names) and its subdomains.
    Domain(String),
    /// An address block (a single address is a /32 or /128).
    Net(IpNet),
}

/// The enclave's hosts: `internal_domains` and `--allow-host` entries, parsed once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<Allowed>,
}

impl AllowList {
    /// Parse entries: `corp.lan`, `*.corp.lan` (the same: a domain covers its subdomains),
    /// `10.1.2.3`, `10.0.0.0/8`, `fd00::/8`, `[fd00::1]`, IDNA names.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, AllowError> {
        let mut out = Vec::new();
        for e in entries {
            let raw = e.as_ref().trim();
            let bad = |why: &str| AllowError {
                entry: raw.to_string(),
                why: why.to_string(),
            };
            let d = raw.trim_start_matches("*.").trim_end_matches('.');
            if d.is_empty() {
                return Err(bad("empty"));
            }
            let d = d.trim_start_matches('[').trim_end_matches(']');
            if d.contains('/') {
                let net: IpNet = d
                    .parse()
                    .map_err(|e: ipnet::AddrParseError| bad(&format!("not a CIDR block: {e}")))?;
                out.push(Allowed::Net(net.trunc()));
            } else if let Ok(ip) = d.parse::<IpAddr>() {
                out.push(Allowed::Net(IpNet::from(ip)));
            } else {
                match Host::parse(d) {
                    Ok(Host::Domain(name)) => out.push(Allowed::Domain(name)),
                    Ok(Host::Ipv4(ip)) => out.push(Allowed::Net(IpNet::from(IpAddr::V4(ip)))),
                    Ok(Host::Ipv6(ip)) => out.push(Allowed::Net(IpNet::from(IpAddr::V6(ip)))),
                    Err(e) => return Err(bad(&e.to_string())),
                }
            }
        }
        Ok(AllowList { entries: out })
    }

    /// Whether `domain` (lower-case ASCII) is an allowed domain or under one.
    pub fn allows_domain(&self, domain: &str) -> bool {
        let domain = domain.trim_end_matches('.');
        self.entries.iter().any(|e| match e {
            Allowed::Domain(d) => domain == d || is_subdomain_of(domain, d),
            Allowed::Net(_) => false,
        })
    }

    /// Whether `ip` lies in an allowed block (an IPv4-mapped IPv6 address counts as its
    /// IPv4 address).
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        self.entries.iter().any(|e| match e {
            Allowed::Net(n) => n.contains(&ip),
            Allowed::Domain(_) => false,
        })
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; other addresses unchanged.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether `host` is a name under `domain` (`a.b.example` under `example`).
fn is_subdomain_of(host: &str, domain: &str) -> bool {
    let (h, d) = (host.as_bytes(), domain.as_bytes());
    h.len() > d.len() && h[h.len() - d.len()..] == *d && h[h.len() - d.len() - 1] == b'.'
}

/// The host of a URL authority or a host setting (`user:pw@host:port`, `[v6]:port`,
/// `0x08080808`, `%65vil.io`, `bücher.de`), as a WHATWG URL parser reads it for `http`:
/// the reading a client that resolves the name (curl, glibc's `inet_aton`, browsers)
/// shares. `None` when no client could connect to it (not a host at all).
pub fn parse_authority(raw: &[u8]) -> Option<Host<String>> {
    if raw.is_empty() || raw.len() > MAX_AUTHORITY {
        return None;
    }
    let text = String::from_utf8_lossy(raw);
    // punctuation that ends a sentence or a markup construct is not part of the host
    let mut a = text.trim_end_matches(['.', ',', ';', '!', ')', '}', '\'', '"', '>']);
    if a.ends_with(']') && !a.contains('[') {
        a = a.trim_end_matches(']');
    }
    if a.is_empty() {
        return None;
    }
    // most hosts are plain names, read here without the URL parser's allocations
    if let Some(d) = plain_domain(a) {
        return Some(Host::Domain(d));
    }
    via_url(a)
}

/// How the WHATWG parser reads `a` (see [`parse_authority`]).
fn via_url(a: &str) -> Option<Host<String>> {
    // an IPv6 address written bare, as settings do (`host: ::ffff:8.8.8.8`)
    let bare_v6 = !a.contains(['@', '[']) && a.matches(':').count() >= 2;
    let url = if bare_v6 {
        Url::parse(&format!("http://[{a}]/")).ok()?
    } else {
        Url::parse(&format!("http://{a}/")).ok()?
    };
    match url.host()? {
        // WHATWG lets through `{`, `}`, `*`, `$` ... that no DNS name holds: such text is
        // a template or an expression (`{host}`), not a host
        Host::Domain(d)
            if !d
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)) =>
        {
            None
        }
        Host::Domain(d) => Some(Host::Domain(d.trim_end_matches('.').to_string())),
        Host::Ipv4(ip) => Some(Host::Ipv4(ip)),
        Host::Ipv6(ip) => Some(Host::Ipv6(ip)),
    }
}

/// A plain DNS name, as the WHATWG parser would read it (in lower case), without running
/// the parser: labels of ASCII letters, digits and hyphens, none empty, none longer than 63
/// bytes and none an IDNA (`xn--`) label, the last beginning with a letter (so the name is
/// no IPv4 address in any spelling). `None` for anything else (the parser then reads it).
fn plain_domain(a: &str) -> Option<String> {
    if a.len() > 253 {
        return None;
    }
    let mut last_first = 0u8;
    for label in a.split('.') {
        let b = label.as_bytes();
        if b.is_empty()
            || b.len() > 63
            || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            || (b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"xn--"))
        {
            return None;
        }
        last_first = b[0];
    }
    last_first
        .is_ascii_alphabetic()
        .then(|| a.to_ascii_lowercase())
}

/// A host as shown in a message: the domain (punycode), the dotted IPv4 address, or the
/// bracketed IPv6 address.
pub fn show(host: &Host<String>) -> String {
    match host {
        // `[::ffff:808:808]` is easier to read as the IPv4 address it maps
        Host::Ipv6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("[::ffff:{v4}]"),
            None => host.to_string(),
        },
        _ => host.to_string(),
    }
}

/// Where a host lies.
#[derive(Debug, PartialEq, Eq)]
pub enum HostKind {
    /// Loopback, unspecified, link-local, allowed, a documentation or schema-namespace
    /// domain, a single-label name (resolved inside by search domains): not reachback.
    Harmless,
    /// A domain outside the enclave.
    External,
    /// An IP address outside the enclave.
    ExternalIp,
}

/// Hosts of XML/JSON schema namespaces and documentation: identifiers, not network calls.
const NAMESPACE_HOSTS: &[&str] = &[
    "www.w3.org",
    "w3.org",
    "json-schema.org",
    "schemas.xmlsoap.org",
    "schemas.openxmlformats.org",
    "schemas.microsoft.com",
    "purl.org",
    "xmlns.com",
    "ns.adobe.com",
    "www.omg.org",
    "schemas.android.com",
    "xml.apache.org",
    "java.sun.com",
    "xmlns.jcp.org",
    "www.xfa.org",
    "relaxng.org",
    "docbook.org",
    "www.oasis-open.org",
    "schema.org",
];

/// Reserved documentation and local suffixes (RFC 2606 / 6761): never real destinations.
const RESERVED_SUFFIXES: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "example",
    "test",
    "invalid",
    "localhost",
    "local",
    "internal",
    "localdomain",
    "home.arpa",
];

/// Judge a parsed host against `allow`. A host is never harmless for being short or
/// repetitive (`8.8.8.8`, `ccc.cc`): only where it leads counts.
pub fn classify(host: &Host<String>, allow: &AllowList) -> HostKind {
    match host {
        Host::Ipv4(ip) => classify_ip(IpAddr::V4(*ip), allow),
        Host::Ipv6(ip) => classify_ip(IpAddr::V6(*ip), allow),
        Host::Domain(d) => classify_domain(d, allow),
    }
}

/// Judge the target of a call (a download piped into a shell, a request): a documentation
/// domain (`example.com`, `.test`, `.invalid`) excuses a URL in prose, never the act of
/// fetching and running code; the rest is judged as [`classify`] does.
pub fn classify_call(host: &Host<String>, allow: &AllowList) -> HostKind {
    match host {
        Host::Domain(d)
            if DOCUMENTATION_SUFFIXES
                .iter()
                .any(|s| d == s || is_subdomain_of(d, s))
                && !allow.allows_domain(d) =>
        {
            HostKind::External
        }
        _ => classify(host, allow),
    }
}

/// The reserved suffixes that name documentation, not a place inside the enclave.
const DOCUMENTATION_SUFFIXES: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "example",
    "test",
    "invalid",
];

fn classify_ip(ip: IpAddr, allow: &AllowList) -> HostKind {
    let local = match unmap(ip) {
        IpAddr::V4(v4) => local_v4(v4),
        IpAddr::V6(v6) => local_v6(v6),
    };
    if local || allow.allows_ip(ip) {
        HostKind::Harmless
    } else {
        HostKind::ExternalIp
    }
}

/// Loopback (127/8), "this network" (0/8, which includes the unspecified 0.0.0.0) and
/// link-local (169.254/16): never leave the machine or its link.
fn local_v4(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.octets()[0] == 0 || ip.is_link_local()
}

/// `::1`, `::` and link-local `fe80::/10`.
fn local_v6(ip: Ipv6Addr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xffc0) == 0xfe80
}

fn classify_domain(d: &str, allow: &AllowList) -> HostKind {
    if !d.contains('.') {
        // a single label resolves through the enclave's own search domains
        return HostKind::Harmless;
    }
    if allow.allows_domain(d)
        || NAMESPACE_HOSTS.contains(&d)
        || RESERVED_SUFFIXES
            .iter()
            .any(|s| d == *s || is_subdomain_of(d, s))
    {
        return HostKind::Harmless;
    }
    // a last label that is not a word (`v1.0a`, `1.2.x`) is a version, not a TLD;
    // internationalised TLDs are punycode (`xn--p1ai`)
    let tld = d.rsplit('.').next().unwrap_or("");
    let word = tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic());
    if !word && !tld.starts_with("xn--") {
        return HostKind::Harmless;
    }
    HostKind::External
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(e: &[&str]) -> AllowList {
        AllowList::new(e).unwrap()
    }

    fn kind(raw: &str, a: &AllowList) -> Option<HostKind> {
        parse_authority(raw.as_bytes()).map(|h| classify(&h, a))
    }

    #[test]
    fn every_ipv4_spelling_reads_as_the_address() {
        for raw in [
            "8.8.8.8",
            "134744072",
            "0x08080808",
            "0x8.0x8.0x8.0x8",
            "010.010.010.010",
            "8.8.2056",
            "8.526344",
            "0x8.8.0x808",
            "[::ffff:8.8.8.8]",
            "[::ffff:808:808]",
            "::ffff:8.8.8.8",
            "user:pw@8.8.8.8:8000",
            "%38.8.8.8",
        ] {
            let h = parse_authority(raw.as_bytes());
            assert_eq!(
                h,
                if raw.contains("::") {
                    Some(Host::Ipv6("::ffff:8.8.8.8".parse().unwrap()))
                } else {
                    Some(Host::Ipv4(Ipv4Addr::new(8, 8, 8, 8)))
                },
                "{raw}"
            );
        }
        // octal parts: 010 is 8, so this is 8.34.56.78, not 10.34.56.78
        assert_eq!(
            parse_authority(b"010.34.56.78"),
            Some(Host::Ipv4(Ipv4Addr::new(8, 34, 56, 78)))
        );
    }

    #[test]
    fn external_addresses_in_every_spelling_are_external_and_allowed_ones_are_not() {
        let none = allow(&[]);
        let ten = allow(&["10.0.0.0/8", "fd00::/8"]);
        for raw in [
            "8.8.8.8",
            "10.0.0.1",
            "111.111.111.111",
            "134744072",
            "0x08080808",
            "010.34.56.78",
            "[::ffff:8.8.8.8]",
            "[2001:4860:4860::8888]",
            "[fd00::1]",
        ] {
            assert_eq!(kind(raw, &none), Some(HostKind::ExternalIp), "{raw}");
        }
        // internal by the allow-list, in every spelling
        for raw in [
            "10.0.0.1",
            "012.0.0.1",
            "0x0a000001",
            "167772161",
            "10.1",
            "[::ffff:10.0.0.1]",
            "[fd00::1]",
        ] {
            assert_eq!(kind(raw, &ten), Some(HostKind::Harmless), "{raw}");
        }
        // 010.34.56.78 is 8.34.56.78: outside 10/8
        assert_eq!(kind("010.34.56.78", &ten), Some(HostKind::ExternalIp));
    }

    #[test]
    fn mapped_addresses_are_shown_as_ipv4() {
        let h = parse_authority(b"[::ffff:808:808]").unwrap();
        assert_eq!(show(&h), "[::ffff:8.8.8.8]");
        let h = parse_authority(b"[2001:db8::1]").unwrap();
        assert_eq!(show(&h), "[2001:db8::1]");
        assert_eq!(show(&parse_authority(b"0x08080808").unwrap()), "8.8.8.8");
    }

    #[test]
    fn short_and_repetitive_hosts_are_real() {
        let none = allow(&[]);
        assert_eq!(kind("ccc.cc", &none), Some(HostKind::External));
        assert_eq!(kind("aaa.aa", &none), Some(HostKind::External));
        assert_eq!(kind("x.io", &none), Some(HostKind::External));
    }

    #[test]
    fn loopback_link_local_and_unspecified_are_harmless() {
        let none = allow(&[]);
        for raw in [
            "127.0.0.1",
            "127.1",
            "0x7f000001",
            "2130706433",
            "0.0.0.0",
            "169.254.169.254",
            "[::1]",
            "[::]",
            "[fe80::1]",
            "[::ffff:127.0.0.1]",
            "localhost",
            "LOCALHOST.",
            "api.localhost",
        ] {
            assert_eq!(kind(raw, &none), Some(HostKind::Harmless), "{raw}");
        }
    }

    #[test]
    fn percent_encoded_and_idna_hosts_are_decoded() {
        let corp = allow(&["corp.lan", "bücher.example.de"]);
        assert_eq!(
            parse_authority(b"%65vil.io"),
            Some(Host::Domain("evil.io".into()))
        );
        assert_eq!(kind("%65vil.io", &corp), Some(HostKind::External));
        assert_eq!(
            parse_authority("bücher.de".as_bytes()),
            Some(Host::Domain("xn--bcher-kva.de".into()))
        );
        assert_eq!(kind("bücher.de", &corp), Some(HostKind::External));
        // fullwidth letters fold to ASCII: this is the allowed corp.lan
        assert_eq!(kind("ｃｏｒｐ.lan", &corp), Some(HostKind::Harmless));
        assert_eq!(kind("git.%63orp.lan", &corp), Some(HostKind::Harmless));
        assert_eq!(
            kind("www.xn--bcher-kva.example.de", &corp),
            Some(HostKind::Harmless)
        );
        assert_eq!(kind("shop.xn--p1ai", &corp), Some(HostKind::External));
        // not hosts: nothing a client could connect to
        assert_eq!(parse_authority(b"%(host)s"), None);
        assert_eq!(parse_authority(b"{host}"), None);
        assert_eq!(parse_authority(b"$HOST"), None);
        assert_eq!(parse_authority(b"*.corp.lan"), None);
        assert_eq!(parse_authority(b""), None);
    }

    #[test]
    fn allowed_domains_cover_their_subdomains_only() {
        let a = allow(&["corp.example", "*.Lab.Internal."]);
        assert!(a.allows_domain("corp.example"));
        assert!(a.allows_domain("git.corp.example"));
        assert!(a.allows_domain("a.b.lab.internal"));
        assert!(!a.allows_domain("evilcorp.example"));
        assert!(!a.allows_domain("example"));
        assert!(!a.allows_domain("corp.example.attacker.io"));
        assert!(!a.allows_domain("xlab.internal"));
        // the user info is not the host
        assert_eq!(
            kind("corp.example@evil.io", &a),
            Some(HostKind::External),
            "user info"
        );
    }

    #[test]
    fn bad_allow_entries_are_errors() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/x",
            "",
            "*.",
            "a b.lan",
            "fd00::/129",
        ] {
            assert!(AllowList::new(&[bad]).is_err(), "{bad:?}");
        }
        assert!(AllowList::new(&["10.0.0.0/8", "::1", "[fd00::1]", "corp.lan"]).is_ok());
    }

    #[test]
    fn reserved_namespace_and_version_like_names() {
        let none = allow(&[]);
        for h in [
            "www.example.com",
            "api.test",
            "www.w3.org",
            "v1.0a",
            "a.b.c1",
        ] {
            assert_eq!(kind(h, &none), Some(HostKind::Harmless), "{h}");
        }
        let none = AllowList::new::<&str>(&[]).unwrap();
        for h in ["updates.example.net", "example.com", "api.test"] {
            let host = Host::Domain(h.to_string());
            assert_eq!(classify(&host, &none), HostKind::Harmless, "{h}");
            assert_eq!(classify_call(&host, &none), HostKind::External, "{h}");
        }
        let host = Host::Domain("localhost".to_string());
        assert_eq!(classify_call(&host, &none), HostKind::Harmless);
        for h in ["notexample.com", "a.contest", "huggingface.co"] {
            assert_eq!(kind(h, &none), Some(HostKind::External), "{h}");
        }
        // trailing punctuation from prose is not part of the host
        assert_eq!(
            parse_authority(b"evil.io),"),
            Some(Host::Domain("evil.io".into()))
        );
        assert_eq!(
            parse_authority(b"evil.io]"),
            Some(Host::Domain("evil.io".into()))
        );
    }

    /// The plain-name reading agrees with the URL parser on every name it takes, and leaves
    /// it the rest (numbers, IDNA, empty or long labels, ports, user info, brackets).
    #[test]
    fn plain_names_read_as_the_url_parser_reads_them() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let alphabet = b"aZ09x-.n";
        let mut taken = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 1 + (x % 14) as usize;
            let s: String = (0..n)
                .map(|k| alphabet[((x >> (3 * k + 8)) & 7) as usize] as char)
                .collect();
            if let Some(d) = plain_domain(&s) {
                taken += 1;
                assert_eq!(Some(Host::Domain(d)), via_url(&s), "{s}");
            }
        }
        assert!(
            taken > 1000,
            "the generator reaches the plain case ({taken})"
        );
        for (s, plain) in [
            ("Evil.IO", true),
            ("a-b.c--d.example", true),
            ("xn--bcher-kva.de", false),
            ("a.XN--p1ai", false),
            ("8.8.8.8", false),
            ("0x08080808", false),
            ("a.b.0x1", false),
            ("1.2.3.example", true),
            ("a..b", false),
            (".a.b", false),
            ("host:8080", false),
            ("u@host", false),
            ("b\u{fc}cher.de", false),
        ] {
            assert_eq!(plain_domain(s).is_some(), plain, "{s}");
            if let Some(d) = plain_domain(s) {
                assert_eq!(Some(Host::Domain(d)), via_url(s), "{s}");
            }
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(plain_domain(&long).is_none());
    }
}
