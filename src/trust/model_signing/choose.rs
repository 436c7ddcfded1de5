//! Which trust an OpenSSF model signature is checked with, shared by `airgate verify
//! --model-signature` and the gate's model-tar admission: the method given explicitly (a
//! key, CA certificates, or a Sigstore trusted root and identity), else the one the
//! signature's own material calls for, with the policy's `[sigstore]` entries for the
//! artifact kind. Trust files are read with a size limit.

use super::ec::EcKey;
use super::x509::Cert;
use super::{material_of, Material, Method};
use crate::policy::Policy;
use crate::trust::sigstore::{IdentityPolicy, Signers, SigstoreRoot};
use std::path::{Path, PathBuf};

/// Largest PEM file (key or CA certificates) read.
pub const MAX_PEM: u64 = 1 << 20;

/// Trust given explicitly for one check (the command line's flags); all empty: choose by
/// the signature's material from the policy.
#[derive(Clone, Debug, Default)]
pub struct Explicit {
    /// PEM ECDSA public keys (`--key`).
    pub keys: Vec<PathBuf>,
    /// PEM CA certificates (`--ca-cert`).
    pub ca_certs: Vec<PathBuf>,
    /// A Sigstore trusted root (`--trusted-root`), overriding the policy's.
    pub trusted_root: Option<PathBuf>,
    /// An exact certificate identity and OIDC issuer (`--certificate-identity`,
    /// `--certificate-oidc-issuer`), beside the policy's identities.
    pub identity: Option<(String, String)>,
}

impl Explicit {
    fn sigstore(&self) -> bool {
        self.trusted_root.is_some() || self.identity.is_some()
    }
}

/// The loaded trust for one model signature.
pub enum ModelTrust {
    /// ECDSA public keys.
    Keys(Vec<EcKey>),
    /// CA certificates a signing certificate must chain to.
    Certificates(Vec<Cert>),
    /// A Sigstore trusted root and the signers allowed.
    Sigstore {
        /// The Sigstore trusted root (Fulcio, Rekor, CT keys).
        root: Box<SigstoreRoot>,
        /// The certificate identities and managed keys allowed.
        signers: Signers,
    },
}

impl std::fmt::Debug for ModelTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelTrust::Keys(k) => write!(f, "Keys({})", k.len()),
            ModelTrust::Certificates(c) => write!(f, "Certificates({})", c.len()),
            ModelTrust::Sigstore { .. } => write!(f, "Sigstore"),
        }
    }
}

impl ModelTrust {
    /// The verification method over this trust.
    pub fn method(&self) -> Method<'_> {
        match self {
            ModelTrust::Keys(k) => Method::Key(k),
            ModelTrust::Certificates(c) => Method::Certificate(c),
            ModelTrust::Sigstore { root, signers } => Method::Sigstore { root, signers },
        }
    }
}

/// Why no trust could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    /// The trust configuration is wrong: conflicting methods, a trust file that cannot be
    /// read or is not what it should be (a configuration error, exit 2).
    #[error("{0}")]
    Config(String),
    /// Nothing is trusted for this signature (the gate rejects the model; the command line
    /// asks for trust).
    #[error("{0}")]
    NoTrust(String),
}

fn config(m: String) -> ChooseError {
    ChooseError::Config(m)
}

fn read_pem(path: &Path) -> Result<String, ChooseError> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PEM + 1).read_to_string(&mut s))
        .map_err(|e| config(format!("cannot read {}: {e}", path.display())))?;
    if s.len() as u64 > MAX_PEM {
        return Err(config(format!(
            "{} is larger than {MAX_PEM} bytes",
            path.display()
        )));
    }
    Ok(s)
}

fn load_keys(paths: &[PathBuf]) -> Result<Vec<EcKey>, ChooseError> {
    paths
        .iter()
        .map(|p| {
            EcKey::from_pem(&read_pem(p)?).map_err(|e| {
                config(format!(
                    "{} is not an ECDSA P-256/384/521 public key: {e}",
                    p.display()
                ))
            })
        })
        .collect()
}

fn load_cas(paths: &[PathBuf]) -> Result<Vec<Cert>, ChooseError> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(Cert::all_from_pem(&read_pem(p)?).map_err(|e| {
            config(format!(
                "{} holds no usable CA certificate: {e}",
                p.display()
            ))
        })?);
    }
    Ok(out)
}

