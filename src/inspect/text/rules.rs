//! Secret and reachback rules as data: the TOML schema, validation, compilation, and the
//! built-in rule files embedded in the binary.

use crate::inspect::{Category, Confidence, Severity};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One built-in rule file: `original` (as written in `policies/rules/`) or `stripped`
/// (the copy `build.rs` writes without comments and examples).
macro_rules! builtin {
    ($name:literal, original) => {
        (
            $name,
            include_str!(concat!("../../../policies/rules/", $name)),
        )
    };
    ($name:literal, stripped) => {
        (
            $name,
            include_str!(concat!(env!("OUT_DIR"), "/rules/", $name)),
        )
    };
}
/// The built-in rule files, embedded so the tool works without the `policies/rules` folder.
/// The executable embeds copies without comments and `examples` / `negative_examples`
/// (`build.rs` strips them): those are sample secrets and reachback lines, and a release
/// must not trip its own gate. Unit tests embed the files as written, examples included.
#[cfg(not(test))]
pub const BUILTIN: &[(&str, &str)] = &[
    builtin!("secrets-cloud.toml", stripped),
    builtin!("secrets-ai.toml", stripped),
    builtin!("secrets-dev.toml", stripped),
    builtin!("secrets-saas.toml", stripped),
    builtin!("secrets-keys.toml", stripped),
    builtin!("secrets-vendors.toml", stripped),
    builtin!("secrets-cli.toml", stripped),
    builtin!("secrets-providers.toml", stripped),
    builtin!("reachback.toml", stripped),
];
/// See above: the files as written, for the tests of every rule's examples.
#[cfg(test)]
pub const BUILTIN: &[(&str, &str)] = &[
    builtin!("secrets-cloud.toml", original),
    builtin!("secrets-ai.toml", original),
    builtin!("secrets-dev.toml", original),
    builtin!("secrets-saas.toml", original),
    builtin!("secrets-keys.toml", original),
    builtin!("secrets-vendors.toml", original),
    builtin!("secrets-cli.toml", original),
    builtin!("secrets-providers.toml", original),
    builtin!("reachback.toml", original),
];

/// Shortest keyword of a rule, in bytes (a shorter one would hit everywhere).
pub const MIN_KEYWORD: usize = 3;
/// Longest regex source accepted, in bytes.
const MAX_PATTERN: usize = 4096;
/// Most rules in one rule set.
pub const MAX_RULES: usize = 2000;

/// Errors loading rules: all are configuration errors an operator fixes in the rule file.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot read rules {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rule file {file} is not valid TOML for rules: {message}")]
    Parse { file: String, message: String },
    #[error("rule {id} in {file}: {message}")]
    Invalid {
        file: String,
        id: String,
        message: String,
    },
    #[error("too many rules (more than {MAX_RULES})")]
    TooMany,
}

/// Extra validation a rule's match must pass (offline; nothing is ever contacted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// GitHub/npm token: the last 6 base62 characters are the CRC32 of the random part.
    GithubCrc32,
    /// The captured host must be outside `internal_domains` (and not a loopback,
    /// documentation or schema-namespace host). IP literals are rejected by this check.
    ExternalHost,
    /// The captured host must be an IP literal outside `internal_domains` and loopback.
    ExternalIp,
    /// The captured host, a name or an IP address, must be outside (for settings that
    /// name a destination, where no other rule reports the IP form).
    External,
    /// `name = value`: the setting is on (a truthy value, or a falsy value for a name
    /// that negates, such as `DISABLE_TELEMETRY=0`).
    SettingOn,
    /// The match does not mention `offline`, `disabled` or `dryrun`.
    NotOffline,
    /// A call or download (`requests.get(`, `curl … | sh`, `/dev/tcp/…`) whose target the
    /// code names literally (its URL, or its first string argument) is not reachback when
    /// that host is loopback, link-local or inside the enclave.
    CallTarget,
    /// `curl` or `wget` appears earlier on the match's line, too far before it for a rule
    /// anchored at the download command (more than [`FAR_DOWNLOAD`] bytes).
    DownloadFarBefore,
    /// A JSON Web Token: the value's first segment decodes (base64url) to a JSON object
    /// with an `alg` member.
    Jwt,
    /// A generic `name = value` assignment: the whole name around the match's keyword does
    /// not name something public or an identifier (`credentialId`, `publicToken`,
    /// `max_tokens`, `secret_name`), and the value does not look like a word, a path or a
    /// reference rather than a random string.
    SecretName,
    /// A Docker `config.json` `auth` value: base64 of `user:password`.
    BasicAuthB64,
    /// A password on a command line or in a credential file (`user:password`, or the
    /// password alone): the password is not empty, a variable, a placeholder or a mask.
    Credential,
    /// A value assigned to a provider's name: it holds a digit and a letter and is not a
    /// word, a path, a URL or a counting run (see [`super::shape::random_value`]).
    RandomValue,
    /// A shared access signature: one whose `se=` expiry has passed is listed at info.
    SasExpiry,
}

