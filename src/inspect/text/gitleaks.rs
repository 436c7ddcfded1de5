//! Bring-your-own rules in gitleaks' TOML format (`[[rules]]` with `id`, `regex`,
//! `keywords`, `entropy`, `secretGroup`, `path`, allowlists in the old `[rules.allowlist]`
//! and the newer `[[rules.allowlists]]` forms, and the top-level `[allowlist]` or
//! `[[allowlists]]`), run beside airgate's own rules. See `docs/rules.md` for what differs
//! from gitleaks and why.

use super::rules::{Rule, RuleCategory, RuleDef, RuleError, MAX_RULES};
use crate::inspect::{Category, Confidence, Finding, Severity};
use regex::bytes::{Regex as BytesRegex, RegexBuilder};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// Largest rule file read, in bytes.
pub const MAX_FILE: u64 = 4 << 20;
/// Most entries in one allowlist's list (paths, regexes, stopwords, commits).
const MAX_LIST: usize = 20_000;
/// Longest allowlist or path regex, in bytes.
const MAX_REGEX: usize = 4096;
/// Shortest keyword a gitleaks rule may name itself (gitleaks' own configuration has `q~`);
/// keywords derived from a regex are 3 bytes or more.
const OWN_KEYWORD: usize = 2;
/// How far the `line` an allowlist may target reaches before and after a match: within
/// what a streamed chunk keeps around its region, so chunked and whole scans agree (a
/// longer line is cut, which can only keep a finding).
const LINE_BEFORE: usize = 240;
const LINE_AFTER: usize = super::matcher::OVERLAP - super::matcher::MAX_MATCH;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlFile {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "minVersion", alias = "minversion")]
    min_version: Option<String>,
    #[serde(default)]
    extend: Option<GlExtend>,
    #[serde(default)]
    rules: Vec<GlRule>,
    /// The old single global allowlist.
    #[serde(default)]
    allowlist: Option<GlAllowlist>,
    #[serde(default)]
    allowlists: Vec<GlAllowlist>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlExtend {
    #[serde(default, rename = "useDefault", alias = "usedefault")]
    use_default: bool,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default, rename = "disabledRules", alias = "disabledrules")]
    disabled_rules: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlRule {
    #[serde(default)]
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, rename = "secretGroup", alias = "secretgroup")]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    allowlist: Option<GlAllowlist>,
    #[serde(default)]
    allowlists: Vec<GlAllowlist>,
    #[serde(default)]
    required: Vec<toml::Value>,
    #[serde(default, rename = "skipReport", alias = "skipreport")]
    skip_report: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlAllowlist {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    commits: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default, rename = "regexTarget", alias = "regextarget")]
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default, alias = "stopWords")]
    stopwords: Vec<String>,
    /// Global allowlists only: the rules it applies to (none: every rule of the file).
    #[serde(default, rename = "targetRules", alias = "targetrules")]
    target_rules: Vec<String>,
}

/// What an allowlist regex is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Secret,
    Match,
    Line,
}

/// One compiled allowlist: a finding is dropped when it passes (any one check for `OR`,
/// every check it has for `AND`).
#[derive(Debug)]
pub struct Allowlist {
    and: bool,
    /// Commits cannot match (a bundle has none), so an `AND` list with commits never does.
    has_commits: bool,
    paths: Vec<BytesRegex>,
    regexes: Vec<BytesRegex>,
    target: Target,
    stopwords: Option<aho_corasick::AhoCorasick>,
}

impl Allowlist {
    fn path_ok(&self, path: &str) -> bool {
        self.paths.iter().any(|r| r.is_match(path.as_bytes()))
    }

    /// Whether the whole file is allowed (path checks only; an `AND` list with content
    /// checks is judged per finding).
    fn allows_path(&self, path: &str) -> bool {
        if self.and {
            !self.has_commits
                && !self.paths.is_empty()
                && self.regexes.is_empty()
                && self.stopwords.is_none()
                && self.path_ok(path)
        } else {
            self.path_ok(path)
        }
    }