/// Choose and load the trust for the model signature `sig`, for artifact `kind`.
pub fn choose(
    sig: &Path,
    policy: Option<&Policy>,
    kind: &str,
    explicit: &Explicit,
) -> Result<ModelTrust, ChooseError> {
    let given = [
        !explicit.keys.is_empty(),
        !explicit.ca_certs.is_empty(),
        explicit.sigstore(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given > 1 {
        return Err(config(
            "give one trust method: a key, CA certificates, or a Sigstore trusted root with \
             an identity"
                .into(),
        ));
    }
    let section = policy.and_then(|p| p.sigstore.as_ref().map(|s| (p, s)));
    let name = sig
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let material = if given == 1 {
        None
    } else {
        Some(material_of(sig))
    };
    if !explicit.keys.is_empty() || material == Some(Material::Key) {
        let paths = if explicit.keys.is_empty() {
            section
                .map(|(p, s)| s.keys_for(kind).map(|x| p.resolve(x)).collect())
                .unwrap_or_default()
        } else {
            explicit.keys.clone()
        };
        let keys = load_keys(&paths)?;
        if keys.is_empty() {
            return Err(ChooseError::NoTrust(format!(
                "{name} is signed with a key, and the policy trusts no [[sigstore.keys]] for \
                 kind {kind:?}"
            )));
        }
        return Ok(ModelTrust::Keys(keys));
    }
    if !explicit.ca_certs.is_empty() || material == Some(Material::Certificate) {
        let paths = if explicit.ca_certs.is_empty() {
            section
                .map(|(p, s)| s.ca_certs_for(kind).map(|x| p.resolve(x)).collect())
                .unwrap_or_default()
        } else {
            explicit.ca_certs.clone()
        };
        let cas = load_cas(&paths)?;
        if cas.is_empty() {
            return Err(ChooseError::NoTrust(format!(
                "{name} is signed with a certificate, and the policy trusts no \
                 [[sigstore.ca_certs]] for kind {kind:?}"
            )));
        }
        return Ok(ModelTrust::Certificates(cas));
    }
    if explicit.sigstore() || material == Some(Material::Sigstore) {
        let root_path = match (&explicit.trusted_root, section) {
            (Some(p), _) => Some(p.clone()),
            (None, Some((p, s))) => s.trusted_root.as_ref().map(|r| p.resolve(r)),
            (None, None) => None,
        };
        let Some(root_path) = root_path else {
            return Err(ChooseError::NoTrust(format!(
                "{name} is a Sigstore signature, and the policy sets no \
                 [sigstore].trusted_root"
            )));
        };
        let root = SigstoreRoot::load(&root_path).map_err(|e| config(e.to_string()))?;
        let mut signers = match policy {
            Some(p) => Signers::from_policy(p, kind).map_err(|e| config(e.to_string()))?,
            None => Signers::default(),
        };
        if let Some((id, issuer)) = &explicit.identity {
            signers.identities.push(IdentityPolicy::exact(id, issuer));
        }
        if signers.is_empty() {
            return Err(ChooseError::NoTrust(format!(
                "the policy trusts no Sigstore identity or key for kind {kind:?}"
            )));
        }
        return Ok(ModelTrust::Sigstore {
            root: Box::new(root),
            signers,
        });
    }
    Err(ChooseError::NoTrust(format!(
        "{name} is not an OpenSSF model signature bundle"
    )))
}

impl crate::Classified for ChooseError {
    /// No usable trust for a model signature is a configuration error for the caller (the
    /// gate turns "nothing trusted" into a rejection of the model itself).
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata")
    }

    #[test]
    fn two_explicit_methods_are_a_configuration_error() {
        let e = Explicit {
            keys: vec!["k.pem".into()],
            ca_certs: vec!["ca.pem".into()],
            ..Explicit::default()
        };
        let r = choose(Path::new("model.sig"), None, "weights", &e);
        assert!(matches!(r, Err(ChooseError::Config(_))), "{r:?}");
    }

    #[test]
    fn nothing_trusted_is_named_and_a_bad_key_file_is_configuration() {
        let t = tempfile::tempdir().unwrap();
        let sig = t.path().join("model.sig");
        std::fs::write(&sig, b"not a bundle").unwrap();
        let r = choose(&sig, None, "weights", &Explicit::default());
        match r {
            Err(ChooseError::NoTrust(m)) => assert!(m.contains("not an OpenSSF"), "{m}"),
            other => panic!("{other:?}"),
        }
        let bad = t.path().join("k.pem");
        std::fs::write(
            &bad,
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let e = Explicit {
            keys: vec![bad],
            ..Explicit::default()
        };
        assert!(matches!(
            choose(&sig, None, "weights", &e),
            Err(ChooseError::Config(_))
        ));
    }

    #[test]
    fn the_signature_material_picks_the_policy_entry_for_its_kind() {
        let ms = fixtures().join("model-signing");
        let ca = ms.join("keys/certificate/ca-cert.pem");
        let key = ms.join("keys/certificate/signing-key-pub.pem");
        let t = tempfile::tempdir().unwrap();
        let pol = t.path().join("policy.toml");
        std::fs::write(
            &pol,
            format!(
                "[[sigstore.ca_certs]]\nkinds = [\"weights\"]\npath = {:?}\n\
                 [[sigstore.keys]]\nkinds = [\"weights\"]\npath = {:?}\n",
                ca.to_str().unwrap(),
                key.to_str().unwrap()
            ),
        )
        .unwrap();
        let policy = Policy::load(&pol).unwrap();
        let none = Explicit::default();
        let cert_sig = ms.join("v1.1.0-certificate/model.sig");
        let key_sig = ms.join("v1.1.0-elliptic-key/model.sig");
        assert!(matches!(
            choose(&cert_sig, Some(&policy), "weights", &none),
            Ok(ModelTrust::Certificates(ref c)) if !c.is_empty()
        ));
        assert!(matches!(
            choose(&key_sig, Some(&policy), "weights", &none),
            Ok(ModelTrust::Keys(ref k)) if k.len() == 1
        ));
        // the near-miss: the same policy trusts nothing for another kind
        assert!(matches!(
            choose(&cert_sig, Some(&policy), "patch", &none),
            Err(ChooseError::NoTrust(_))
        ));
        // an explicit key wins over the material (a certificate signature)
        let ex = Explicit {
            keys: vec![key],
            ..Explicit::default()
        };
        assert!(matches!(
            choose(&cert_sig, None, "weights", &ex),
            Ok(ModelTrust::Keys(_))
        ));
    }
}
