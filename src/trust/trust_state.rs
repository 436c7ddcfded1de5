//! The gate's rotatable trust configuration ([`TrustState`]): keys embedded as PEM, a root
//! role that signs trust rotations, per-kind signer lists and thresholds, the revocation
//! list and a version. The same TOML text is the payload of a `trust` bundle
//! (`trust.toml`) and the persisted state. See `docs/trust-rotation.md`.

use super::dsse::Envelope;
use super::keys::PublicKey;
use super::store::ThresholdResult;
use crate::policy::Policy;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Largest trust file accepted.
pub const MAX_TRUST_FILE: usize = 1 << 20;
/// Most keys a trust file may embed.
pub const MAX_KEYS: usize = 256;
/// Most revoked key ids.
pub const MAX_REVOKED: usize = 4096;
/// Longest embedded PEM key.
pub const MAX_PEM: usize = 4096;
/// The artifact kind whose bundles the root role signs.
pub const ROOT_KIND: &str = "trust";

/// Errors reading or checking a trust file. From the gate's own state file they are
/// configuration errors; inside a rotation bundle they reject it.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file is larger than 1 MiB; its size in bytes.
    #[error("trust file is {0} bytes, over the limit of {MAX_TRUST_FILE}")]
    TooLarge(usize),
    /// The file is not TOML of the trust file's schema; the parser's message.
    #[error("trust file is not valid: {0}")]
    Parse(String),
    /// The file parses but contradicts itself (unknown key in a role, threshold above the
    /// role's keys); why.
    #[error("trust file is inconsistent: {0}")]
    Invalid(String),
    /// A key the policy names (when the trust is first made from the policy) does not load.
    #[error("cannot load key {name:?} named by the policy: {message}")]
    PolicyKey {
        /// The key's name.
        name: String,
        /// Why it does not load.
        message: String,
    },
}

/// The trust file as written (TOML).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustFile {
    /// Integer version; each rotation is exactly one more.
    pub version: u64,
    /// Key ids (hex SHA-256 of the DER public key) that never count. Once revoked, always.
    #[serde(default)]
    pub revoked: Vec<String>,
    /// Who may sign the next trust rotation.
    pub root: RoleFile,
    /// Every key the roles may name.
    #[serde(default)]
    pub keys: Vec<KeyFile>,
    /// Per artifact kind (`weights`, `patch`, `dataset`): keys and threshold.
    #[serde(default)]
    pub trust: BTreeMap<String, RoleFile>,
}

/// A key embedded in a trust file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Name for reports; role entries refer to keys by id.
    pub name: String,
    /// SPKI PEM text of an Ed25519 public key.
    pub pem: String,
    /// Optional expected key id, checked against the PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// RFC 3339 time after which the key no longer counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Keys (names or ids) and how many distinct ones must sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFile {
    /// Key ids (hex) in the role.
    pub keys: Vec<String>,
    /// Distinct signatures of the role's keys required.
    pub threshold: usize,
}

/// A key of the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateKey {
    /// The key's name from the trust file.
    pub name: String,
    /// The Ed25519 public key.
    pub key: PublicKey,
    /// As written, and as a Unix time.
    pub expires: Option<(String, i64)>,
}

/// A checked role: distinct key ids and a threshold in `1..=ids`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Key ids (hex) whose signatures count for the role.
    pub key_ids: BTreeSet<String>,
    /// Distinct signatures of those keys required.
    pub threshold: usize,
}

/// A checked trust configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustState {
    version: u64,
    /// In file order.
    keys: Vec<StateKey>,
    root: Role,
    kinds: BTreeMap<String, Role>,
    revoked: BTreeSet<String>,
}

fn invalid(m: String) -> StateError {
    StateError::Invalid(m)
}

impl TrustState {
    /// Parse and check trust file text.
    pub fn from_toml(text: &str) -> Result<TrustState, StateError> {
        if text.len() > MAX_TRUST_FILE {
            return Err(StateError::TooLarge(text.len()));
        }
        let file: TrustFile = toml::from_str(text).map_err(|e| StateError::Parse(e.to_string()))?;
        TrustState::from_file(file)
    }

