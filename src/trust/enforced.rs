//! What a policy enforces, checked against the files it names: every key loads, no key
//! counts twice, every threshold can be met, the Sigstore material loads. `airgate policy
//! check` prints the result; `verify`, `scan`, `init`, `admit` and `watch` refuse a policy
//! that fails it (exit 2), so a policy that loads is a policy that means what it says.

use super::model_signing::x509::Cert;
use super::sigstore::{Signers, SigstoreRoot};
use super::store::{StoreError, TrustStore};
use crate::policy::Policy;
use crate::vocab::KINDS;
use serde::Serialize;

/// Largest CA certificate file read.
const MAX_CA_BYTES: u64 = 1 << 20;

/// One key as a kind's rule sees it.
#[derive(Clone, Debug, Serialize)]
pub struct KeyView {
    /// The key's name in the policy.
    pub name: String,
    /// Its key id (hex SHA-256 of the DER public key).
    pub id: String,
    /// RFC 3339 expiry, if any.
    pub expires: Option<String>,
    /// Expired at the time of the check (still listed; its signatures no longer count).
    pub expired: bool,
    /// Listed in the policy's `revoked`: its signatures never count.
    pub revoked: bool,
}

/// What one artifact kind requires.
#[derive(Clone, Debug, Serialize)]
pub struct KindView {
    /// The artifact kind: `weights`, `patch`, `dataset` or `trust`.
    pub kind: String,
    /// Distinct trusted signers required.
    pub threshold: usize,
    /// The Ed25519 keys that may count.
    pub keys: Vec<KeyView>,
    /// Whether Sigstore bundles carried in the envelope count.
    pub sigstore: bool,
    /// Sigstore certificate identities allowed for the kind (SAN / issuer).
    pub sigstore_identities: Vec<String>,
    /// Sigstore managed keys allowed for the kind.
    pub sigstore_keys: usize,
    /// CA certificates trusted for certificate-chain model signatures of the kind.
    pub ca_certs: usize,
    /// `weights` only: OpenSSF model tars admitted on one signature.
    pub single_model_signature: bool,
}

/// The whole policy, as enforced.
#[derive(Clone, Debug, Serialize)]
pub struct Enforced {
    /// Hex SHA-256 of the policy file, as receipts and the audit log record it.
    pub policy_sha256: String,
    /// One entry per artifact kind, configured or not (an unconfigured kind is refused).
    pub kinds: Vec<KindView>,
    /// Revoked key ids.
    pub revoked: Vec<String>,
    /// Lowest severity that rejects.
    pub block_at: String,
    /// Domains treated as inside the enclave (no reachback finding).
    pub internal_domains: Vec<String>,
    /// Rules the policy turns off: these are not checked.
    pub disabled_rules: Vec<String>,
    /// Number of waivers in the policy.
    pub waivers: usize,
    /// Things that hold today but will change on their own (keys about to expire, kinds
    /// that accept nothing).
    pub notes: Vec<String>,
}

/// Why a policy fails the check. All are configuration errors (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A key file the policy names does not load or does not match its id.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The `[sigstore]` section names a trusted root or key that does not load; why.
    #[error("{0}")]
    Sigstore(String),
    /// A CA certificate file for model signatures does not load.
    #[error("CA certificate file {path}: {message}")]
    Ca {
        /// The certificate file.
        path: String,
        /// Why it does not load.
        message: String,
    },
}

