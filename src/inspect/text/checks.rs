//! Checks a candidate secret must pass: entropy floor, placeholders, the GitHub token
//! checksum (offline). Hosts are judged in [`super::host`], settings and call targets in
//! [`super::context`].

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
    // a test suite's deliberately wrong value (`sk-abc123invalid`)
    "invalid",
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

#[cfg(test)]
mod tests {
    use super::*;

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
            "tok-9f3k2invalid",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        for p in [
            "q8Zr2Lp0Xw7Nk3Vb",
            "AKIA2OGYBAH6QW7BZ5JX",
            "passwords-are-rotated-daily",
            "Xp4ssw0rd9",
            "tok-9f3k2vAlid7q",
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
}