    /// Parse and check trust file bytes (must be UTF-8).
    pub fn from_bytes(bytes: &[u8]) -> Result<TrustState, StateError> {
        if bytes.len() > MAX_TRUST_FILE {
            return Err(StateError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| StateError::Parse("trust file is not UTF-8".into()))?;
        TrustState::from_toml(text)
    }

    /// Check a parsed trust file.
    pub fn from_file(file: TrustFile) -> Result<TrustState, StateError> {
        if file.keys.len() > MAX_KEYS {
            return Err(invalid(format!(
                "{} keys, more than {MAX_KEYS}",
                file.keys.len()
            )));
        }
        if file.revoked.len() > MAX_REVOKED {
            return Err(invalid(format!(
                "{} revoked ids, more than {MAX_REVOKED}",
                file.revoked.len()
            )));
        }
        let mut revoked = BTreeSet::new();
        for r in &file.revoked {
            let id = r.to_ascii_lowercase();
            if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!(
                    "revoked entry {r:?} is not a 64-digit hex key id"
                )));
            }
            revoked.insert(id);
        }
        let mut keys: Vec<StateKey> = Vec::with_capacity(file.keys.len());
        for k in &file.keys {
            if k.name.is_empty() || k.name.len() > 128 {
                return Err(invalid(format!(
                    "key name {:?} must be 1-128 bytes",
                    k.name
                )));
            }
            if k.pem.len() > MAX_PEM {
                return Err(invalid(format!(
                    "key {:?}: PEM over {MAX_PEM} bytes",
                    k.name
                )));
            }
            let key = PublicKey::from_pem(&k.pem).map_err(|m| {
                invalid(format!(
                    "key {:?}: not an Ed25519 SPKI PEM key: {m}",
                    k.name
                ))
            })?;
            if let Some(expected) = &k.id {
                if !expected.eq_ignore_ascii_case(key.id()) {
                    return Err(invalid(format!(
                        "key {:?} has id {}, but the file says {expected}",
                        k.name,
                        key.id()
                    )));
                }
            }
            if keys.iter().any(|o| o.name == k.name) {
                return Err(invalid(format!("key name {:?} appears twice", k.name)));
            }
            if let Some(o) = keys.iter().find(|o| o.key.id() == key.id()) {
                return Err(invalid(format!(
                    "keys {:?} and {:?} are the same key",
                    o.name, k.name
                )));
            }
            let expires = match &k.expires {
                Some(e) => Some((
                    e.clone(),
                    crate::util::parse_time(e)
                        .map_err(|m| invalid(format!("key {:?}: expires {e:?}: {m}", k.name)))?,
                )),
                None => None,
            };
            keys.push(StateKey {
                name: k.name.clone(),
                key,
                expires,
            });
        }
        let root = role(&keys, &revoked, "root", &file.root)?;
        let mut kinds = BTreeMap::new();
        for (kind, r) in &file.trust {
            if kind == ROOT_KIND {
                return Err(invalid(
                    "[trust.trust] is not allowed in a trust file: the [root] role signs trust bundles"
                        .into(),
                ));
            }
            if !crate::vocab::KINDS.contains(&kind.as_str()) {
                return Err(invalid(format!("unknown artifact kind trust.{kind}")));
            }
            kinds.insert(
                kind.clone(),
                role(&keys, &revoked, &format!("trust.{kind}"), r)?,
            );
        }
        Ok(TrustState {
            version: file.version,
            keys,
            root,
            kinds,
            revoked,
        })
    }

    /// The initial state (the given `version`, normally 1) from a gate policy: its key files,
    /// `[trust.<kind>]` sections and `revoked`; `[trust.trust]` becomes the root role.
    pub fn from_policy(policy: &Policy, version: u64) -> Result<TrustState, StateError> {
        let mut file = TrustFile {
            version,
            revoked: policy.revoked.clone(),
            root: RoleFile {
                keys: Vec::new(),
                threshold: 0,
            },
            keys: Vec::new(),
            trust: BTreeMap::new(),
        };
        for k in &policy.keys {
            let key =
                PublicKey::load(&policy.resolve(&k.path)).map_err(|e| StateError::PolicyKey {
                    name: k.name.clone(),
                    message: e.to_string(),
                })?;
            file.keys.push(KeyFile {
                name: k.name.clone(),
                pem: key.to_pem(),
                id: k.id.clone(),
                expires: k.expires.clone(),
            });
        }
        for (kind, t) in &policy.trust {
            let r = RoleFile {
                keys: t.keys.clone(),
                threshold: t.threshold,
            };
            if kind == ROOT_KIND {
                file.root = r;
            } else {
                file.trust.insert(kind.clone(), r);
            }
        }
        if file.root.keys.is_empty() {
            return Err(invalid(
                "the policy has no [trust.trust] section naming the root keys that sign trust rotations"
                    .into(),
            ));
        }
        TrustState::from_file(file)
    }

    /// The trust file for this state.
    pub fn to_file(&self) -> TrustFile {
        let names = |r: &Role| -> Vec<String> {
            // Keep file order for readability.
            self.keys
                .iter()
                .filter(|k| r.key_ids.contains(k.key.id()))
                .map(|k| k.name.clone())
                .collect()
        };
        TrustFile {
            version: self.version,
            revoked: self.revoked.iter().cloned().collect(),
            root: RoleFile {
                keys: names(&self.root),
                threshold: self.root.threshold,
            },
            keys: self
                .keys
                .iter()
                .map(|k| KeyFile {
                    name: k.name.clone(),
                    pem: k.key.to_pem(),
                    id: Some(k.key.id().to_string()),
                    expires: k.expires.as_ref().map(|(s, _)| s.clone()),
                })
                .collect(),
            trust: self
                .kinds
                .iter()
                .map(|(kind, r)| {
                    (
                        kind.clone(),
                        RoleFile {
                            keys: names(r),
                            threshold: r.threshold,
                        },
                    )
                })
                .collect(),
        }
    }

    /// TOML text for this state (what the gate persists; parses back to an equal state).
    pub fn to_toml(&self) -> Result<String, StateError> {
        toml::to_string(&self.to_file()).map_err(|e| StateError::Parse(e.to_string()))
    }

    /// The trust's version (normally 1 when made from the policy); each rotation adds one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every key the trust file embeds.
    pub fn keys(&self) -> &[StateKey] {
        &self.keys
    }

    /// The role that signs trust rotations.
    pub fn root(&self) -> &Role {
        &self.root
    }

    /// The role for an artifact kind; `trust` is the root role.
    pub fn role(&self, kind: &str) -> Option<&Role> {
        if kind == ROOT_KIND {
            Some(&self.root)
        } else {
            self.kinds.get(kind)
        }
    }

    /// Key ids that never count, whatever role lists them.
    pub fn revoked(&self) -> &BTreeSet<String> {
        &self.revoked
    }

    /// A key by id.
    pub fn key(&self, id: &str) -> Option<&StateKey> {
        self.keys.iter().find(|k| k.key.id() == id)
    }

    /// Check `env`'s signatures for artifact `kind` at Unix time `now`, as
    /// [`super::store::TrustStore::evaluate`] does: each key id counts once; unknown,
    /// expired, revoked and invalid signatures never count.
    pub fn evaluate(&self, kind: &str, env: &Envelope, now: i64) -> ThresholdResult {
        match self.role(kind) {
            Some(r) => self.evaluate_role(r, kind, env, now),
            None => ThresholdResult {
                signatures: Vec::new(),
                counted: Vec::new(),
                threshold: 0,
                unconfigured: Some(format!(
                    "the trust configuration trusts no key for kind {kind:?}"
                )),
            },
        }
    }

    /// Check `env`'s signatures against `role` (named `label` in reasons), with the same
    /// evaluator as policy trust ([`super::store::TrustStore::evaluate_rule`]).
    pub fn evaluate_role(
        &self,
        role: &Role,
        label: &str,
        env: &Envelope,
        now: i64,
    ) -> ThresholdResult {
        let rule = super::store::KindRule {
            key_ids: role.key_ids.clone(),
            threshold: role.threshold,
            sigstore: false,
        };
        super::store::TrustStore::from_state(self).evaluate_rule(
            Some(&rule),
            &format!("role {label}"),
            env,
            now,
        )
    }

    /// What changes from `self` to `new`, one line each, for the audit log.
    pub fn changes(&self, new: &TrustState) -> Vec<String> {
        let mut out = vec![format!("version {} -> {}", self.version, new.version)];
        for k in &new.keys {
            if self.key(k.key.id()).is_none() {
                out.push(format!("key added: {:?} {}", k.name, k.key.id()));
            }
        }
        for k in &self.keys {
            if new.key(k.key.id()).is_none() {
                out.push(format!("key removed: {:?} {}", k.name, k.key.id()));
            }
        }
        for id in new.revoked.difference(&self.revoked) {
            out.push(format!("key revoked: {id}"));
        }
        let mut roles: BTreeSet<&str> = self.kinds.keys().map(String::as_str).collect();
        roles.extend(new.kinds.keys().map(String::as_str));
        roles.insert(ROOT_KIND);
        for kind in roles {
            let (a, b) = (self.role(kind), new.role(kind));
            if a != b {
                let show = |r: Option<&Role>| match r {
                    Some(r) => format!("{} of {:?}", r.threshold, r.key_ids),
                    None => "none".into(),
                };
                let label = if kind == ROOT_KIND { "root" } else { kind };
                out.push(format!("role {label}: {} -> {}", show(a), show(b)));
            }
        }
        out
    }
}

