//! Checks a candidate match must pass: entropy floor, placeholders, the GitHub token
//! checksum (offline), and whether a host lies outside the enclave.

/// Shannon entropy of `v` in bits per byte.
pub fn entropy(v: &[u8]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in v {
        counts[b as usize] += 1;
    }
    let n = v.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Substrings (lower case) that mark a documented example or a template, not a live value.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    // the signature of the jwt.io documentation token ("John Doe", HS256, secret
    // "your-256-bit-secret"), copied into countless READMEs and test fixtures
    "sflkxwrjsmekkf2qt4fwpmejf36pok6yjv_adqssw5c",
    "your_",
    "your-",
    "yourapi",
    "<your",
    "placeholder",
    "changeme",
    "change_me",
    "dummy",
    "redacted",
    "xxxxxx",
    "******",
    "fake",
    "sample",
    "insert",
    "replace",
    "todo",
    "${",
    "{{",
    "<%",
    "%(",
    "$(",
    "env[",
    "getenv",
    "os.environ",
    "process.env",
    "secret_here",
    "token_here",
    "key_here",
    "12345678",
    "abcdefgh",
    "0000000000",
];

/// Whole values (lower case) that are stock dummies, not credentials.
const PLACEHOLDER_VALUES: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "guest",
    "admin",
    "root",
    "test",
    "user",
    "changeit",
    "letmein",
    "qwerty",
    "none",
    "null",
    "true",
    "false",
    "default",
    "mypassword",
    "p@ssw0rd",
];

/// Is `v` a placeholder such as `AKIAIOSFODNN7EXAMPLE`, `YOUR_API_KEY`, `${VAR}`, `<token>`,
/// `xxxx…`, or a value made of one repeated character?
pub fn is_placeholder(v: &[u8]) -> bool {
    static WORDS: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::OnceLock::new();
    // (Built from constants: it cannot fail; were it to, every word test below falls back
    // to a plain search.)
    let words = WORDS.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(PLACEHOLDER_WORDS)
            .ok()
    });
    let has_word = match words {
        Some(ac) => ac.is_match(v),
        None => PLACEHOLDER_WORDS.iter().any(|w| {
            v.windows(w.len())
                .any(|x| x.eq_ignore_ascii_case(w.as_bytes()))
        }),
    };
    if has_word
        || PLACEHOLDER_VALUES
            .iter()
            .any(|p| v.eq_ignore_ascii_case(p.as_bytes()))
    {
        return true;
    }
    if matches!(v.first(), Some(b'<' | b'$' | b'%')) {
        return true;
    }
    let distinct = {
        let mut seen = [false; 256];
        v.iter()
            .filter(|&&b| !std::mem::replace(&mut seen[b as usize], true))
            .count()
    };
    distinct <= 3 && v.len() >= 6
}

/// For a `name = value` setting: is it switched on? A name that negates (`disable`,
/// `opt_out`, `do_not_track`, `no_`) is on when its value is falsy.
pub fn setting_on(m: &[u8]) -> bool {
    let t = String::from_utf8_lossy(m).to_ascii_lowercase();
    let Some(p) = t.find([':', '=']) else {
        return false;
    };
    let (name, value) = (&t[..p], &t[p + 1..]);
    let value =
        value.trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '=');
    let negated = ["disable", "opt_out", "optout", "do_not", "no_"]
        .iter()
        .any(|w| name.contains(w));
    let truthy = ["true", "yes", "on", "1", "enabled", "enable"].contains(&value);
    let falsy = ["false", "no", "off", "0", "disabled", "disable"].contains(&value);
    if negated {
        falsy
    } else {
        truthy
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 of `n`, left-padded with `0` to `width` characters.
pub fn base62(mut n: u64, width: usize) -> String {
    let mut out = Vec::new();
    while n > 0 {
        out.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and npm (`npm_`) tokens end in 6 base62
/// characters that are the CRC32 of the random part between the 4-byte prefix and them.
pub fn github_checksum_ok(token: &[u8]) -> bool {
    if token.len() < 4 + 6 + 1 {
        return false;
    }
    let body = &token[4..token.len() - 6];
    let sum = &token[token.len() - 6..];
    let mut crc = flate2::Crc::new();
    crc.update(body);
    base62(u64::from(crc.sum()), 6).as_bytes() == sum
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

/// Is `host` (lower case, no port) inside `internal` (domains, their subdomains, IPv4
/// addresses or IPv4 CIDR blocks)?
pub fn is_internal(host: &str, internal: &[String]) -> bool {
    let host = host.trim_end_matches('.');
    let ip = parse_ipv4(host);
    internal.iter().any(|d| {
        let d = d.trim().trim_start_matches("*.").trim_end_matches('.');
        if let (Some(ip), Some((net, bits))) = (ip, parse_cidr(d)) {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            return ip & mask == net & mask;
        }
        host.eq_ignore_ascii_case(d) || is_subdomain_of(host, d)
    })
}

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (a, b) = match s.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()?),
        None => (s, 32),
    };
    (b <= 32).then_some(())?;
    Some((parse_ipv4(a)?, b))
}

/// Parse a dotted IPv4 address.
pub fn parse_ipv4(s: &str) -> Option<u32> {
    let mut n: u32 = 0;
    let mut parts = 0;
    for p in s.split('.') {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u32 = p.parse().ok()?;
        if v > 255 {
            return None;
        }
        n = (n << 8) | v;
        parts += 1;
    }
    (parts == 4).then_some(n)
}

/// Split a URL authority or host setting into the lower-case host (no user info, no port).
pub fn host_of(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw).to_ascii_lowercase();
    let s = s.rsplit_once('@').map(|(_, h)| h.to_string()).unwrap_or(s);
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    s.split(':')
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_string()
}