/// How far before a pipe into a shell the `curl`/`wget` of a `download-far-before` rule
/// must be (nearer ones are matched whole by `reachback.shell-pipe-exec`).
pub const FAR_DOWNLOAD: usize = 300;
/// How far back on a line a `download-far-before` check looks.
pub const MAX_LINE_LOOKBACK: usize = 64 << 10;

/// Longest match a rule with `max_len` may produce (see [`RuleDef::max_len`]); a streaming
/// caller keeps [`super::matcher::OVERLAP`] bytes, which covers it.
pub const MAX_LONG_MATCH: usize = 4096;

/// One rule as written in a rule file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Stable id, e.g. `secret.aws-access-key-id`.
    pub id: String,
    /// Human name.
    pub name: String,
    pub category: RuleCategory,
    pub severity: Severity,
    /// Regex (Rust `regex` syntax, bytes). Group 1 (or the `secret_group`) is the value.
    pub pattern: String,
    /// Literal strings, at least 3 bytes, one of which occurs in or near every match
    /// (matched ASCII-case-insensitively). The regex only runs around a keyword hit.
    pub keywords: Vec<String>,
    /// Which capture group holds the value (default 1 if the pattern has groups, else 0).
    #[serde(default)]
    pub secret_group: Option<usize>,
    /// Minimum Shannon entropy (bits per byte) of the value.
    #[serde(default)]
    pub entropy: Option<f64>,
    #[serde(default)]
    pub check: Option<Check>,
    /// Do not skip placeholder-looking values (for reachback rules whose value is a word).
    #[serde(default)]
    pub keep_placeholders: bool,
    /// Text that must produce a finding of this rule.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Text that must not.
    #[serde(default)]
    pub negative_examples: Vec<String>,
    /// Operator-facing explanation; defaults to the name.
    #[serde(default)]
    pub message: Option<String>,
    /// How sure a match is: `high`, `medium` or `low`. Default: derived (see
    /// [`derived_confidence`]).
    #[serde(default)]
    pub confidence: Option<Confidence>,
    /// Further categories of every match, reported on the same finding (a webhook URL is a
    /// secret and reachback). A reachback match inside such a match is not reported again.
    #[serde(default)]
    pub also_categories: Vec<RuleCategory>,
    /// Longest match, for tokens longer than the default 384 bytes (JWTs, long OpenAI and
    /// Slack tokens); up to [`MAX_LONG_MATCH`], and only for a rule whose pattern starts
    /// with a keyword (it runs anchored at the hit).
    #[serde(default)]
    pub max_len: Option<usize>,
    /// Words (ASCII case-insensitive) that, within [`NEAR`] bytes of a match, lower its
    /// severity to `lower_to`: context that makes a value public by design (a browser API
    /// key in a web SDK configuration).
    #[serde(default)]
    pub lower_near: Vec<String>,
    /// The severity for `lower_near` (default `low`).
    #[serde(default)]
    pub lower_to: Option<Severity>,
    /// Words (ASCII case-insensitive) one of which must occur within [`NEAR`] bytes of a
    /// match for it to count: the context that makes a common shape a credential (a
    /// `Password=` in a connection string, an `auth` value in a Docker `auths` map).
    #[serde(default)]
    pub require_near: Vec<String>,
    /// The pattern describes the text from the start of a keyword hit on (the keyword list
    /// names what may start a match, such as providers' names, and the pattern need not
    /// repeat it): the regex runs anchored at each hit.
    #[serde(default)]
    pub at_keyword: bool,
    /// A catch-all rule (a generic assignment, a provider's name with a random value): its
    /// match is dropped where a more specific secret rule matched the same value.
    #[serde(default)]
    pub fallback: bool,
    /// Names (ASCII case-insensitive; `_`, `-`, `.` and spaces ignored) one of which must
    /// begin a word, or a run of up to three words, on the match's line in the
    /// [`NAMES_BACK`] bytes before it: `discord` for `DISCORD_API_KEY = …` matched at `_KEY`,
    /// `newrelic` for `new relic license key = …`. Kept out of the keyword automaton, so a
    /// long list of names costs nothing until a keyword hit needs them.
    #[serde(default)]
    pub names_before: Vec<String>,
}