/// Resolve and check a role.
fn role(
    keys: &[StateKey],
    revoked: &BTreeSet<String>,
    label: &str,
    r: &RoleFile,
) -> Result<Role, StateError> {
    let mut key_ids = BTreeSet::new();
    for name in &r.keys {
        let k = keys
            .iter()
            .find(|k| &k.name == name || k.key.id().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                invalid(format!(
                    "{label} names key {name:?}, which is not in [[keys]]"
                ))
            })?;
        if !key_ids.insert(k.key.id().to_string()) {
            return Err(invalid(format!("{label} lists key {name:?} twice")));
        }
    }
    if r.threshold == 0 {
        return Err(invalid(format!(
            "{label}.threshold is 0: it must be at least 1"
        )));
    }
    let usable = key_ids.iter().filter(|id| !revoked.contains(*id)).count();
    if r.threshold > usable {
        return Err(invalid(format!(
            "{label}.threshold is {} but only {usable} of its keys are not revoked: it could never be met",
            r.threshold
        )));
    }
    Ok(Role {
        key_ids,
        threshold: r.threshold,
    })
}

impl crate::Classified for StateError {
    /// A trust configuration that cannot be read or used is a configuration error.
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Config
    }
}

#[cfg(test)]
#[path = "trust_state_tests.rs"]
mod tests;