/// Where a host lies.
#[derive(Debug, PartialEq, Eq)]
pub enum HostKind {
    /// Loopback, unspecified, internal, documentation or schema namespace: not reachback.
    Harmless,
    External,
    ExternalIp,
}

/// Whether the URL after `ctx` (the lower-cased text before it on its line) is the value of
/// a name, not an address: the key or attribute right before it is `xmlns`/`xmlns:x`,
/// `$schema`, `$id` or a `…namespace`, or it lies inside a `schemaLocation` attribute or a
/// DOCTYPE declaration. The word must be where the value belongs: the same word elsewhere
/// on the line (`NAMESPACE=prod HF_ENDPOINT=https://…`) does not make a URL harmless.
fn names_a_namespace(ctx: &str) -> bool {
    let tail = ctx
        .trim_end_matches(|c: char| c.is_ascii_whitespace() || matches!(c, '"' | '\'' | '=' | ':'));
    let key = tail
        .rsplit(|c: char| c.is_ascii_whitespace() || matches!(c, '<' | '{' | ',' | '"' | '\''))
        .next()
        .unwrap_or("");
    if key == "xmlns"
        || key.starts_with("xmlns:")
        || key == "$schema"
        || key == "$id"
        || key.ends_with("namespace")
    {
        return true;
    }
    // inside an open `schemaLocation="ns url ns url"` attribute
    if let Some(i) = ctx.rfind("schemalocation=") {
        let after = &ctx[i + "schemalocation=".len()..];
        if let Some(q) = after.chars().next().filter(|c| matches!(c, '"' | '\'')) {
            if !after[1..].contains(q) {
                return true;
            }
        }
    }
    // inside an open `<!DOCTYPE … "url">` declaration
    ctx.rfind("<!doctype")
        .is_some_and(|i| !ctx[i..].contains('>'))
}

/// Whether `host` is a name under `domain` (`a.b.example` under `example`), without
/// allocating: this runs for every URL candidate.
/// ASCII case-insensitive.
fn is_subdomain_of(host: &str, domain: &str) -> bool {
    let (h, d) = (host.as_bytes(), domain.as_bytes());
    h.len() > d.len()
        && h[h.len() - d.len()..].eq_ignore_ascii_case(d)
        && h[h.len() - d.len() - 1] == b'.'
}

