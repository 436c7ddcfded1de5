//! The schema of one text rule as a policy or a rule file writes it (`[[rule]]`,
//! `[[inspect.rules]]`): data only; `inspect::text::rules` validates and compiles it.

use crate::vocab::{Category, Confidence, Severity};
use serde::{Deserialize, Serialize};

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
    /// anchored at the download command (more than `FAR_DOWNLOAD` (300) bytes).
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
    /// word, a path, a URL or a counting run (see `inspect::text::shape::random_value`).
    RandomValue,
    /// A shared access signature: one whose `se=` expiry has passed is listed at info.
    SasExpiry,
}

/// One rule as written in a rule file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Stable id, e.g. `secret.aws-access-key-id`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// `secret` or `reachback`: which category its findings carry.
    pub category: RuleCategory,
    /// Severity of its findings; the policy's `block_at` decides whether they reject.
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
    /// A check a match must also pass (a checksum, a shape) beyond the pattern; `None`: the
    /// pattern alone.
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
    /// `derived_confidence` in `inspect::text::rules`).
    #[serde(default)]
    pub confidence: Option<Confidence>,
    /// Further categories of every match, reported on the same finding (a webhook URL is a
    /// secret and reachback). A reachback match inside such a match is not reported again.
    #[serde(default)]
    pub also_categories: Vec<RuleCategory>,
    /// Longest match, for tokens longer than the default 384 bytes (JWTs, long OpenAI and
    /// Slack tokens); up to `MAX_LONG_MATCH` (4096), and only for a rule whose pattern starts
    /// with a keyword (it runs anchored at the hit).
    #[serde(default)]
    pub max_len: Option<usize>,
    /// Words (ASCII case-insensitive) that, within `NEAR` (512) bytes of a match, lower its
    /// severity to `lower_to`: context that makes a value public by design (a browser API
    /// key in a web SDK configuration).
    #[serde(default)]
    pub lower_near: Vec<String>,
    /// The severity for `lower_near` (default `low`).
    #[serde(default)]
    pub lower_to: Option<Severity>,
    /// Words (ASCII case-insensitive) one of which must occur within `NEAR` (512) bytes of a
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
    /// `NAMES_BACK` bytes before it: `discord` for `DISCORD_API_KEY = …` matched at `_KEY`,
    /// `newrelic` for `new relic license key = …`. Kept out of the keyword automaton, so a
    /// long list of names costs nothing until a keyword hit needs them.
    #[serde(default)]
    pub names_before: Vec<String>,
    /// The key formats of some `names_before` providers (name → formats such as
    /// `[0-9a-f]{32}` or `sk_[A-Za-z0-9]{32,48}`: a literal prefix, one character class, a
    /// length). A match whose every named provider has formats here and whose value fits
    /// none of them is listed at `info`: it is not that provider's key.
    #[serde(default)]
    pub name_formats: std::collections::BTreeMap<String, Vec<String>>,
}

/// Rule categories: a subset of [`Category`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleCategory {
    /// A credential or key: findings of category secret.
    Secret,
    /// A reference to a host outside the enclave: findings of category reachback.
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
