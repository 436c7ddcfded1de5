//! The last word on a candidate match: the rule's value group, placeholders, the entropy
//! floor, the rule's check (checksum, host, setting, call target, ...), and a gitleaks
//! rule's path filter and allowlists.

use super::checks::{entropy, github_checksum_ok, is_placeholder};
use super::context::{
    call_target, in_license_text, is_license_file, is_source_code, names_a_namespace, setting_on,
};
use super::host::{classify, classify_call, parse_authority, show, AllowList, HostKind};
use super::matcher::RawMatch;
use super::names::{names_in, FORMAT_NOTE};
use super::rules::{Check, Rule, FAR_DOWNLOAD, MAX_LINE_LOOKBACK, NEAR};
use super::shape;
use crate::inspect::Severity;
use regex_automata::util::captures::Captures;
use url::Host;

/// How far after a match a call's first argument is looked for: a match starts at most
/// [`MAX_MATCH`](super::matcher::MAX_MATCH) bytes before its end, and a streamed chunk keeps
/// [`OVERLAP`](super::matcher::OVERLAP) bytes after its region, so these bytes are always
/// there and a file scanned whole or in chunks gives the same answer.
const AFTER: usize = super::matcher::OVERLAP - super::matcher::MAX_MATCH;

/// Where a candidate lies: the file, the buffer, the match and the value.
pub struct Candidate<'a> {
    pub path: &'a str,
    pub buf: &'a [u8],
    pub start: usize,
    pub end: usize,
    pub vs: usize,
    pub ve: usize,
}

/// The value's span in a match: the rule's group, or (gitleaks) the first group that took
/// part in the match and is not empty, else the whole match.
pub fn value_span(rule: &Rule, caps: &Captures) -> Option<(usize, usize)> {
    match rule.group {
        Some(g) => caps.get_group(g).map(|s| (s.start, s.end)),
        None => {
            let n = caps.group_len();
            (1..n)
                .filter_map(|g| caps.get_group(g))
                .find(|s| s.end > s.start)
                .or_else(|| caps.get_group(0))
                .map(|s| (s.start, s.end))
        }
    }
}

/// What the host checks worked out for one buffer of one file, kept for the candidates
/// after: the host read from the last value asked about and whether the text before it
/// names a namespace, for the next rule that asks about the same value at the same place
/// (`reachback.url` and `reachback.ip-url` read every URL's host; the two host settings
/// every setting's), and what the file's name says. All of it depends only on the file's
/// path, the buffer and the match's start and value.
#[derive(Default)]
pub struct HostMemo {
    /// `(start, value start, value end)` of the candidate the host belongs to.
    key: Option<(usize, usize, usize)>,
    /// `None`: no host to judge there (an expression in source code, no host).
    host: Option<Host<String>>,
    /// [`names_a_namespace`] of the line before the candidate, once asked.
    namespace: Option<bool>,
    /// [`is_source_code`] of the path, once asked.
    source_code: Option<bool>,
    /// [`is_license_file`] of the path, once asked.
    license_file: Option<bool>,
}

impl HostMemo {
    /// Whether the file is a licence or notice file ([`is_license_file`]).
    fn license_file(&mut self, path: &str) -> bool {
        *self
            .license_file
            .get_or_insert_with(|| is_license_file(path))
    }

    /// Make the memo hold `cand`'s place.
    fn at(&mut self, cand: &Candidate<'_>) {
        let key = (cand.start, cand.vs, cand.ve);
        if self.key != Some(key) {
            let source_code = *self
                .source_code
                .get_or_insert_with(|| is_source_code(cand.path));
            self.host = candidate_host(cand, source_code);
            self.namespace = None;
            self.key = Some(key);
        }
    }

    /// Whether the line before `cand` names a namespace there (`xmlns=`, `$schema`, ...):
    /// then its URL is a name, not a place to connect to. `cand` is the memo's place.
    fn namespace(&mut self, cand: &Candidate<'_>) -> bool {
        *self.namespace.get_or_insert_with(|| {
            let (buf, start) = (cand.buf, cand.start);
            // the line before the match, at most 256 bytes of it (looked for only there:
            // a long line must not cost a backward scan per candidate)
            let near = start.saturating_sub(256);
            let line_start =
                memchr::memrchr(b'\n', &buf[near..start]).map_or(near, |p| near + p + 1);
            let before = String::from_utf8_lossy(&buf[line_start..start]).to_ascii_lowercase();
            names_a_namespace(&before)
        })
    }
}

