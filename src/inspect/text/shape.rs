//! What a matched value looks like: a published example or filler, a masked value, a JSON
//! Web Token with a real header, a generic name that is not a secret's, `user:password` in
//! base64. Offline and allocation-light: these run per candidate match.

use base64::Engine as _;

/// The message note of a finding whose value is a published example.
pub const EXAMPLE_NOTE: &str = "a published example or vendor placeholder value, not a live \
     credential (listed for information)";
/// The message note of a finding lowered by its rule's `lower_near` context.
pub const PUBLIC_NOTE: &str = "public by design in this context (a browser key in a web SDK \
     configuration, a mobile SDK key that ships inside the app); check that its API \
     restrictions are set";

/// The message note of a value in a token's format that counts up like a made-up example.
pub const MADE_UP_NOTE: &str = "has the format, but its characters count up \
     (`abcd1234…`) like a made-up example; check whether it is real";

/// The message note of a token whose built-in checksum fails (GitHub, npm).
pub const CHECKSUM_NOTE: &str = "has the token's format but its checksum fails, so it is \
     not a live token (a test or made-up value; listed for information)";

/// The message note of a credential whose own expiry has passed (a JWT's `exp`, a SAS
/// token's `se`).
pub const EXPIRED_NOTE: &str = "has expired by its own expiry field, so it no longer opens \
     anything (listed for information; check that no live copy sits elsewhere)";

/// Credentials that vendors publish in their documentation or ship in emulators, so they
/// appear in countless READMEs and tests and open nothing.
const PUBLISHED: &[&str] = &[
    // the Azure Storage emulator (Azurite) account key for devstoreaccount1
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    // the signature of the jwt.io documentation token (HS256, "your-256-bit-secret")
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
];

/// Whether `value` is a published example (the AWS documentation's `…EXAMPLE` and
/// `…EXAMPLEKEY` keys, the storage emulator's key, the jwt.io token, the Firebase SDKs'
/// test keys, a JWT signed with a documentation debugger's default key: see
/// [`super::published`]) or a vendor filler: the
/// part after the rule's keyword made of one or two repeated characters or a counting run
/// (`glc_1111…`, `ghp_0123456789…`). Masked values (`xxxx`, `****`) are not examples: they
/// are dropped (see [`masked`]).
pub fn published_example(value: &[u8], keywords: &[String]) -> bool {
    if masked(value) {
        return false;
    }
    let core = value.strip_suffix(b"==").unwrap_or(value);
    if core.ends_with(b"EXAMPLE") || core.ends_with(b"EXAMPLEKEY") {
        return true;
    }
    if PUBLISHED
        .iter()
        .any(|p| memchr::memmem::find(value, p.as_bytes()).is_some())
        || super::published::firebase_sdk_key(value)
        || super::published::jwt_signed_with_doc_key(value)
    {
        return true;
    }
    // a vendor's filler: the body after the longest keyword the value starts with (a
    // value without such a prefix is a plain placeholder, dropped)
    let skip = keywords
        .iter()
        .filter(|k| value.len() >= k.len() && value[..k.len()].eq_ignore_ascii_case(k.as_bytes()))
        .map(String::len)
        .max()
        .unwrap_or(0);
    skip > 0 && filler(&value[skip..])
}

/// Alphanumerics of `body` (at least 8) that repeat one or two characters, or count up.
fn filler(body: &[u8]) -> bool {
    let alnum: Vec<u8> = body
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if alnum.len() < 8 {
        return false;
    }
    let mut seen = [false; 256];
    let distinct = alnum
        .iter()
        .filter(|&&b| !std::mem::replace(&mut seen[b as usize], true))
        .count();
    if distinct <= 2 {
        return true;
    }
    // runs like 0123456789abcdef… or 1111-2222: each character the last one or the next
    let steady = alnum
        .windows(2)
        .filter(|w| w[1] == w[0] || w[1] == w[0].wrapping_add(1))
        .count();
    steady * 10 >= (alnum.len() - 1) * 9
}

