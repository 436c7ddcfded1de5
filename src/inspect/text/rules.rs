//! Secret and reachback rules as data: the TOML schema, validation, compilation, and the
//! built-in rule files embedded in the binary.

pub use crate::policy::rule_def::{Check, RuleCategory, RuleDef};
use crate::vocab::Confidence;
use rayon::prelude::*;
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use serde::Deserialize;
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
    /// A rule file could not be read.
    #[error("cannot read rules {path}: {source}")]
    Read {
        /// The rule file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A rule file is not TOML of either rule format.
    #[error("rule file {file} is not valid TOML for rules: {message}")]
    Parse {
        /// The rule file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// One rule is not valid (a pattern that does not compile, a duplicate id, ...).
    #[error("rule {id} in {file}: {message}")]
    Invalid {
        /// Where it was defined.
        file: String,
        /// The rule's id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// More rules than the limit in all.
    #[error("too many rules (more than {MAX_RULES})")]
    TooMany,
}

/// How far before a pipe into a shell the `curl`/`wget` of a `download-far-before` rule
/// must be (nearer ones are matched whole by `reachback.shell-pipe-exec`).
pub const FAR_DOWNLOAD: usize = 300;
/// How far back on a line a `download-far-before` check looks.
pub const MAX_LINE_LOOKBACK: usize = 64 << 10;

/// Longest match a rule with `max_len` may produce (see [`RuleDef::max_len`]); a streaming
/// caller keeps [`super::matcher::OVERLAP`] bytes, which covers it.
pub const MAX_LONG_MATCH: usize = 4096;

/// How far before a match its `names_before` are looked for.
pub const NAMES_BACK: usize = 48;
/// Longest name in `names_before`, after normalising.
pub const MAX_NAME: usize = 40;

/// How far before and after a match the `lower_near` words are looked for.
pub const NEAR: usize = 512;

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
    /// The rule as written.
    pub def: RuleDef,
    /// `None` inside: the regex failed to build (only possible for a rule loaded without
    /// [`Rule::compile`]; every built-in rule is built by a test).
    regex: OnceLock<Option<Regex>>,
    /// For an anchored rule, what may follow each keyword (in `def.keywords` order) at
    /// the start of a match; built the first time one of its keywords is hit (before
    /// the regex, which a hit the follow sets turn away never needs).
    follow: OnceLock<Vec<Option<super::follow::Follow>>>,
    /// Which group holds the value; `None`: the first group that took part in the match.
    pub group: Option<usize>,
    /// Every match begins with one of the keywords (see `text::anchor`): the regex runs
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
    /// `name_formats`, by normalised name.
    pub formats: super::names::Formats,
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
                .nfa_size_limit(Some(4 << 20))
                // A rule runs on a short window at its keyword hit, or anchored there: a
                // literal prefilter would find that keyword again. Building one for every
                // rule costs more than it saves (2-2.5 % fewer instructions on samples of
                // the bench tree without them, same findings).
                .auto_prefilter(false),
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
        let formats = super::names::Formats::new(&def.name_formats, &names).map_err(bad)?;
        Ok(Rule {
            def,
            regex: OnceLock::new(),
            follow: OnceLock::new(),
            group,
            anchored,
            confidence,
            source: source.to_string(),
            scope: None,
            reach,
            near,
            needs,
            names,
            formats,
        })
    }

    /// The compiled regex, built on first use (thread-safe: one thread builds, the
    /// others wait for it). `None` only if it failed to build.
    pub fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| build_regex(&self.def.pattern).ok())
            .as_ref()
    }

    /// What may follow keyword number `k` (of `def.keywords`) at the start of a match of
    /// this anchored rule; `None` when not bounded. Built on first use.
    pub fn follow(&self, k: usize) -> Option<&super::follow::Follow> {
        self.follow
            .get_or_init(|| {
                super::follow::follows(&self.def.pattern, syntax_config(), &self.def.keywords)
            })
            .get(k)?
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
    // the built-in files are parsed in parallel (start-up), then added in order
    let parsed: Vec<Result<Vec<RuleDef>, RuleError>> = BUILTIN
        .par_iter()
        .map(|(name, text)| parse_file(text, name))
        .collect();
    for ((name, _), defs_of) in BUILTIN.iter().zip(parsed) {
        let mut seen = std::collections::BTreeSet::new();
        for d in defs_of? {
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
    let mut todo = Vec::new();
    for id in order {
        if disabled.iter().any(|d| d == &id) {
            continue;
        }
        if let Some(entry) = defs.remove(&id) {
            todo.push(entry);
        }
    }
    // each rule is checked (and its pattern parsed) on its own, in parallel; the first
    // problem in rule order is the one reported
    let done: Vec<Result<Rule, RuleError>> = todo
        .into_par_iter()
        .map(|(def, src, builtin)| {
            if builtin {
                Rule::prepare(def, &src)
            } else {
                Rule::compile(def, &src)
            }
        })
        .collect();
    done.into_iter().collect()
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

impl crate::Classified for RuleError {
    /// A rule file that cannot be read or compiled is a configuration error.
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Config
    }
}

#[cfg(test)]
mod tests {
    use super::super::names::name_before;
    use super::*;
    use crate::vocab::Severity;

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
            name_formats: Default::default(),
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
