//! The trust store: the policy's keys resolved from disk, and the k-of-n evaluation of a DSSE
//! envelope's signatures for one artifact kind (each key id counted once; unknown, expired,
//! revoked and invalid signatures never count).

use super::dsse::{decode_sig, Envelope};
use super::keys::{KeyError, PublicKey};
use super::trust_state::TrustState;
use crate::policy::{Policy, PolicyError};
use crate::vocab::KINDS;
use crate::vocab::{SignatureReport, SignatureStatus};
use std::collections::{BTreeMap, BTreeSet};

/// A key the store knows.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// The key's name in the policy (what reports show).
    pub name: String,
    /// The Ed25519 public key.
    pub key: PublicKey,
    /// Unix time after which the key no longer counts.
    pub expires: Option<i64>,
}

/// Keys and thresholds for one artifact kind.
#[derive(Clone, Debug)]
pub struct KindRule {
    /// Key ids whose signatures count for the kind.
    pub key_ids: BTreeSet<String>,
    /// Distinct counted signatures required.
    pub threshold: usize,
    /// Sigstore bundles in the envelope count too (policy `trust.<kind>.sigstore`; see
    /// `trust::attached`).
    pub sigstore: bool,
}

/// Errors building a store: configuration errors (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A key file failed to load.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The policy's trust section is inconsistent.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// Resolved trust configuration.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    keys: BTreeMap<String, TrustedKey>,
    kinds: BTreeMap<String, KindRule>,
    /// Applies to every kind not listed in `kinds` (ad-hoc `--key` use).
    any_kind: Option<KindRule>,
    revoked: BTreeSet<String>,
}

/// The result of checking an envelope's signatures for one kind.
#[derive(Clone, Debug)]
pub struct ThresholdResult {
    /// One entry per signature in the envelope, counted or not, with the reason.
    pub signatures: Vec<SignatureReport>,
    /// Distinct key ids that counted.
    pub counted: Vec<String>,
    /// Distinct counted signatures required.
    pub threshold: usize,
    /// Why the threshold cannot be met at all, if so (no keys for the kind).
    pub unconfigured: Option<String>,
}

impl ThresholdResult {
    /// True when enough distinct trusted keys signed.
    pub fn met(&self) -> bool {
        self.unconfigured.is_none() && self.threshold > 0 && self.counted.len() >= self.threshold
    }
}

impl TrustStore {
    /// Load every key the policy names and resolve each kind's key list.
    pub fn from_policy(policy: &Policy) -> Result<TrustStore, StoreError> {
        let mut store = TrustStore {
            revoked: policy
                .revoked
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            ..TrustStore::default()
        };
        let mut by_name = BTreeMap::new();
        for k in &policy.keys {
            let path = policy.resolve(&k.path);
            let key = PublicKey::load(&path)?;
            if let Some(expected) = &k.id {
                if !expected.eq_ignore_ascii_case(key.id()) {
                    return Err(KeyError::IdMismatch {
                        path,
                        expected: expected.clone(),
                        actual: key.id().to_string(),
                    }
                    .into());
                }
            }
            let expires = match &k.expires {
                Some(e) => Some(crate::util::parse_time(e).map_err(|m| {
                    PolicyError::Invalid(format!("key {:?}: expires: {m}", k.name))
                })?),
                None => None,
            };
            if let Some(other) = store.keys.get(key.id()) {
                return Err(PolicyError::Invalid(format!(
                    "keys {:?} and {:?} are the same key (id {}): one key counts once, so \
                     listing it under two names only hides a smaller key set",
                    other.name,
                    k.name,
                    key.id()
                ))
                .into());
            }
            by_name.insert(k.name.clone(), key.id().to_string());
            store.keys.insert(
                key.id().to_string(),
                TrustedKey {
                    name: k.name.clone(),
                    key,
                    expires,
                },
            );
        }
        for (kind, t) in &policy.trust {
            let mut ids = BTreeSet::new();
            for k in &t.keys {
                let id = match by_name.get(k) {
                    Some(id) => id.clone(),
                    None if store.keys.contains_key(&k.to_ascii_lowercase()) => k.to_ascii_lowercase(),
                    None => {
                        return Err(PolicyError::Invalid(format!(
                            "trust.{kind} names key {k:?}, which is neither a [[keys]] name nor the id of one"
                        ))
                        .into())
                    }
                };
                ids.insert(id);
            }
            if !t.sigstore && t.threshold > ids.len() {
                return Err(PolicyError::Invalid(format!(
                    "trust.{kind}: threshold {} is more than its {} distinct keys",
                    t.threshold,
                    ids.len()
                ))
                .into());
            }
            let usable = ids.iter().filter(|id| !store.revoked.contains(*id)).count();
            if !t.sigstore && t.threshold > usable {
                return Err(PolicyError::Invalid(format!(
                    "trust.{kind}: threshold {} can never be met: {} of its {} keys are revoked",
                    t.threshold,
                    ids.len() - usable,
                    ids.len()
                ))
                .into());
            }
            store.kinds.insert(
                kind.clone(),
                KindRule {
                    key_ids: ids,
                    threshold: t.threshold,
                    sigstore: t.sigstore,
                },
            );
        }
        Ok(store)
    }