/// A counting run rather than a random string: the value's letters, and its digits, each
/// mostly step up by one (`abc123def456`, `a1b2c3d4e5f6`, `1234567890abcdef`), as in
/// made-up examples. At least 12 alphanumerics.
pub fn counting(value: &[u8]) -> bool {
    let (mut letters, mut digits) = ((0u32, 0u32, None::<u8>), (0u32, 0u32, None::<u8>));
    let mut n = 0;
    for &b in value {
        let b = b.to_ascii_lowercase();
        let (run, first, last) = if b.is_ascii_lowercase() {
            (&mut letters, b'a', b'z')
        } else if b.is_ascii_digit() {
            (&mut digits, b'0', b'9')
        } else {
            continue;
        };
        n += 1;
        if let Some(p) = run.2 {
            run.1 += 1;
            if b == p + 1 || (p == last && b == first) {
                run.0 += 1;
            }
        }
        run.2 = Some(b);
    }
    let steps = letters.1 + digits.1;
    n >= 12 && steps > 0 && (letters.0 + digits.0) * 10 >= steps * 6
}

/// The message note of a catch-all match whose value is hex with a stray letter.
pub const EDITED_NOTE: &str = "is lower-case hex but for one or two letters outside hex, \
     which no encoder writes: an edited or made-up value (listed for information)";

/// Lower-case hex (at least 20 characters, after an optional vendor prefix of two to four
/// capitals such as `SK`) with one or two letters outside `0-9a-f`: an encoder writes hex
/// or a wider alphabet, never hex with a stray `q`; a random value from a wider alphabet
/// almost never keeps to hex but for one or two characters. A single capital before hex
/// is no vendor's prefix: it counts as a stray letter.
pub fn edited_hex(value: &[u8]) -> bool {
    let caps = value
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_uppercase())
        .count();
    let core = if caps >= 2 { &value[caps..] } else { value };
    if core.len() < 20 || !core.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let stray = core
        .iter()
        .filter(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        .count();
    (1..=2).contains(&stray)
}

/// Made of runs of repeated characters (`AAAABBBBCCCC`, `5555555dAAAAA7777777`): at least
/// 30 % of the value in runs of three or more, of at least three different characters.
/// Random strings almost never have such runs; base64 of binary data has runs of `A` (zero
/// bytes) only, which do not count as three characters.
pub fn repetitive(value: &[u8]) -> bool {
    if value.len() < 12 {
        return false;
    }
    let (mut in_runs, mut run) = (0usize, 1usize);
    let mut chars = [false; 256];
    for i in 1..=value.len() {
        if i < value.len() && value[i] == value[i - 1] {
            run += 1;
            continue;
        }
        if run >= 3 {
            in_runs += run;
            chars[value[i - 1] as usize] = true;
        }
        run = 1;
    }
    in_runs * 10 >= value.len() * 3 && chars.iter().filter(|&&c| c).count() >= 3
}

/// The base64url engine for JWT segments (padding optional, trailing bits allowed).
fn b64url() -> base64::engine::GeneralPurpose {
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
}

/// A JWT whose payload names an expiry (`exp`, seconds since the epoch) before `now`.
pub fn jwt_expired(value: &[u8], now: i64) -> bool {
    let Some(payload) = value.split(|&b| b == b'.').nth(1) else {
        return false;
    };
    if payload.len() > 8192 {
        return false;
    }
    let Ok(json) = b64url().decode(payload) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json)
        .ok()
        .and_then(|m| m.get("exp").and_then(serde_json::Value::as_f64))
        .is_some_and(|exp| exp < now as f64)
}

/// A shared access signature whose `se=` (signed expiry, `YYYY-MM-DD…`) day has ended
/// before `now`.
pub fn sas_expired(text: &[u8], now: i64) -> bool {
    let Some(at) = memchr::memmem::find_iter(text, b"se=")
        .find(|&i| i == 0 || matches!(text[i - 1], b'?' | b'&' | b';' | b'"' | b'\''))
    else {
        return false;
    };
    let d = &text[at + 3..];
    let date = match d.get(..10) {
        Some(x) if x[4] == b'-' && x[7] == b'-' => x,
        _ => return false,
    };
    let Ok(date) = std::str::from_utf8(date) else {
        return false;
    };
    match crate::util::parse_time(&format!("{date}T23:59:59Z")) {
        Ok(end) => end < now,
        Err(_) => false,
    }
}