/// Check `policy` against the files it names at time `now`, and describe what it enforces.
pub fn check(policy: &Policy, now: i64) -> Result<Enforced, CheckError> {
    policy.check().map_err(StoreError::from)?;
    let store = TrustStore::from_policy(policy)?;
    if let Some(s) = &policy.sigstore {
        if let Some(root) = &s.trusted_root {
            SigstoreRoot::load(&policy.resolve(root))
                .map_err(|e| CheckError::Sigstore(e.to_string()))?;
        }
        for c in &s.ca_certs {
            load_cas(&policy.resolve(&c.path))?;
        }
    }
    let mut kinds = Vec::new();
    let mut notes = Vec::new();
    for kind in KINDS {
        let signers =
            Signers::from_policy(policy, kind).map_err(|e| CheckError::Sigstore(e.to_string()))?;
        let t = policy.trust.get(*kind);
        let rule = store.kinds().find(|(k, _)| k == kind).map(|(_, r)| r);
        let keys: Vec<KeyView> = rule
            .map(|r| {
                r.key_ids
                    .iter()
                    .filter_map(|id| store.key(id))
                    .map(|k| KeyView {
                        name: k.name.clone(),
                        id: k.key.id().to_string(),
                        expires: k.expires.map(crate::util::format_time),
                        expired: k.expires.is_some_and(|e| now > e),
                        revoked: store.is_revoked(k.key.id()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let threshold = t.map_or(0, |t| t.threshold);
        let counting = keys.iter().filter(|k| !k.expired && !k.revoked).count();
        let sigstore = t.is_some_and(|t| t.sigstore);
        if t.is_none() {
            notes.push(format!(
                "kind {kind:?} is not configured: every {kind} bundle is refused"
            ));
        } else if !sigstore && counting < threshold {
            notes.push(format!(
                "kind {kind:?}: only {counting} of its keys can sign today (others expired), \
                 fewer than its threshold {threshold}: every {kind} bundle is refused"
            ));
        }
        let ca_certs = policy
            .sigstore
            .as_ref()
            .map_or(0, |s| s.ca_certs_for(kind).count());
        kinds.push(KindView {
            kind: kind.to_string(),
            threshold,
            keys,
            sigstore,
            sigstore_identities: signers.describe(),
            sigstore_keys: signers.keys.len(),
            ca_certs,
            single_model_signature: t.is_some_and(|t| t.single_model_signature),
        });
    }
    Ok(Enforced {
        policy_sha256: policy.digest(),
        kinds,
        revoked: policy.revoked.clone(),
        block_at: policy.decide.block_at.to_string(),
        internal_domains: policy.inspect.internal_domains.clone(),
        disabled_rules: policy.inspect.disabled_rules.clone(),
        waivers: policy.inspect.waivers.len(),
        notes,
    })
}

fn load_cas(path: &std::path::Path) -> Result<Vec<Cert>, CheckError> {
    use std::io::Read;
    let err = |message: String| CheckError::Ca {
        path: path.display().to_string(),
        message,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| err(e.to_string()))?;
    if text.len() as u64 > MAX_CA_BYTES {
        return Err(err(format!("larger than {MAX_CA_BYTES} bytes")));
    }
    Cert::all_from_pem(&text).map_err(|e| err(e.to_string()))
}

impl Enforced {
    /// The policy in words, one kind per paragraph.
    pub fn describe(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "policy sha256 {}", self.policy_sha256);
        for k in &self.kinds {
            if k.threshold == 0 {
                let _ = writeln!(
                    s,
                    "\n{}: not configured, every bundle of this kind is refused",
                    k.kind
                );
                continue;
            }
            let _ = writeln!(
                s,
                "\n{}: {} distinct trusted signature{} required, from:",
                k.kind,
                k.threshold,
                if k.threshold == 1 { "" } else { "s" }
            );
            for key in &k.keys {
                let mut state = Vec::new();
                if let Some(e) = &key.expires {
                    state.push(if key.expired {
                        format!("EXPIRED {e}")
                    } else {
                        format!("expires {e}")
                    });
                }
                if key.revoked {
                    state.push("REVOKED".into());
                }
                let state = if state.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", state.join(", "))
                };
                let _ = writeln!(s, "  - key {:?} id {}{state}", key.name, key.id);
            }
            if k.sigstore {
                let _ = writeln!(
                    s,
                    "  - Sigstore bundles in the envelope count: {} identit{} ({}) and {} managed key{}",
                    k.sigstore_identities.len(),
                    if k.sigstore_identities.len() == 1 { "y" } else { "ies" },
                    k.sigstore_identities.join("; "),
                    k.sigstore_keys,
                    if k.sigstore_keys == 1 { "" } else { "s" }
                );
            }
            if k.single_model_signature {
                let _ = writeln!(
                    s,
                    "  - OpenSSF-signed model tars are admitted on their one signature"
                );
            }
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "revoked key ids: {}",
            if self.revoked.is_empty() {
                "none".to_string()
            } else {
                self.revoked.join(", ")
            }
        );
        let _ = writeln!(s, "findings at or above {} severity reject", self.block_at);
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let _ = writeln!(
            s,
            "internal domains (not reachback): {}",
            list(&self.internal_domains)
        );
        let _ = writeln!(
            s,
            "disabled rules (not checked): {}",
            list(&self.disabled_rules)
        );
        let _ = writeln!(s, "waivers: {}", self.waivers);
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        s
    }
}

impl crate::Classified for CheckError {
    /// A policy whose trust cannot be enforced is a configuration error.
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyError;
    use crate::trust::keys::write_keypair;

    fn policy_with(dir: &std::path::Path, body: &str) -> Result<Policy, PolicyError> {
        for n in ["a", "b"] {
            if !dir.join(format!("{n}.pub")).exists() {
                write_keypair(dir, n).unwrap();
            }
        }
        let p = dir.join("p.toml");
        std::fs::write(&p, body).unwrap();
        Policy::load(&p)
    }

    const KEYS: &str =
        "[[keys]]\nname = \"a\"\npath = \"a.pub\"\n[[keys]]\nname = \"b\"\npath = \"b.pub\"\n";

    #[test]
    fn a_sound_policy_is_described() {
        let d = tempfile::tempdir().unwrap();
        let p = policy_with(
            d.path(),
            &format!("{KEYS}[trust.weights]\nkeys = [\"a\", \"b\"]\nthreshold = 2\n"),
        )
        .unwrap();
        let e = check(&p, 0).unwrap();
        let w = e.kinds.iter().find(|k| k.kind == "weights").unwrap();
        assert_eq!((w.threshold, w.keys.len()), (2, 2));
        let text = e.describe();
        assert!(
            text.contains("weights: 2 distinct trusted signatures required"),
            "{text}"
        );
        assert!(text.contains("patch: not configured"), "{text}");
    }

    #[test]
    fn the_same_key_under_two_names_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let body =
            "[[keys]]\nname = \"a\"\npath = \"a.pub\"\n[[keys]]\nname = \"a2\"\npath = \"a.pub\"\n\
                    [trust.weights]\nkeys = [\"a\", \"a2\"]\nthreshold = 2\n";
        let p = policy_with(d.path(), body).unwrap();
        let e = check(&p, 0).unwrap_err().to_string();
        assert!(e.contains("are the same key"), "{e}");
        // near miss: two different keys pass
        let ok = policy_with(
            d.path(),
            &format!("{KEYS}[trust.weights]\nkeys = [\"a\", \"b\"]\nthreshold = 2\n"),
        )
        .unwrap();
        assert!(check(&ok, 0).is_ok());
    }

    #[test]
    fn a_threshold_that_needs_a_revoked_key_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let a = crate::trust::keys::PublicKey::load(&{
            write_keypair(d.path(), "a").unwrap();
            d.path().join("a.pub")
        })
        .unwrap();
        let body = format!(
            "revoked = [\"{}\"]\n{KEYS}[trust.weights]\nkeys = [\"a\", \"b\"]\nthreshold = 2\n",
            a.id()
        );
        let p = policy_with(d.path(), &body).unwrap();
        let e = check(&p, 0).unwrap_err().to_string();
        assert!(e.contains("can never be met"), "{e}");
        // near miss: 1-of-2 with one revoked key can still be met
        let p = policy_with(d.path(), &body.replace("threshold = 2", "threshold = 1")).unwrap();
        assert!(check(&p, 0).is_ok());
    }
}
