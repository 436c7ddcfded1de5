//! The `[sigstore]` section of a policy: the trusted root, which certificate identities
//! (SAN and OIDC issuer, exact or pattern) may sign each artifact kind, managed public
//! keys for key-signed Sigstore and model-signing bundles, and CA certificates for the
//! model-signing certificate method.
//!
//! ```toml
//! [sigstore]
//! trusted_root = "keys/trusted_root.json"
//!
//! [[sigstore.identities]]
//! kinds = ["weights"]
//! san = "stefanb@us.ibm.com"                       # or san_regex = "^https://github\\.com/org/.*$"
//! issuer = "https://sigstore.verify.ibm.com/oauth2" # or issuer_regex = "..."
//!
//! [[sigstore.keys]]
//! kinds = ["patch"]
//! path = "keys/release-ec.pub"
//!
//! [[sigstore.ca_certs]]
//! kinds = ["weights"]
//! path = "keys/model-ca.pem"
//! ```
//!
//! Patterns are Rust `regex` syntax and must match the whole value (they are anchored).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Sigstore settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigstorePolicy {
    /// Path to a `trusted_root.json` (relative to the policy file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<PathBuf>,
    /// Certificate identities allowed to sign, per artifact kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<IdentityRule>,
    /// Managed public keys (PEM SPKI, ECDSA P-256/384/521 or Ed25519), per artifact kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KindPath>,
    /// CA certificates (PEM) that model-signing certificate chains must reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_certs: Vec<KindPath>,
}

/// One accepted signer identity.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRule {
    /// Artifact kinds (`weights`, `patch`, `dataset`, ...) this rule applies to.
    pub kinds: Vec<String>,
    /// Exact certificate SAN (email or URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub san: Option<String>,
    /// Pattern the whole SAN must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub san_regex: Option<String>,
    /// Exact OIDC issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Pattern the whole OIDC issuer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_regex: Option<String>,
}

/// A file trusted for some artifact kinds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindPath {
    /// Artifact kinds this file is trusted for.
    pub kinds: Vec<String>,
    /// Path (relative to the policy file).
    pub path: PathBuf,
}

impl SigstorePolicy {
    /// Check the section for mistakes that need no files: every identity names kinds,
    /// exactly one of `san`/`san_regex` and of `issuer`/`issuer_regex`, and patterns compile.
    pub fn check(&self) -> Result<(), String> {
        for (i, r) in self.identities.iter().enumerate() {
            let at = format!("sigstore.identities[{i}]");
            if r.kinds.is_empty() {
                return Err(format!(
                    "{at}: kinds is empty; name the artifact kinds it may sign"
                ));
            }
            known_kinds(&at, &r.kinds)?;
            match (&r.san, &r.san_regex) {
                (Some(_), None) => {}
                (None, Some(p)) => {
                    anchored(p).map_err(|e| format!("{at}: san_regex: {e}"))?;
                }
                _ => return Err(format!("{at}: give exactly one of san or san_regex")),
            }
            match (&r.issuer, &r.issuer_regex) {
                (Some(_), None) => {}
                (None, Some(p)) => {
                    anchored(p).map_err(|e| format!("{at}: issuer_regex: {e}"))?;
                }
                _ => return Err(format!("{at}: give exactly one of issuer or issuer_regex")),
            }
        }
        for (what, list) in [("keys", &self.keys), ("ca_certs", &self.ca_certs)] {
            for (i, k) in list.iter().enumerate() {
                if k.kinds.is_empty() {
                    return Err(format!("sigstore.{what}[{i}]: kinds is empty"));
                }
                known_kinds(&format!("sigstore.{what}[{i}]"), &k.kinds)?;
            }
        }
        Ok(())
    }

    /// Identity rules that apply to `kind`.
    pub fn identities_for<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a IdentityRule> {
        self.identities
            .iter()
            .filter(move |r| applies(&r.kinds, kind))
    }

    /// Managed key paths that apply to `kind`.
    pub fn keys_for<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a PathBuf> {
        self.keys
            .iter()
            .filter(move |k| applies(&k.kinds, kind))
            .map(|k| &k.path)
    }

    /// CA certificate paths that apply to `kind`.
    pub fn ca_certs_for<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a PathBuf> {
        self.ca_certs
            .iter()
            .filter(move |k| applies(&k.kinds, kind))
            .map(|k| &k.path)
    }
}

/// Every entry of `kinds` is an artifact kind or `*`.
fn known_kinds(at: &str, kinds: &[String]) -> Result<(), String> {
    let known = crate::vocab::KINDS;
    match kinds
        .iter()
        .find(|k| *k != "*" && !known.contains(&k.as_str()))
    {
        Some(k) => Err(format!(
            "{at}: unknown artifact kind {k:?}; the kinds are {} (or \"*\" for all)",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

fn applies(kinds: &[String], kind: &str) -> bool {
    kinds.iter().any(|k| k == kind || k == "*")
}

/// Compile a pattern so that it must match the whole value.
pub fn anchored(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use crate::policy::Policy;

    #[test]
    fn parses_identities_keys_and_cas() {
        let p = Policy::from_toml(
            r#"
[sigstore]
trusted_root = "root.json"
[[sigstore.identities]]
kinds = ["weights"]
san = "a@example.com"
issuer_regex = "https://accounts\\.example\\.com"
[[sigstore.keys]]
kinds = ["patch"]
path = "k.pem"
[[sigstore.ca_certs]]
kinds = ["*"]
path = "ca.pem"
"#,
        )
        .unwrap();
        let s = p.sigstore.unwrap();
        assert_eq!(s.identities_for("weights").count(), 1);
        assert_eq!(s.identities_for("patch").count(), 0);
        assert_eq!(s.keys_for("patch").count(), 1);
        assert_eq!(s.ca_certs_for("dataset").count(), 1);
    }

    #[test]
    fn rejects_bad_rules() {
        let both = "[[sigstore.identities]]\nkinds=[\"weights\"]\nsan=\"a\"\nsan_regex=\"a\"\nissuer=\"i\"\n";
        assert!(Policy::from_toml(both).is_err());
        let no_issuer = "[[sigstore.identities]]\nkinds=[\"weights\"]\nsan=\"a\"\n";
        assert!(Policy::from_toml(no_issuer).is_err());
        let bad_re =
            "[[sigstore.identities]]\nkinds=[\"weights\"]\nsan_regex=\"(\"\nissuer=\"i\"\n";
        assert!(Policy::from_toml(bad_re).is_err());
        let no_kinds = "[[sigstore.identities]]\nkinds=[]\nsan=\"a\"\nissuer=\"i\"\n";
        assert!(Policy::from_toml(no_kinds).is_err());
        assert!(Policy::from_toml("[sigstore]\nbogus = 1\n").is_err());
        let ok = "[[sigstore.identities]]\nkinds=[\"weights\"]\nsan=\"a\"\nissuer=\"i\"\n";
        assert!(Policy::from_toml(ok).is_ok());
        // a misspelled kind would trust the identity for nothing: refused
        let typo = ok.replace("weights", "weigths");
        let e = Policy::from_toml(&typo).unwrap_err().to_string();
        assert!(e.contains("unknown artifact kind \"weigths\""), "{e}");
        assert!(Policy::from_toml(&ok.replace("\"weights\"", "\"*\"")).is_ok());
    }

    #[test]
    fn patterns_are_anchored() {
        let re = super::anchored("a@example\\.com").unwrap();
        assert!(re.is_match("a@example.com"));
        assert!(!re.is_match("xa@example.com.evil"));
    }
}