/// Masked or templated values: `****`, `xxxx`, `••••`, `<redacted>`, `[hidden]`, `${VAR}`,
/// `{{ var }}`, `#{var}`, `%(var)s`, `%VAR%`, `@VAR@`, `{var}`.
pub fn masked(value: &[u8]) -> bool {
    static WORDS: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::OnceLock::new();
    const MASKS: &[&str] = &[
        "***",
        "xxxx",
        "####",
        "\u{2022}\u{2022}",
        "\u{2026}",
        "...",
        "redacted",
        "masked",
        "obfuscated",
        "censored",
        "[hidden",
        "{{",
        "${",
        "#{",
        "%(",
        "$(",
        "<%",
    ];
    let found = match WORDS.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(MASKS)
            .ok()
    }) {
        Some(ac) => ac.is_match(value),
        None => MASKS.iter().any(|m| {
            value
                .windows(m.len())
                .any(|w| w.eq_ignore_ascii_case(m.as_bytes()))
        }),
    };
    if found {
        return true;
    }
    let wrapped = |a: u8, b: u8| value.len() >= 3 && value[0] == a && value[value.len() - 1] == b;
    wrapped(b'<', b'>')
        || wrapped(b'{', b'}')
        || wrapped(b'[', b']')
        || wrapped(b'%', b'%')
        || wrapped(b'@', b'@')
}

/// A JSON Web Token whose header (the first dot-separated segment, base64url) decodes to
/// a JSON object naming its algorithm (`"alg": "…"`).
pub fn jwt_ok(value: &[u8]) -> bool {
    let head = value.split(|&b| b == b'.').next().unwrap_or(value);
    if head.len() > 4096 {
        return false;
    }
    let head = head.strip_suffix(b"==").unwrap_or(head);
    let head = head.strip_suffix(b"=").unwrap_or(head);
    let Ok(json) = b64url().decode(head) else {
        return false;
    };
    let alg = match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json) {
        Ok(m) => m.get("alg").is_some_and(serde_json::Value::is_string),
        Err(_) => false,
    };
    // a signed token (three parts) carries its claims as a JSON object too
    let mut parts = value.split(|&b| b == b'.');
    let claims = match (parts.nth(1), parts.next(), parts.next()) {
        (Some(p), Some(_), None) if p.len() <= 8192 => b64url().decode(p).ok().is_some_and(|c| {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&c).is_ok()
        }),
        (Some(p), Some(_), None) => p.len() > 8192,
        _ => true,
    };
    alg && claims
}

/// Words that, as the last word of a name, make it name something other than a secret:
/// an identifier, a place, a size, a setting about the secret.
const NOT_SECRET_LAST: &[&str] = &[
    "id",
    "ids",
    "name",
    "names",
    "type",
    "types",
    "kind",
    "url",
    "uri",
    "urls",
    "endpoint",
    "host",
    "path",
    "file",
    "filename",
    "dir",
    "count",
    "length",
    "len",
    "size",
    "limit",
    "prefix",
    "suffix",
    "format",
    "field",
    "fields",
    "header",
    "param",
    "ref",
    "arn",
    "expiry",
    "expires",
    "expiration",
    "ttl",
    "timeout",
    "version",
    "label",
    "hint",
    "description",
    "desc",
    "policy",
    "provider",
    "scope",
    "scopes",
    "mode",
    "enabled",
    "location",
    "region",
    "index",
    "idx",
    "usage",
    "manager",
    "store",
    "service",
    "class",
    "method",
    "source",
    "tenant",
    "subscription",
    "org",
    "organization",
    "project",
    "domain",
    "account",
    "user",
    "username",
    "email",
    "channel",
    "zone",
    "app",
    "cluster",
    "instance",
    "workspace",
    "team",
];