    /// The same evaluator over a rotatable trust configuration (the gate's active
    /// `state/trust.toml`): its embedded keys and expiries, each kind's role, its revocation
    /// list, and its root role as the rule for kind `trust`. Evaluation is then identical to
    /// [`TrustState::evaluate`].
    pub fn from_state(state: &TrustState) -> TrustStore {
        let mut store = TrustStore {
            revoked: state.revoked().clone(),
            ..TrustStore::default()
        };
        for k in state.keys() {
            store.keys.insert(
                k.key.id().to_string(),
                TrustedKey {
                    name: k.name.clone(),
                    key: k.key.clone(),
                    expires: k.expires.as_ref().map(|(_, t)| *t),
                },
            );
        }
        for kind in KINDS {
            if let Some(r) = state.role(kind) {
                store.kinds.insert(
                    kind.to_string(),
                    KindRule {
                        key_ids: r.key_ids.clone(),
                        threshold: r.threshold,
                        // a rotated trust state carries Ed25519 keys only
                        sigstore: false,
                    },
                );
            }
        }
        store
    }

    /// Ad-hoc trust from the command line: `keys`, any `threshold` of them, for every kind.
    pub fn ad_hoc(keys: Vec<PublicKey>, threshold: usize, revoked: &[String]) -> TrustStore {
        let mut store = TrustStore {
            revoked: revoked.iter().map(|s| s.to_ascii_lowercase()).collect(),
            ..TrustStore::default()
        };
        let mut ids = BTreeSet::new();
        for (i, key) in keys.into_iter().enumerate() {
            ids.insert(key.id().to_string());
            store.keys.insert(
                key.id().to_string(),
                TrustedKey {
                    name: format!("--key #{}", i + 1),
                    key,
                    expires: None,
                },
            );
        }
        store.any_kind = Some(KindRule {
            key_ids: ids,
            threshold,
            sigstore: false,
        });
        store
    }

    /// `--add-key`: trust `keys` as well for every kind the policy configures, counted under
    /// that kind's own threshold (which does not change). A revoked key still never counts.
    pub fn add_keys(&mut self, keys: Vec<PublicKey>) {
        for (i, key) in keys.into_iter().enumerate() {
            let id = key.id().to_string();
            for rule in self.kinds.values_mut() {
                rule.key_ids.insert(id.clone());
            }
            self.keys.entry(id).or_insert(TrustedKey {
                name: format!("--add-key #{}", i + 1),
                key,
                expires: None,
            });
        }
    }

    /// Artifact kinds the store has a rule for, with that rule.
    pub fn kinds(&self) -> impl Iterator<Item = (&str, &KindRule)> {
        self.kinds.iter().map(|(k, r)| (k.as_str(), r))
    }

    /// Every key the store knows, by id.
    pub fn keys(&self) -> impl Iterator<Item = &TrustedKey> {
        self.keys.values()
    }