    fn allows_finding(&self, path: &str, secret: &[u8], matched: &[u8], line: &[u8]) -> bool {
        let target = match self.target {
            Target::Secret => secret,
            Target::Match => matched,
            Target::Line => line,
        };
        let regex = || self.regexes.iter().any(|r| r.is_match(target));
        let stop = || self.stopwords.as_ref().is_some_and(|a| a.is_match(secret));
        if self.and {
            !self.has_commits
                && (self.paths.is_empty() || self.path_ok(path))
                && (self.regexes.is_empty() || regex())
                && (self.stopwords.is_none() || stop())
        } else {
            regex() || stop()
        }
    }
}

/// What a gitleaks rule adds to an airgate rule: the file-path filter, its allowlists
/// (its own and the file's global ones), and gitleaks' entropy test (strictly above).
#[derive(Debug, Default)]
pub struct Scope {
    path: Option<BytesRegex>,
    allowlists: Vec<Arc<Allowlist>>,
}

impl Scope {
    /// Whether the rule runs on the file at `path` (its path filter matches and no
    /// allowlist allows the path).
    pub fn applies_to(&self, path: &str) -> bool {
        self.path
            .as_ref()
            .is_none_or(|p| p.is_match(path.as_bytes()))
            && !self.allowlists.iter().any(|a| a.allows_path(path))
    }

    /// Whether a match is allowed (dropped). `buf[start..end]` is the match, `vs..ve` the
    /// secret; the line is read around them.
    pub fn allows(
        &self,
        path: &str,
        buf: &[u8],
        (start, end): (usize, usize),
        (vs, ve): (usize, usize),
    ) -> bool {
        if self.allowlists.is_empty() {
            return false;
        }
        let ls = start.saturating_sub(LINE_BEFORE);
        let ls = memchr::memrchr(b'\n', &buf[ls..start]).map_or(ls, |p| ls + p + 1);
        let le = (end + LINE_AFTER).min(buf.len());
        let le = memchr::memchr(b'\n', &buf[end..le]).map_or(le, |p| end + p);
        let line = &buf[ls..le];
        self.allowlists
            .iter()
            .any(|a| a.allows_finding(path, &buf[vs..ve], &buf[start..end], line))
    }
}

/// A rule with a `path` and no `regex`: the file's name is the finding.
#[derive(Debug)]
pub struct PathRule {
    /// The rule's id as the rule file gives it.
    pub id: String,
    /// Its description, the finding's message.
    pub description: String,
    /// The file it was read from.
    pub source: String,
    scope: Scope,
}

impl PathRule {
    /// The finding for a file at `path`, if the rule names it.
    pub fn finding(&self, path: &str) -> Option<Finding> {
        if !self.scope.applies_to(path) {
            return None;
        }
        Some(
            Finding::new(
                path,
                self.id.clone(),
                Category::Secret,
                Severity::High,
                format!(
                    "{}: the file's name matches rule {} from {}",
                    self.description, self.id, self.source
                ),
                path.as_bytes(),
            )
            .with_confidence(Confidence::Medium),
        )
    }
}

/// The rules of one file: those with a regex (run by the matcher) and path-only ones.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Rules with a pattern.
    pub rules: Vec<Rule>,
    /// Rules on the file's path only.
    pub path_rules: Vec<PathRule>,
}