/// Classify `host`. `line_before` is the text before the match on its line: a URL that is
/// an `xmlns`, `$schema` or `schemaLocation` value is a name, not a network call.
pub fn classify_host(host: &str, line_before: &[u8], internal: &[String]) -> HostKind {
    if host.is_empty() || !host.contains(['.', ':']) {
        return HostKind::Harmless;
    }
    let ctx = String::from_utf8_lossy(line_before).to_ascii_lowercase();
    if names_a_namespace(&ctx) {
        return HostKind::Harmless;
    }
    if is_internal(host, internal) {
        return HostKind::Harmless;
    }
    if let Some(ip) = parse_ipv4(host) {
        let first = ip >> 24;
        if first == 127 || first == 0 {
            return HostKind::Harmless;
        }
        return HostKind::ExternalIp;
    }
    if host.contains(':') {
        // IPv6 literal
        return if host == "::1" || host == "::" {
            HostKind::Harmless
        } else {
            HostKind::ExternalIp
        };
    }
    if NAMESPACE_HOSTS.contains(&host)
        || RESERVED_SUFFIXES
            .iter()
            .any(|s| host == *s || is_subdomain_of(host, s))
    {
        return HostKind::Harmless;
    }
    // A "host" whose last label is not alphabetic (e.g. `1.2.3` or `v1.0`) is a version.
    let tld = host.rsplit('.').next().unwrap_or("");
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return HostKind::Harmless;
    }
    HostKind::External
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_domains_cover_their_subdomains_only() {
        let internal = vec!["corp.example".to_string(), "*.Lab.Internal.".to_string()];
        assert!(is_internal("corp.example", &internal));
        assert!(is_internal("git.corp.example", &internal));
        assert!(is_internal("GIT.Corp.Example", &internal));
        assert!(is_internal("a.b.lab.internal", &internal));
        // near misses: a name that only ends with the same letters, or a parent domain
        assert!(!is_internal("evilcorp.example", &internal));
        assert!(!is_internal("example", &internal));
        assert!(!is_internal("corp.example.attacker.io", &internal));
        assert!(!is_internal("xlab.internal", &internal));
    }

    #[test]
    fn reserved_suffixes_match_whole_labels() {
        assert_eq!(
            classify_host("www.example.com", b"", &[]),
            HostKind::Harmless
        );
        assert_eq!(classify_host("api.test", b"", &[]), HostKind::Harmless);
        // `notexample.com` is a real, registrable name: external
        assert_eq!(
            classify_host("notexample.com", b"", &[]),
            HostKind::External
        );
        assert_eq!(classify_host("latest", b"", &[]), HostKind::Harmless);
        assert_eq!(classify_host("a.contest", b"", &[]), HostKind::External);
    }

    #[test]
    fn entropy_orders() {
        assert!(entropy(b"aaaaaaaa") < 0.1);
        assert!(entropy(b"q8Zr2Lp0Xw7Nk3Vb") > 3.5);
    }

    #[test]
    fn placeholders() {
        for p in [
            "AKIAIOSFODNN7EXAMPLE",
            "YOUR_API_KEY",
            "${TOKEN}",
            "<token>",
            "xxxxxxxxxxxx",
            "{{ secret }}",
            "ChangeMe",
            "PassWord",
            "%(pw)s",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        for p in [
            "q8Zr2Lp0Xw7Nk3Vb",
            "AKIA2OGYBAH6QW7BZ5JX",
            "passwords-are-rotated-daily",
            "Xp4ssw0rd9",
        ] {
            assert!(!is_placeholder(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn github_checksum() {
        // body of 30 chars, checksum computed here
        let body = "R4nd0mB0dyOfThirtyCharsXyZ1234";
        let mut crc = flate2::Crc::new();
        crc.update(body.as_bytes());
        let tok = format!("ghp_{body}{}", base62(u64::from(crc.sum()), 6));
        assert!(github_checksum_ok(tok.as_bytes()));
        let mut bad = tok.into_bytes();
        let n = bad.len();
        bad[n - 1] = if bad[n - 1] == b'a' { b'b' } else { b'a' };
        assert!(!github_checksum_ok(&bad));
    }

    #[test]
    fn hosts() {
        let internal = vec!["corp.lan".to_string(), "10.0.0.0/8".to_string()];
        assert_eq!(
            classify_host("api.corp.lan", b"", &internal),
            HostKind::Harmless
        );
        assert_eq!(
            classify_host("10.2.3.4", b"", &internal),
            HostKind::Harmless
        );
        assert_eq!(
            classify_host("11.2.3.4", b"", &internal),
            HostKind::ExternalIp
        );
        assert_eq!(
            classify_host("127.0.0.1", b"", &internal),
            HostKind::Harmless
        );
        assert_eq!(
            classify_host("huggingface.co", b"", &internal),
            HostKind::External
        );
        assert_eq!(
            classify_host("www.w3.org", b"", &internal),
            HostKind::Harmless
        );
        assert_eq!(
            classify_host("evil.io", b"<a xmlns=\"", &internal),
            HostKind::Harmless
        );
        assert_eq!(
            classify_host("api.example.com", b"", &internal),
            HostKind::Harmless
        );
        for ctx in [
            &b"<a xmlns:x=\""[..],
            b"\"$schema\": \"",
            b"<xs:import namespace=\"",
            b"targetNamespace = '",
            b"<x xsi:schemaLocation=\"urn:a http://a.b/a.xsd urn:b ",
            b"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" \"",
        ] {
            assert_eq!(
                classify_host("evil.io", ctx, &internal),
                HostKind::Harmless,
                "{}",
                String::from_utf8_lossy(ctx)
            );
        }
        // the same words elsewhere on the line do not excuse an address
        for ctx in [
            &b"export NAMESPACE=prod HF_ENDPOINT="[..],
            b"xmlns=1 url = \"",
            b"<x schemaLocation=\"a\"/> curl ",
            b"<!DOCTYPE html> <script src=\"",
        ] {
            assert_eq!(
                classify_host("evil.io", ctx, &internal),
                HostKind::External,
                "{}",
                String::from_utf8_lossy(ctx)
            );
        }
        assert_eq!(host_of(b"user:pw@Host.COM:443"), "host.com");
    }
}