/// Words that anywhere in a name make it something other than a secret.
const NOT_SECRET_ANY: &[&str] = &[
    "public",
    "publishable",
    "tokenizer",
    "tokenize",
    "tokenized",
    "tokens",
    "max",
    "min",
    "num",
    "page",
    "next",
    "continuation",
    "cursor",
    "pagination",
    "cancellation",
    "sync",
];

/// For a generic `name = value` match at `buf[start..end]`: the whole name around the
/// match's start does not name an identifier or a public value, and the value is not a
/// path, a dotted name or a plain phrase. A value that counts up (`abcd1234…`) passes
/// here like a random one: the caller lists it at low as most likely made up, so that
/// what cannot be ruled out is still shown.
pub fn secret_name_ok(buf: &[u8], start: usize, end: usize, value: &[u8]) -> bool {
    let name_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.';
    let mut a = start;
    while a > 0 && start - a < 64 && name_char(buf[a - 1]) {
        a -= 1;
    }
    let mut b = start;
    while b < end && b - start < 96 && name_char(buf[b]) {
        b += 1;
    }
    let words = name_words(&buf[a..b]);
    if let Some(last) = words.last() {
        if NOT_SECRET_LAST.contains(&last.as_str()) {
            return false;
        }
    }
    if words.iter().any(|w| NOT_SECRET_ANY.contains(&w.as_str())) {
        return false;
    }
    // a password may hold any character; a key, token or secret that a service issues is
    // drawn from a token alphabet (base64, base64url, hex, with `.` `~` `:` separators)
    let password = words.iter().any(|w| PASSWORD_WORDS.contains(&w.as_str()));
    (password || token_alphabet(value)) && random_or_counting(value)
}

/// Name words that make a value a password (any printable character may be in it).
const PASSWORD_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "passcode",
];