/// Read a rule file given with `--rules` or `[inspect] rule_files`: gitleaks format
/// (`[[rules]]`), or airgate's own (`[[rule]]`, see `policies/rules/README.md`).
pub fn load_file(path: &Path) -> Result<Loaded, RuleError> {
    use std::io::Read;
    let read_err = |source| RuleError::Read {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(read_err)?;
    let mut text = String::new();
    f.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    let name = path.display().to_string();
    if text.len() as u64 > MAX_FILE {
        return Err(RuleError::Parse {
            file: name,
            message: format!("larger than {} MiB", MAX_FILE >> 20),
        });
    }
    parse(&text, &name)
}

/// Parse a rule file's text (gitleaks `[[rules]]` or airgate `[[rule]]`); `file` names it
/// in errors.
pub fn parse(text: &str, file: &str) -> Result<Loaded, RuleError> {
    let perr = |message: String| RuleError::Parse {
        file: file.to_string(),
        message,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| perr(e.to_string()))?;
    if table.contains_key("rule") && !table.contains_key("rules") {
        let mut out = Loaded::default();
        for def in super::rules::parse_file(text, file)? {
            out.rules.push(Rule::compile(def, file)?);
        }
        return Ok(out);
    }
    let f: GlFile = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| {
            perr(format!("not a gitleaks configuration: {}", e.message()))
        })?;
    convert(f, file)
}

fn convert(f: GlFile, file: &str) -> Result<Loaded, RuleError> {
    let _ = (&f.title, &f.description, &f.min_version);
    let invalid = |id: &str, message: String| RuleError::Invalid {
        file: file.to_string(),
        id: id.to_string(),
        message,
    };
    if let Some(x) = &f.extend {
        if x.path.is_some() || x.url.is_some() {
            return Err(invalid(
                "[extend]",
                "extend.path and extend.url are not supported: give each file with its own \
                 --rules (or rule_files entry)"
                    .into(),
            ));
        }
        // useDefault: airgate's own rules always run and take the place of gitleaks'
        // defaults, whose disabledRules therefore name nothing here
        let _ = (x.use_default, &x.disabled_rules);
    }
    if f.rules.len() > MAX_RULES {
        return Err(RuleError::TooMany);
    }
    if f.allowlist.is_some() && !f.allowlists.is_empty() {
        return Err(invalid(
            "[allowlist]",
            "[allowlist] (old form) cannot be used alongside [[allowlists]]".into(),
        ));
    }
    let mut global: Vec<Arc<Allowlist>> = Vec::new();
    let mut targeted: Vec<(String, Arc<Allowlist>)> = Vec::new();
    for a in f.allowlist.iter().chain(&f.allowlists) {
        let list = Arc::new(allowlist(a, file, "[[allowlists]]")?);
        if a.target_rules.is_empty() {
            global.push(list);
        } else {
            for id in &a.target_rules {
                if !f.rules.iter().any(|r| &r.id == id) {
                    return Err(invalid(
                        id,
                        "[[allowlists]] targetRules names a rule this file does not define".into(),
                    ));
                }
                targeted.push((id.clone(), list.clone()));
            }
        }
    }
    let mut out = Loaded::default();
    let mut seen = std::collections::BTreeSet::new();
    for r in f.rules {
        if r.id.trim().is_empty() {
            return Err(invalid("(no id)", "a rule has no id".into()));
        }
        if !seen.insert(r.id.clone()) {
            return Err(invalid(&r.id, "duplicate id in one file".into()));
        }
        if !r.required.is_empty() {
            return Err(invalid(
                &r.id,
                "composite rules ([[rules.required]]) are not supported; remove the rule or \
                 its required list"
                    .into(),
            ));
        }
        if r.skip_report {
            // reported only as part of a composite rule, which is refused above
            continue;
        }
        if r.allowlist.is_some() && !r.allowlists.is_empty() {
            return Err(invalid(
                &r.id,
                "[rules.allowlist] (old form) cannot be used alongside [[rules.allowlists]]".into(),
            ));
        }
        let mut lists = global.clone();
        for a in r.allowlist.iter().chain(&r.allowlists) {
            lists.push(Arc::new(allowlist(a, file, &r.id)?));
        }
        lists.extend(
            targeted
                .iter()
                .filter(|(id, _)| *id == r.id)
                .map(|(_, l)| l.clone()),
        );
        let path = match &r.path {
            Some(p) => Some(compile_small(p, file, &r.id)?),
            None => None,
        };
        let description = r.description.clone().unwrap_or_else(|| r.id.clone());
        let scope = Scope {
            path,
            allowlists: lists,
        };
        let Some(regex) = r.regex.filter(|x| !x.is_empty()) else {
            if scope.path.is_none() {
                return Err(invalid(
                    &r.id,
                    "both regex and path are empty: the rule would have no effect".into(),
                ));
            }
            out.path_rules.push(PathRule {
                id: r.id,
                description,
                source: file.to_string(),
                scope,
            });
            continue;
        };
        out.rules.push(rule(
            r.id,
            description,
            regex,
            r.keywords,
            r.secret_group,
            r.entropy,
            r.tags,
            scope,
            file,
        )?);
    }
    Ok(out)
}