    /// The rule for `kind`.
    pub fn rule(&self, kind: &str) -> Option<&KindRule> {
        self.kinds.get(kind).or(self.any_kind.as_ref())
    }

    /// A known key by id.
    pub fn key(&self, id: &str) -> Option<&TrustedKey> {
        self.keys.get(id)
    }

    /// Whether key id `id` is revoked.
    pub fn is_revoked(&self, id: &str) -> bool {
        self.revoked.contains(&id.to_ascii_lowercase())
    }

    /// Check every signature of `env` for artifact `kind` at time `now`.
    pub fn evaluate(&self, kind: &str, env: &Envelope, now: i64) -> ThresholdResult {
        let rule = self.rule(kind);
        let mut result = self.evaluate_rule(rule, &format!("kind {kind:?}"), env, now);
        if rule.is_none_or(|r| r.threshold == 0 || (r.key_ids.is_empty() && !r.sigstore)) {
            result.unconfigured = Some(format!("the policy trusts no key for kind {kind:?}"));
        }
        result
    }

    /// Check every signature of `env` against an explicit rule (`label` names it in reasons,
    /// e.g. `kind "weights"` or `root role`). The one evaluator behind both policy trust and
    /// rotated trust states: each key id counts once; the envelope's keyid is only a hint;
    /// unknown, expired, revoked and invalid signatures never count.
    pub fn evaluate_rule(
        &self,
        rule: Option<&KindRule>,
        label: &str,
        env: &Envelope,
        now: i64,
    ) -> ThresholdResult {
        let mut result = ThresholdResult {
            signatures: Vec::new(),
            counted: Vec::new(),
            threshold: rule.map_or(0, |r| r.threshold),
            unconfigured: None,
        };
        let pae = env.signed_bytes().ok();
        for s in &env.signatures {
            let report = |status, key_id: &str, reason: String| SignatureReport {
                format: "dsse-ed25519".into(),
                key_id: key_id.to_string(),
                identity: None,
                status,
                reason,
            };
            let (Some(pae), Some(sig)) = (pae.as_ref(), decode_sig(&s.sig)) else {
                result.signatures.push(report(
                    SignatureStatus::Invalid,
                    &s.keyid,
                    "signature or payload is not valid base64".into(),
                ));
                continue;
            };
            // The keyid field is only a hint: find the key that actually verifies.
            let hinted = self.keys.get(&s.keyid.to_ascii_lowercase());
            let signer = hinted
                .filter(|k| k.key.verify(pae, &sig))
                .or_else(|| self.keys.values().find(|k| k.key.verify(pae, &sig)));
            let Some(k) = signer else {
                let (status, reason) = match hinted {
                    Some(k) => (
                        SignatureStatus::Invalid,
                        format!("does not verify with key {:?}", k.name),
                    ),
                    None => (
                        SignatureStatus::Unknown,
                        "no trusted key verifies this signature".into(),
                    ),
                };
                result.signatures.push(report(status, &s.keyid, reason));
                continue;
            };
            let id = k.key.id();
            let (status, reason) = if self.revoked.contains(id) {
                (
                    SignatureStatus::Revoked,
                    format!("key {:?} is revoked", k.name),
                )
            } else if k.expires.is_some_and(|e| now > e) {
                (
                    SignatureStatus::Expired,
                    format!(
                        "key {:?} expired at {}",
                        k.name,
                        crate::util::format_time(k.expires.unwrap_or_default())
                    ),
                )
            } else if !rule.is_some_and(|r| r.key_ids.contains(id)) {
                (
                    SignatureStatus::Unknown,
                    format!("key {:?} is not trusted for {label}", k.name),
                )
            } else if result.counted.iter().any(|c| c == id) {
                (
                    SignatureStatus::Duplicate,
                    format!("key {:?} already counted once", k.name),
                )
            } else {
                result.counted.push(id.to_string());
                (
                    SignatureStatus::Counted,
                    format!("valid signature by {:?} ({label})", k.name),
                )
            };
            result.signatures.push(report(status, id, reason));
        }
        result
    }
}

impl crate::Classified for StoreError {
    /// Trust that cannot be built from the keys and policy given is a configuration error.
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Config
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