/// How far before a match its `names_before` are looked for.
pub const NAMES_BACK: usize = 48;
/// Longest name in `names_before`, after normalising.
pub const MAX_NAME: usize = 40;

/// How far before and after a match the `lower_near` words are looked for.
pub const NEAR: usize = 512;

/// Rule categories: a subset of [`Category`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleCategory {
    Secret,
    Reachback,
}

impl From<RuleCategory> for Category {
    fn from(c: RuleCategory) -> Category {
        match c {
            RuleCategory::Secret => Category::Secret,
            RuleCategory::Reachback => Category::Reachback,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleDef>,
}

/// A rule ready to run. Its regex is compiled the first time one of its keywords is seen
/// ([`Rule::regex`]): a scan of a few small files compiles only the rules their text
/// calls for. The pattern is parsed when the rule is loaded, so a pattern that cannot
/// work is refused then.
#[derive(Debug)]
pub struct Rule {
    pub def: RuleDef,
    /// `None` inside: the regex failed to build (only possible for a rule loaded without
    /// [`Rule::compile`]; every built-in rule is built by a test).
    regex: OnceLock<Option<Regex>>,
    /// Which group holds the value; `None`: the first group that took part in the match.
    pub group: Option<usize>,
    /// Every match begins with one of the keywords (see [`super::anchor`]): the regex runs
    /// anchored at each keyword hit instead of over a window around it.
    pub anchored: bool,
    /// How sure a match of this rule is (the rule's `confidence`, else derived).
    pub confidence: Confidence,
    /// Where it came from (file name), for messages.
    pub source: String,
    /// What a gitleaks-format rule adds: path filter and allowlists.
    pub scope: Option<Box<super::gitleaks::Scope>>,
    /// How far past the end of its keyword hit an anchored search of this rule reaches.
    pub reach: usize,
    /// `lower_near` words, searched ASCII case-insensitively.
    pub near: Option<aho_corasick::AhoCorasick>,
    /// `require_near` words, searched ASCII case-insensitively.
    pub needs: Option<aho_corasick::AhoCorasick>,
    /// `names_before`, normalised (lower case, letters and digits only).
    pub names: std::collections::HashSet<Vec<u8>>,
}

/// The syntax every rule pattern is read with: bytes semantics, as `regex::bytes` with
/// Unicode off (`.` and classes match any byte, `\w`, `\d`, `\b` are ASCII).
fn syntax_config() -> syntax::Config {
    syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(64)
}

/// Build the regex of a pattern already parsed by [`Rule::prepare`].
fn build_regex(pattern: &str) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax_config())
        .configure(
            Regex::config()
                .utf8_empty(false)
                .nfa_size_limit(Some(4 << 20)),
        )
        .build(pattern)
        .map_err(|e| e.to_string())
}