/// An airgate rule from a gitleaks `[[rules]]` entry with a regex.
#[allow(clippy::too_many_arguments)]
fn rule(
    id: String,
    description: String,
    regex: String,
    keywords: Vec<String>,
    secret_group: Option<usize>,
    entropy: Option<f64>,
    _tags: Vec<String>,
    scope: Scope,
    file: &str,
) -> Result<Rule, RuleError> {
    let invalid = |message: String| RuleError::Invalid {
        file: file.to_string(),
        id: id.clone(),
        message,
    };
    // Every match must lie near one of its keywords (the regex runs only there): literal
    // text the regex itself requires is surest; else the rule's own keywords.
    let keywords = match super::anchor::required_literals(&regex) {
        Some(k) => k,
        None => {
            let own: Vec<String> = keywords.iter().map(|k| k.to_ascii_lowercase()).collect();
            if own.is_empty() || own.iter().any(|k| k.len() < OWN_KEYWORD) {
                return Err(invalid(format!(
                    "no literal text of 3 bytes or more is required by the regex within 64 \
                     bytes of a match's start, and its keywords are missing or shorter than \
                     {OWN_KEYWORD} bytes: add keywords = [...] naming text that each match \
                     contains"
                )));
            }
            own
        }
    };
    let def = RuleDef {
        id: id.clone(),
        name: description.clone(),
        category: RuleCategory::Secret,
        severity: Severity::High,
        pattern: regex,
        keywords,
        // gitleaks: 0 or absent means the first group that took part (set below)
        secret_group: secret_group.filter(|&g| g > 0),
        entropy: entropy.filter(|&e| e > 0.0),
        check: None,
        // gitleaks has no placeholder filter of its own: its allowlists do that
        keep_placeholders: true,
        examples: vec![],
        negative_examples: vec![],
        message: Some(description),
        confidence: None,
        also_categories: vec![],
        max_len: None,
        lower_near: vec![],
        lower_to: None,
        require_near: vec![],
        at_keyword: false,
        fallback: false,
        names_before: vec![],
        name_formats: Default::default(),
    };
    let mut rule = Rule::compile_min(def, file, OWN_KEYWORD)?;
    if rule.def.secret_group.is_none() && rule.group == Some(1) {
        rule.group = None;
    }
    // what entropy alone finds does not block by default, as airgate's own generic rule
    if rule.confidence == Confidence::Low {
        rule.def.severity = Severity::Low;
    }
    rule.scope = Some(Box::new(scope));
    Ok(rule)
}