/// The host named by a host-checked candidate's value, or `None` where there is none to
/// judge: an expression in program source (`source_code`: the file is program source,
/// see [`is_source_code`]), a value that is not a host.
fn candidate_host(cand: &Candidate<'_>, source_code: bool) -> Option<Host<String>> {
    // a setting's bare value in program source is an expression (`host =
    // self.proxy.host`); there a host is a quoted string or follows `://` / `@`
    let lead = &cand.buf[cand.vs.saturating_sub(3)..cand.vs];
    let literal = lead.ends_with(b"://")
        || lead.ends_with(b"@")
        || lead.ends_with(b"\"")
        || lead.ends_with(b"'");
    if !literal && source_code {
        return None;
    }
    parse_authority(&cand.buf[cand.vs..cand.ve])
}

/// Apply the rule's filters to a candidate; the accepted match, or `None`.
/// `markers` are the specific secret rules' format marks (see the matcher), which a
/// catch-all rule leaves to them. `memo` carries a host read by an earlier rule at the same
/// place of the same buffer.
pub fn accept(
    rule: &Rule,
    ri: usize,
    cand: &Candidate<'_>,
    allow: &AllowList,
    markers: Option<&aho_corasick::AhoCorasick>,
    memo: &mut HostMemo,
) -> Option<RawMatch> {
    let (buf, start, end) = (cand.buf, cand.start, cand.end);
    let value = &buf[cand.vs..cand.ve];
    let host_check = matches!(
        rule.def.check,
        Some(Check::ExternalHost | Check::ExternalIp)
    );
    let secret = rule.def.category == super::rules::RuleCategory::Secret;
    // a published example (AWS documentation keys, the storage emulator's key) or a
    // vendor's filler value: listed for information, never as a live credential
    let example = secret && shape::published_example(value, &rule.def.keywords);
    // a counting run such as `abcd1234abcd1234…`, in a specific rule's format or beside a
    // secret's name: listed at low, as most likely made up, never dropped (an operator
    // must be able to tell a made-up value from one nothing was found in)
    let made_up = secret && !example && shape::counting(value) && !shape::masked(value);
    if !example && !made_up {
        // a host is judged by where it leads, never by looking like a placeholder
        if !rule.def.keep_placeholders
            && ((!host_check && is_placeholder(value))
                // (a counting secret is `made_up` unless masked: listed above, not here)
                || (secret && (shape::masked(value) || shape::repetitive(value))))
        {
            return None;
        }
        if let Some(floor) = rule.def.entropy {
            let e = entropy(value);
            // gitleaks keeps values strictly above its floor
            if e < floor || (rule.scope.is_some() && e <= floor) {
                return None;
            }
        }
    }
    if rule.def.fallback && markers.is_some_and(|m| m.is_match(value)) {
        return None;
    }
    // a value that fits none of the key formats of the provider named beside it
    let mut off_format = false;
    if !rule.names.is_empty() {
        let from = start.saturating_sub(super::rules::NAMES_BACK);
        let line = memchr::memrchr(b'\n', &buf[from..start]).map_or(from, |p| from + p + 1);
        let limit = if rule.formats.is_empty() { 1 } else { 8 };
        let named = names_in(&buf[line..start], &rule.names, limit);
        if named.is_empty() {
            return None;
        }
        off_format = secret && !example && !rule.formats.may_fit(&named, value);
    }
    if let Some(ac) = &rule.needs {
        let (a, b) = (start.saturating_sub(NEAR), (end + NEAR).min(buf.len()));
        if !ac.is_match(&buf[a..b]) {
            return None;
        }
    }
    if let Some(scope) = &rule.scope {
        if !scope.applies_to(cand.path)
            || scope.allows(cand.path, buf, (start, end), (cand.vs, cand.ve))
        {
            return None;
        }
    }
    let mut host = None;
    let mut checksum_fails = false;
    let mut expired = false;
    match rule.def.check {
        None => {}
        Some(Check::Jwt) if !shape::jwt_ok(value) => return None,
        Some(Check::Jwt) => expired = shape::jwt_expired(value, crate::util::now_secs()),
        Some(Check::SasExpiry) => {
            // the expiry may sit anywhere among the token's fields on its line
            let a = start.saturating_sub(NEAR);
            let a = memchr::memrchr(b'\n', &buf[a..start]).map_or(a, |p| a + p + 1);
            let b = (end + NEAR).min(buf.len());
            let b = memchr::memchr(b'\n', &buf[end..b]).map_or(b, |p| end + p);
            expired = shape::sas_expired(&buf[a..b], crate::util::now_secs())
        }
        Some(Check::SecretName) if !shape::secret_name_ok(buf, start, end, value) => return None,
        Some(Check::SecretName) => {}
        Some(Check::BasicAuthB64) if !shape::basic_auth_b64(value) => return None,
        Some(Check::BasicAuthB64) => {}
        Some(Check::Credential) if !shape::credential_ok(value) => return None,
        Some(Check::Credential) => {}
        Some(Check::RandomValue) if !shape::random_value(value) => return None,
        Some(Check::RandomValue) => {}
        Some(Check::GithubCrc32) => checksum_fails = !github_checksum_ok(value),
        Some(Check::SettingOn) if !setting_on(&buf[start..end]) => return None,
        Some(Check::SettingOn) => {}
        Some(Check::DownloadFarBefore) => {
            let from = start.saturating_sub(MAX_LINE_LOOKBACK);
            let line = &buf[from..start];
            let line = match memchr::memrchr(b'\n', line) {
                Some(p) => &line[p + 1..],
                None => line,
            };
            let far = line.len().saturating_sub(FAR_DOWNLOAD);
            if !has_download_word(&line[..far]) {
                return None;
            }
        }
        Some(Check::NotOffline) => {
            let t = String::from_utf8_lossy(&buf[start..end]).to_ascii_lowercase();
            if ["offline", "disabled", "dryrun"]
                .iter()
                .any(|w| t.contains(w))
            {
                return None;
            }
        }
        Some(Check::CallTarget) => {
            let after = &buf[end..(end + AFTER).min(buf.len())];
            if let Some(target) = call_target(&buf[start..end], after) {
                if let Some(h) = parse_authority(target) {
                    if classify_call(&h, allow) == HostKind::Harmless {
                        return None;
                    }
                    host = Some(show(&h));
                }
            }
        }
        Some(c @ (Check::ExternalHost | Check::ExternalIp | Check::External)) => {
            // (every test here must pass: the cheap ones go first, and what another rule
            // already worked out for this place is not worked out again)
            let license_file = memo.license_file(cand.path);
            memo.at(cand);
            let kind = classify(memo.host.as_ref()?, allow);
            let wanted = match c {
                Check::ExternalHost => kind == HostKind::External,
                Check::ExternalIp => kind == HostKind::ExternalIp,
                _ => kind != HostKind::Harmless,
            };
            if !wanted || memo.namespace(cand) {
                return None;
            }
            // a licence names its publisher's site: not a network call
            if kind == HostKind::External && (license_file || in_license_text(buf, start)) {
                return None;
            }
            host = memo.host.as_ref().map(show);
        }
    }
    let (severity, lowered) = if example {
        (Some(Severity::Info), Some(shape::EXAMPLE_NOTE))
    } else if made_up {
        (Some(Severity::Low), Some(shape::MADE_UP_NOTE))
    } else if off_format {
        (Some(Severity::Info), Some(FORMAT_NOTE))
    } else if secret && rule.def.fallback && shape::edited_hex(value) {
        (Some(Severity::Info), Some(shape::EDITED_NOTE))
    } else if checksum_fails {
        (Some(Severity::Info), Some(shape::CHECKSUM_NOTE))
    } else if expired {
        (Some(Severity::Info), Some(shape::EXPIRED_NOTE))
    } else if rule.near.as_ref().is_some_and(|ac| {
        let (a, b) = (start.saturating_sub(NEAR), (end + NEAR).min(buf.len()));
        ac.is_match(&buf[a..b])
    }) {
        (
            Some(rule.def.lower_to.unwrap_or(Severity::Low)),
            Some(shape::PUBLIC_NOTE),
        )
    } else {
        (None, None)
    };
    Some(RawMatch {
        rule: ri,
        start,
        end,
        vstart: cand.vs,
        vend: cand.ve,
        host,
        severity,
        lowered,
    })
}

/// Whether `b` holds `curl` or `wget` as a word (ASCII case-insensitive).
fn has_download_word(b: &[u8]) -> bool {
    let word = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    b.windows(4).enumerate().any(|(i, w)| {
        (w.eq_ignore_ascii_case(b"curl") || w.eq_ignore_ascii_case(b"wget"))
            && !word(i.checked_sub(1).and_then(|j| b.get(j)))
            && !word(b.get(i + 4))
    })
}