impl Rule {
    /// Validate one rule definition and compile its regex now: for rules an operator
    /// supplies, so that every problem is a configuration error at start-up.
    pub fn compile(def: RuleDef, source: &str) -> Result<Rule, RuleError> {
        Rule::compile_min(def, source, MIN_KEYWORD)
    }

    /// [`compile`](Self::compile) with keywords of at least `min_keyword` bytes (a gitleaks
    /// rule may name 2-byte keywords of its own, such as `q~`).
    pub fn compile_min(def: RuleDef, source: &str, min_keyword: usize) -> Result<Rule, RuleError> {
        let rule = Rule::prepare_min(def, source, min_keyword)?;
        let built = build_regex(&rule.def.pattern).map_err(|e| RuleError::Invalid {
            file: source.to_string(),
            id: rule.def.id.clone(),
            message: format!("pattern does not compile: {e}"),
        })?;
        // a fresh lock: cannot already be set
        let _ = rule.regex.set(Some(built));
        Ok(rule)
    }

    /// Validate one rule definition and parse its pattern; the regex itself is built at
    /// first use ([`Rule::regex`]).
    pub fn prepare(def: RuleDef, source: &str) -> Result<Rule, RuleError> {
        Rule::prepare_min(def, source, MIN_KEYWORD)
    }

    fn prepare_min(def: RuleDef, source: &str, min_keyword: usize) -> Result<Rule, RuleError> {
        let bad = |message: String| RuleError::Invalid {
            file: source.to_string(),
            id: def.id.clone(),
            message,
        };
        if def.id.is_empty()
            || def.id.len() > 200
            || !def
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(bad(
                "id must be non-empty and use only letters, digits, '.', '_', '-'".into(),
            ));
        }
        if def.keywords.is_empty() {
            return Err(bad("at least one keyword is required".into()));
        }
        if let Some(k) = def.keywords.iter().find(|k| k.len() < min_keyword) {
            return Err(bad(format!(
                "keyword {k:?} is shorter than {min_keyword} bytes"
            )));
        }
        if def.pattern.len() > MAX_PATTERN {
            return Err(bad(format!("pattern longer than {MAX_PATTERN} bytes")));
        }
        let hir = syntax::parse_with(&def.pattern, &syntax_config()).map_err(|e| {
            bad(format!(
                "pattern does not compile with Rust's regex crate (it has no look-around \
                 and no backreferences): {e}"
            ))
        })?;
        let groups = hir.properties().explicit_captures_len();
        let group = match def.secret_group {
            Some(g) if g > groups => {
                return Err(bad(format!(
                    "secret_group {g} but the pattern has {groups} groups"
                )))
            }
            Some(g) => Some(g),
            None => Some(usize::from(groups >= 1)),
        };
        if let Some(e) = def.entropy {
            if !(0.0..=8.0).contains(&e) {
                return Err(bad(format!("entropy floor {e} is outside 0..8")));
            }
        }
        let anchored =
            def.at_keyword || super::anchor::hir_starts_with_keyword(&hir, &def.keywords);
        let confidence = def
            .confidence
            .unwrap_or_else(|| derived_confidence(&def, anchored));
        let reach = match def.max_len {
            None => super::matcher::WINDOW_FWD,
            Some(n) if !anchored => {
                return Err(bad(format!(
                    "max_len {n} needs a pattern that starts with one of the keywords"
                )))
            }
            Some(n) if !(16..=MAX_LONG_MATCH).contains(&n) => {
                return Err(bad(format!("max_len {n} is outside 16..={MAX_LONG_MATCH}")))
            }
            Some(n) => n.max(super::matcher::MAX_MATCH) + 64,
        };
        let words = |field: &str, list: &[String]| {
            if let Some(k) = list.iter().find(|k| k.len() < 3) {
                return Err(bad(format!("{field} word {k:?} is shorter than 3 bytes")));
            }
            if list.is_empty() {
                return Ok(None);
            }
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(list)
                .map(Some)
                .map_err(|e| bad(format!("{field} words: {e}")))
        };
        let near = words("lower_near", &def.lower_near)?;
        let needs = words("require_near", &def.require_near)?;
        let mut names = std::collections::HashSet::new();
        for n in &def.names_before {
            let k = normal_name(n.as_bytes());
            if k.len() < 3 || k.len() > MAX_NAME {
                return Err(bad(format!(
                    "names_before name {n:?} must have 3 to {MAX_NAME} letters and digits"
                )));
            }
            names.insert(k);
        }
        Ok(Rule {
            def,
            regex: OnceLock::new(),
            group,
            anchored,
            confidence,
            source: source.to_string(),
            scope: None,
            reach,
            near,
            needs,
            names,
        })
    }

    /// The compiled regex, built on first use (thread-safe: one thread builds, the
    /// others wait for it). `None` only if it failed to build.
    pub fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| build_regex(&self.def.pattern).ok())
            .as_ref()
    }

    /// Whether the regex has been built (for tests of the lazy build).
    pub fn is_compiled(&self) -> bool {
        self.regex.get().is_some()
    }
}