/// Whether every character of `v` is one a service's token is made of: letters, digits,
/// `-` `_` `.` `~` `+` `/` `=` `:`, and `%` only as a percent-escape (`%2B`). Printf
/// directives (`%c`), `^`, `&`, `$`, `!`, `@`, `#`, `*` make a typed password or a
/// template, not an issued token.
pub fn token_alphabet(v: &[u8]) -> bool {
    let mut i = 0;
    while i < v.len() {
        let c = v[i];
        if c == b'%' {
            let hex = |k: usize| v.get(k).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(c.is_ascii_alphanumeric() || b"-_.~+/=:".contains(&c)) {
            return false;
        }
        i += 1;
    }
    true
}

/// A value that can be a random credential: it holds a digit and a letter, and is not a
/// URL, a path or dotted name of words, a phrase, or a counting run.
pub fn random_value(v: &[u8]) -> bool {
    random_or_counting(v) && !counting(v)
}

/// [`random_value`] but for the counting test: a value with the make-up of a credential,
/// random or counting up (a counting run may be letters or digits alone: `abcdefgh…`,
/// `1234567890…`).
fn random_or_counting(v: &[u8]) -> bool {
    let lower = v.to_ascii_lowercase();
    // publishable keys are public by design (`pk_live_…`, `live_pub_…`)
    let public = lower.starts_with(b"pk_") || memchr::memmem::find(&lower, b"_pub_").is_some();
    let mixed = v.iter().any(u8::is_ascii_digit) && v.iter().any(u8::is_ascii_alphabetic);
    !public && (mixed || counting(v)) && memchr::memmem::find(v, b"://").is_none() && !not_random(v)
}

/// Whole passwords that are stock fillers on command lines and in examples.
const FILLER_PASSWORDS: &[&str] = &[
    "token",
    "apikey",
    "api_key",
    "key",
    "pwd",
    "passw0rd",
    "pass123",
    "secret123",
    "hunter2",
    "123456",
    "1234",
    "foobar",
    "foo",
    "bar",
    "yyy",
    "xxx",
    "abc",
    "abc123",
    "username",
];

/// A credential on a command line or in a credential file: `user:password` (split at the
/// first `:`) or a password alone. The password must be a real value: not empty, not a
/// variable or command substitution, not a placeholder, a mask or a stock filler.
pub fn credential_ok(value: &[u8]) -> bool {
    let unquote = |v: &'_ [u8]| -> Vec<u8> {
        let t = |b: &u8| matches!(b, b'"' | b'\'');
        let a = v.iter().position(|b| !t(b)).unwrap_or(v.len());
        let z = v.iter().rposition(|b| !t(b)).map_or(a, |z| z + 1);
        v[a..z.max(a)].to_vec()
    };
    let (user, pw) = match value.iter().position(|&b| b == b':') {
        Some(i) => (unquote(&value[..i]), unquote(&value[i + 1..])),
        None => (Vec::new(), unquote(value)),
    };
    let (user, pw) = (&user[..], &pw[..]);
    // (`\$name`: a variable escaped for a shell here-document or a YAML string)
    let variable = |v: &[u8]| {
        matches!(
            v.first(),
            Some(b'$' | b'%' | b'{' | b'<' | b'`' | b'(' | b'[')
        ) || v.starts_with(b"\\$")
            || memchr::memmem::find(v, b"$(").is_some()
            || memchr::memmem::find(v, b"${").is_some()
    };
    if pw.len() < 3 || variable(pw) || variable(user) {
        return false;
    }
    if super::checks::is_placeholder(pw) || masked(pw) || masked(value) {
        return false;
    }
    if FILLER_PASSWORDS
        .iter()
        .any(|f| pw.eq_ignore_ascii_case(f.as_bytes()))
    {
        return false;
    }
    // a name for the password rather than one (`MY-PASSWORD`, `db_secret`)
    let lower = pw.to_ascii_lowercase();
    if !pw.iter().any(u8::is_ascii_digit)
        && ["password", "passwd", "secret", "token"]
            .iter()
            .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
    {
        return false;
    }
    let mut seen = [false; 256];
    let distinct = pw
        .iter()
        .filter(|&&b| !std::mem::replace(&mut seen[b as usize], true))
        .count();
    distinct > 2
}

/// A name split into lower-case words at `_`, `-`, `.` and camelCase humps.
fn name_words(name: &[u8]) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for &c in name {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase() as char);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Values that are clearly not random strings: a path or dotted name of lower-case words
/// (`projects/ml/secrets/db`, `com.example.auth`), a phrase of words joined by `_`/`-`
/// without digits (`my-secret-for-staging`), or a reference to a secret store
/// (`vault:`, `arn:`, `sm://`).
fn not_random(v: &[u8]) -> bool {
    let lower = v.to_ascii_lowercase();
    for p in [
        &b"vault:"[..],
        b"arn:",
        b"sm://",
        b"secret://",
        b"projects/",
        b"file:",
        b"env:",
    ] {
        if lower.starts_with(p) {
            return true;
        }
    }
    let segs: Vec<&[u8]> = v
        .split(|&b| matches!(b, b'/' | b'.' | b'_' | b'-' | b':'))
        .filter(|s| !s.is_empty())
        .collect();
    // words: every segment alphabetic, and lower case (or capitalised)
    segs.len() >= 3
        && segs.iter().all(|s| {
            s.iter().all(u8::is_ascii_alphabetic) && s.iter().skip(1).all(u8::is_ascii_lowercase)
        })
}

/// A Docker `auth` value: standard base64 of `user:password`, both non-empty, printable.
pub fn basic_auth_b64(value: &[u8]) -> bool {
    if value.len() > 1024 {
        return false;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let Ok(d) = engine.decode(value) else {
        return false;
    };
    let Some(colon) = d.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0
        && colon + 1 < d.len()
        && d.iter().all(|&b| b.is_ascii_graphic() || b == b' ')
        && !d[..colon].contains(&b' ')
}

#[cfg(test)]
#[path = "shape_tests.rs"]
mod tests;