/// A Go (RE2) pattern in the syntax Rust's `regex` crate reads. Go takes a `{` that does
/// not open a repetition (`{2}`, `{2,}`, `{2,5}`) as a literal brace (`^\$(?:\d+|{\d+})$`);
/// Rust refuses it, so it is escaped. Everything else is the same syntax.
pub fn go_compat(pattern: &str) -> String {
    let b = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut class = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            // an escape: copied whole (one character after the backslash)
            let n = pattern[i + 1..].chars().next().map_or(0, char::len_utf8);
            out.push_str(&pattern[i..i + 1 + n]);
            i += 1 + n;
            continue;
        }
        if class {
            if c == b']' {
                class = false;
            }
        } else if c == b'[' {
            class = true;
            // `[]` or `[^]` at the start of a class is a literal `]`
            let mut j = i + 1;
            if b.get(j) == Some(&b'^') {
                j += 1;
            }
            if b.get(j) == Some(&b']') {
                out.push_str(&pattern[i..=j]);
                i = j + 1;
                continue;
            }
        } else if c == b'{' && !opens_repetition(&b[i..]) {
            out.push_str("\\{");
            i += 1;
            continue;
        }
        let n = pattern[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&pattern[i..i + n]);
        i += n;
    }
    out
}

/// Whether `s` (starting at a `{`) is `{n}`, `{n,}` or `{n,m}`.
fn opens_repetition(s: &[u8]) -> bool {
    let digits = |t: &[u8]| t.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(&s[1..]);
    if n == 0 {
        return false;
    }
    let mut k = 1 + n;
    if s.get(k) == Some(&b',') {
        k += 1;
        k += digits(&s[k..]);
    }
    s.get(k) == Some(&b'}')
}

fn compile_small(pattern: &str, file: &str, id: &str) -> Result<BytesRegex, RuleError> {
    let invalid = |message: String| RuleError::Invalid {
        file: file.to_string(),
        id: id.to_string(),
        message,
    };
    if pattern.len() > MAX_REGEX {
        return Err(invalid(format!("a regex longer than {MAX_REGEX} bytes")));
    }
    RegexBuilder::new(&go_compat(pattern))
        .unicode(false)
        .size_limit(4 << 20)
        .build()
        .map_err(|e| {
            invalid(format!(
                "regex {pattern:?} does not compile with Rust's regex crate (it has no \
                 look-around and no backreferences): {e}"
            ))
        })
}

fn allowlist(a: &GlAllowlist, file: &str, id: &str) -> Result<Allowlist, RuleError> {
    let _ = &a.description;
    let invalid = |message: String| RuleError::Invalid {
        file: file.to_string(),
        id: id.to_string(),
        message,
    };
    let and = match a
        .condition
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("") | Some("OR") | Some("||") => false,
        Some("AND") | Some("&&") => true,
        Some(other) => {
            return Err(invalid(format!(
                "allowlist condition {other:?} (expected AND or OR)"
            )))
        }
    };
    let target = match a.regex_target.as_deref() {
        None | Some("") | Some("secret") => Target::Secret,
        Some("match") => Target::Match,
        Some("line") => Target::Line,
        Some(other) => {
            return Err(invalid(format!(
                "allowlist regexTarget {other:?} (expected match or line)"
            )))
        }
    };
    if a.commits.is_empty() && a.paths.is_empty() && a.regexes.is_empty() && a.stopwords.is_empty()
    {
        return Err(invalid(
            "an allowlist must hold at least one of commits, paths, regexes or stopwords".into(),
        ));
    }
    for list in [&a.commits, &a.paths, &a.regexes, &a.stopwords] {
        if list.len() > MAX_LIST {
            return Err(invalid(format!("an allowlist list longer than {MAX_LIST}")));
        }
    }
    let paths = a
        .paths
        .iter()
        .map(|p| compile_small(p, file, id))
        .collect::<Result<_, _>>()?;
    let regexes = a
        .regexes
        .iter()
        .map(|p| compile_small(p, file, id))
        .collect::<Result<_, _>>()?;
    let stopwords = if a.stopwords.is_empty() {
        None
    } else {
        Some(
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&a.stopwords)
                .map_err(|e| invalid(format!("stopwords: {e}")))?,
        )
    };
    Ok(Allowlist {
        and,
        has_commits: !a.commits.is_empty(),
        paths,
        regexes,
        target,
        stopwords,
    })
}

#[cfg(test)]
#[path = "gitleaks_tests.rs"]
mod tests;