/// Credential words that name no provider: a rule whose every keyword is one of them
/// finds values by their randomness alone.
const GENERIC_WORDS: &[&str] = &[
    "secret",
    "secrets",
    "token",
    "tokens",
    "password",
    "passwd",
    "pwd",
    "pass",
    "credential",
    "credentials",
    "creds",
    "key",
    "keys",
    "api",
    "apikey",
    "access",
    "accesskey",
    "auth",
    "authkey",
    "authtoken",
    "accesstoken",
    "privatekey",
    "secretkey",
    "clientsecret",
    "bearer",
];

/// Whether `keyword` is a generic credential word (case, `_`, `-` and `.` ignored).
pub fn is_generic_keyword(keyword: &str) -> bool {
    let k: String = keyword
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    GENERIC_WORDS.contains(&k.as_str())
}

/// A rule's confidence when it does not say: a secret found by its checksum or by a
/// pattern that begins with a provider prefix is `high`, one found near a provider keyword
/// `medium`, one found under generic names only (entropy alone) `low`. A reachback rule
/// that parses the host and finds it outside is `high`, else `medium`.
pub fn derived_confidence(def: &RuleDef, anchored: bool) -> Confidence {
    match def.category {
        RuleCategory::Secret => {
            if def.check == Some(Check::GithubCrc32) {
                Confidence::High
            } else if def.keywords.iter().all(|k| is_generic_keyword(k)) {
                Confidence::Low
            } else if anchored {
                Confidence::High
            } else {
                Confidence::Medium
            }
        }
        RuleCategory::Reachback => match def.check {
            Some(Check::ExternalHost | Check::ExternalIp | Check::External) => Confidence::High,
            _ => Confidence::Medium,
        },
    }
}

/// A name as `names_before` compares it: lower case, letters and digits only.
pub fn normal_name(n: &[u8]) -> Vec<u8> {
    n.iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect()
}

/// Whether a word, or a run of up to three words, in `before` (the text before a match on
/// its line) begins with one of `names` (normalised). Words split at non-alphanumerics and
/// at lower-to-upper case humps.
pub fn name_before(before: &[u8], names: &std::collections::HashSet<Vec<u8>>) -> bool {
    let mut words: Vec<&[u8]> = Vec::new();
    let mut s = None;
    for i in 0..=before.len() {
        let b = before.get(i).copied();
        let alnum = b.is_some_and(|b| b.is_ascii_alphanumeric());
        let hump = alnum
            && i > 0
            && b.is_some_and(|b| b.is_ascii_uppercase())
            && before[i - 1].is_ascii_lowercase();
        if let Some(st) = s {
            if !alnum || hump {
                words.push(&before[st..i]);
                s = None;
            }
        }
        if alnum && s.is_none() {
            s = Some(i);
        }
    }
    let mut joined = Vec::with_capacity(MAX_NAME);
    for i in 0..words.len() {
        joined.clear();
        for w in words.iter().skip(i).take(3) {
            joined.extend(w.iter().map(u8::to_ascii_lowercase));
            let top = joined.len().min(MAX_NAME);
            if (3..=top).any(|n| names.contains(&joined[..n])) {
                return true;
            }
        }
    }
    false
}

/// Parse the rules of one TOML file.
pub fn parse_file(text: &str, file: &str) -> Result<Vec<RuleDef>, RuleError> {
    let f: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    Ok(f.rule)
}

/// Load rules: the built-ins, then every `*.toml` in each of `dirs` (sorted by name; a rule
/// with an id seen before replaces it), then `extra`; then drop the `disabled` ids.
pub fn load(
    dirs: &[PathBuf],
    extra: &[RuleDef],
    disabled: &[String],
) -> Result<Vec<Rule>, RuleError> {
    // (definition, where from, built in): built-in rules compile lazily (a test builds
    // every one), an operator's rules at load, so their problems surface as errors now
    let mut defs: BTreeMap<String, (RuleDef, String, bool)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut add = |def: RuleDef, src: &str, builtin: bool| {
        if !defs.contains_key(&def.id) {
            order.push(def.id.clone());
        }
        defs.insert(def.id.clone(), (def, src.to_string(), builtin));
    };
    for (name, text) in BUILTIN {
        let mut seen = std::collections::BTreeSet::new();
        for d in parse_file(text, name)? {
            if !seen.insert(d.id.clone()) {
                return Err(RuleError::Invalid {
                    file: name.to_string(),
                    id: d.id,
                    message: "duplicate id in one file".into(),
                });
            }
            add(d, name, true);
        }
    }
    for dir in dirs {
        for path in toml_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(|source| RuleError::Read {
                path: path.clone(),
                source,
            })?;
            let name = path.display().to_string();
            for d in parse_file(&text, &name)? {
                add(d, &name, false);
            }
        }
    }
    for d in extra {
        add(d.clone(), "policy [[inspect.rules]]", false);
    }
    if order.len() > MAX_RULES {
        return Err(RuleError::TooMany);
    }
    let mut out = Vec::new();
    for id in order {
        if disabled.iter().any(|d| d == &id) {
            continue;
        }
        if let Some((def, src, builtin)) = defs.remove(&id) {
            out.push(if builtin {
                Rule::prepare(def, &src)?
            } else {
                Rule::compile(def, &src)?
            });
        }
    }
    Ok(out)
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, RuleError> {
    let rd = std::fs::read_dir(dir).map_err(|source| RuleError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|source| RuleError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) == Some("toml") && p.is_file() {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(keywords: &[&str], pattern: &str) -> RuleDef {
        RuleDef {
            id: "t.x".into(),
            name: "x".into(),
            category: RuleCategory::Secret,
            severity: Severity::High,
            pattern: pattern.into(),
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            secret_group: None,
            entropy: None,
            check: None,
            keep_placeholders: false,
            examples: vec![],
            negative_examples: vec![],
            message: None,
            confidence: None,
            also_categories: vec![],
            max_len: None,
            lower_near: vec![],
            lower_to: None,
            require_near: vec![],
            at_keyword: false,
            fallback: false,
            names_before: vec![],
        }
    }

    #[test]
    fn names_before_a_match() {
        let names: std::collections::HashSet<Vec<u8>> =
            ["discord", "newrelic", "etsy", "sumologic"]
                .iter()
                .map(|n| normal_name(n.as_bytes()))
                .collect();
        for before in [
            &b"DISCORD_API"[..],
            b"discord",
            b"export NEW_RELIC",
            b"new relic license ",
            b"  <ETSY",
            b"[DEBUG] Using sumologicAccess",
            b"flutter discordBot",
        ] {
            assert!(
                name_before(before, &names),
                "{}",
                String::from_utf8_lossy(before)
            );
        }
        for before in [&b"my_api"[..], b"disco ball", b"", b"relic new "] {
            assert!(
                !name_before(before, &names),
                "{}",
                String::from_utf8_lossy(before)
            );
        }
    }

    #[test]
    fn validation() {
        assert!(Rule::compile(def(&["abc"], "abc(d)"), "t").is_ok());
        assert!(Rule::compile(def(&[], "abc"), "t").is_err());
        assert!(Rule::compile(def(&["ab"], "abc"), "t").is_err());
        assert!(Rule::compile(def(&["abc"], "abc("), "t").is_err());
        let mut d = def(&["abc"], "abc(d)");
        d.secret_group = Some(2);
        assert!(Rule::compile(d, "t").is_err());
        // a long match needs a pattern anchored at its keyword, and a bounded length
        let mut d = def(&["abc"], "abc(d+)");
        d.max_len = Some(2000);
        assert!(Rule::compile(d.clone(), "t").is_ok_and(|r| r.reach == 2064));
        d.max_len = Some(MAX_LONG_MATCH + 1);
        assert!(Rule::compile(d, "t").is_err());
        let mut d = def(&["abc"], "x+abc(d+)");
        d.max_len = Some(2000);
        assert!(Rule::compile(d, "t").is_err());
        let mut d = def(&["abc"], "abc(d)");
        d.lower_near = vec!["ab".into()];
        assert!(Rule::compile(d, "t").is_err());
        let mut d = def(&["abc"], "abc(d)");
        d.require_near = vec!["xy".into()];
        assert!(Rule::compile(d, "t").is_err());
        // a rule that says its pattern starts at the keyword runs anchored, even where the
        // pattern does not spell the keyword out
        let mut d = def(&["discord"], r"(?i)\b[a-z]+_token=(\w+)");
        assert!(!Rule::compile(d.clone(), "t").is_ok_and(|r| r.anchored));
        d.at_keyword = true;
        assert!(Rule::compile(d, "t").is_ok_and(|r| r.anchored));
    }

    #[test]
    fn builtins_load_and_override() {
        let all = load(&[], &[], &[]).unwrap();
        let secrets = all
            .iter()
            .filter(|r| r.def.category == RuleCategory::Secret)
            .count();
        assert!(secrets >= 60, "only {secrets} secret rules");
        let mut over = def(&["zzzq"], "zzzq(\\d+)");
        over.id = all[0].def.id.clone();
        let first = over.id.clone();
        let again = load(&[], &[over], &["secret.jwt".to_string()]).unwrap();
        assert_eq!(again.len(), all.len() - 1);
        let r = again.iter().find(|r| r.def.id == first).unwrap();
        assert_eq!(r.def.keywords, vec!["zzzq".to_string()]);
        assert!(!again.iter().any(|r| r.def.id == "secret.jwt"));
    }

    #[test]
    fn embedded_copies_lose_only_comments_and_examples() {
        let stripped = [
            builtin!("secrets-cloud.toml", stripped),
            builtin!("secrets-ai.toml", stripped),
            builtin!("secrets-dev.toml", stripped),
            builtin!("secrets-saas.toml", stripped),
            builtin!("secrets-keys.toml", stripped),
            builtin!("secrets-vendors.toml", stripped),
            builtin!("secrets-cli.toml", stripped),
            builtin!("secrets-providers.toml", stripped),
            builtin!("reachback.toml", stripped),
        ];
        let without_examples = |text: &str, name: &str| -> Vec<serde_json::Value> {
            parse_file(text, name)
                .unwrap()
                .into_iter()
                .map(|mut d| {
                    d.examples.clear();
                    d.negative_examples.clear();
                    serde_json::to_value(d).unwrap()
                })
                .collect()
        };
        assert_eq!(BUILTIN.len(), stripped.len());
        for ((name, original), (name2, copy)) in BUILTIN.iter().zip(stripped) {
            assert_eq!(*name, name2);
            assert!(!copy.contains("examples"), "{name}");
            assert!(!copy.lines().any(|l| l.trim_start().starts_with('#')));
            let a = without_examples(original, name);
            assert!(!a.is_empty());
            assert_eq!(a, without_examples(copy, name), "{name}");
            let orig = parse_file(original, name).unwrap();
            assert!(orig.iter().all(|d| !d.examples.is_empty()), "{name}");
        }
    }
}
