//! X.509 path validation for the model-signing certificate method: the bundle's chain
//! (leaf first) must reach one of the operator's CA certificates, every certificate on the
//! path valid at the leaf's notBefore (as model_signing does), issuers marked as CAs with
//! certificate-signing usage, no unknown critical extensions, and a leaf usable for
//! signing (digitalSignature key usage or codeSigning extended key usage).

use der::{Decode, Encode};
use sigstore_verify::crypto::SigningScheme;
use sigstore_verify::types::{DerPublicKey, SignatureBytes};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::Certificate;

use super::ec::{EcKey, HashAlg};

/// Longest path followed from leaf to anchor.
pub const MAX_DEPTH: usize = 8;
/// Most certificates taken from a bundle chain.
pub const MAX_CHAIN: usize = 10;

const OID_BC: &str = "2.5.29.19";
const OID_KU: &str = "2.5.29.15";
const OID_EKU: &str = "2.5.29.37";
const OID_SAN: &str = "2.5.29.17";
const OID_SKI: &str = "2.5.29.14";
const OID_AKI: &str = "2.5.29.35";
const OID_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";

/// A parsed certificate with its DER.
#[derive(Clone, Debug)]
pub struct Cert {
    cert: Certificate,
    der: Vec<u8>,
}

impl Cert {
    /// Parse DER.
    pub fn from_der(der: &[u8]) -> Result<Cert, String> {
        let cert = Certificate::from_der(der).map_err(|e| format!("malformed certificate: {e}"))?;
        Ok(Cert {
            cert,
            der: der.to_vec(),
        })
    }

    /// Every `CERTIFICATE` block in PEM text.
    pub fn all_from_pem(text: &str) -> Result<Vec<Cert>, String> {
        crate::trust::pem::blocks(text, "CERTIFICATE")
            .map_err(|e| e.to_string())?
            .iter()
            .map(|d| Cert::from_der(d))
            .collect()
    }

    /// Subject DN, RFC 4514 style.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    fn issuer_name(&self) -> String {
        self.cert.tbs_certificate.issuer.to_string()
    }

    /// notBefore, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.cert
            .tbs_certificate
            .validity
            .not_before
            .to_unix_duration()
            .as_secs() as i64
    }

    fn not_after(&self) -> i64 {
        self.cert
            .tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
            .as_secs() as i64
    }

    /// SPKI DER.
    pub fn spki_der(&self) -> Result<Vec<u8>, String> {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| e.to_string())
    }

    fn ext<T: for<'a> Decode<'a>>(&self, oid: &str) -> Result<Option<T>, String> {
        for e in self.cert.tbs_certificate.extensions.iter().flatten() {
            if e.extn_id.to_string() == oid {
                return T::from_der(e.extn_value.as_bytes())
                    .map(Some)
                    .map_err(|err| {
                        format!("{}: extension {oid} is malformed: {err}", self.subject())
                    });
            }
        }
        Ok(None)
    }

    fn check_critical(&self) -> Result<(), String> {
        for e in self.cert.tbs_certificate.extensions.iter().flatten() {
            let id = e.extn_id.to_string();
            if e.critical
                && ![OID_BC, OID_KU, OID_EKU, OID_SAN, OID_SKI, OID_AKI].contains(&id.as_str())
            {
                return Err(format!(
                    "{}: unsupported critical extension {id}",
                    self.subject()
                ));
            }
        }
        Ok(())
    }

    fn check_time(&self, at: i64) -> Result<(), String> {
        if at < self.not_before() || at > self.not_after() {
            return Err(format!(
                "{} is not valid at {} (valid {} to {})",
                self.subject(),
                crate::util::format_time(at),
                crate::util::format_time(self.not_before()),
                crate::util::format_time(self.not_after())
            ));
        }
        Ok(())
    }

    /// Whether this certificate may issue others: CA basic constraint, and
    /// keyCertSign when key usage is present. Returns the path length limit.
    fn check_ca(&self) -> Result<Option<u8>, String> {
        let bc: Option<BasicConstraints> = self.ext(OID_BC)?;
        let Some(bc) = bc.filter(|b| b.ca) else {
            return Err(format!("{} is not a CA certificate", self.subject()));
        };
        let ku: Option<KeyUsage> = self.ext(OID_KU)?;
        if ku.is_some_and(|k| !k.key_cert_sign()) {
            return Err(format!(
                "{} may not sign certificates (key usage)",
                self.subject()
            ));
        }
        Ok(bc.path_len_constraint)
    }

    /// Whether `self` signed `child`.
    fn signed(&self, child: &Cert) -> bool {
        let Ok(tbs) = child.cert.tbs_certificate.to_der() else {
            return false;
        };
        let Some(sig) = child.cert.signature.as_bytes() else {
            return false;
        };
        let Ok(spki) = self.spki_der() else {
            return false;
        };
        let rsa = |scheme| {
            sigstore_verify::crypto::verify_signature(
                &DerPublicKey::new(spki.clone()),
                &tbs,
                &SignatureBytes::new(sig.to_vec()),
                scheme,
            )
            .is_ok()
        };
        let ec = |hash| EcKey::from_spki_der(&spki).is_ok_and(|k| k.verify(&tbs, sig, hash));
        match child.cert.signature_algorithm.oid.to_string().as_str() {
            "1.2.840.113549.1.1.11" => rsa(SigningScheme::RsaPkcs1Sha256),
            "1.2.840.113549.1.1.12" => rsa(SigningScheme::RsaPkcs1Sha384),
            "1.2.840.113549.1.1.13" => rsa(SigningScheme::RsaPkcs1Sha512),
            "1.2.840.10045.4.3.2" => ec(HashAlg::Sha256),
            "1.2.840.10045.4.3.3" => ec(HashAlg::Sha384),
            "1.2.840.10045.4.3.4" => ec(HashAlg::Sha512),
            _ => false,
        }
    }

    fn leaf_can_sign(&self) -> Result<(), String> {
        let ku: Option<KeyUsage> = self.ext(OID_KU)?;
        if ku.is_some_and(|k| k.digital_signature()) {
            return Ok(());
        }
        let eku: Option<ExtendedKeyUsage> = self.ext(OID_EKU)?;
        if eku.is_some_and(|e| e.0.iter().any(|o| o.to_string() == OID_CODE_SIGNING)) {
            return Ok(());
        }
        Err(format!(
            "{} cannot be used for signing: neither digitalSignature key usage nor codeSigning extended key usage",
            self.subject()
        ))
    }
}

/// A validated path.
#[derive(Clone, Debug)]
pub struct ValidPath {
    /// The leaf's subject DN.
    pub leaf_subject: String,
    /// The leaf's public key.
    pub leaf_key: EcKey,
    /// Subject DN of the trust anchor reached.
    pub anchor_subject: String,
}

/// Validate `chain` (leaf first) against `anchors` at the leaf's notBefore.
pub fn validate(chain: &[Cert], anchors: &[Cert]) -> Result<ValidPath, String> {
    let leaf = chain
        .first()
        .ok_or("the signature carries no certificate")?;
    if chain.len() > MAX_CHAIN {
        return Err(format!(
            "certificate chain has {} certificates, over {MAX_CHAIN}",
            chain.len()
        ));
    }
    if anchors.is_empty() {
        return Err("no CA certificates configured".into());
    }
    let at = leaf.not_before();
    leaf.check_critical()?;
    leaf.check_time(at)?;
    leaf.leaf_can_sign()?;
    let leaf_key = EcKey::from_spki_der(&leaf.spki_der()?)
        .map_err(|e| format!("leaf certificate key: {e}"))?;
    let mut used = vec![false; chain.len()];
    used[0] = true;
    let mut current = leaf;
    for depth in 0..MAX_DEPTH {
        let issuer = current.issuer_name();
        let issuer_der = current
            .cert
            .tbs_certificate
            .issuer
            .to_der()
            .map_err(|e| e.to_string())?;
        let name_matches = |c: &Cert| {
            c.cert
                .tbs_certificate
                .subject
                .to_der()
                .is_ok_and(|d| d == issuer_der)
        };
        if let Some(a) = anchors
            .iter()
            .find(|a| name_matches(a) && a.signed(current))
        {
            a.check_time(at)?;
            a.check_critical()?;
            check_path_len(a.check_ca()?, depth, a)?;
            return Ok(ValidPath {
                leaf_subject: leaf.subject(),
                leaf_key,
                anchor_subject: a.subject(),
            });
        }
        let next = (1..chain.len())
            .find(|&i| !used[i] && name_matches(&chain[i]) && chain[i].signed(current));
        let Some(i) = next else {
            return Err(format!(
                "no trusted CA or chain certificate named {issuer} signed {}",
                current.subject()
            ));
        };
        used[i] = true;
        let c = &chain[i];
        c.check_critical()?;
        c.check_time(at)?;
        // `depth` CA certificates lie between this one and the leaf.
        check_path_len(c.check_ca()?, depth, c)?;
        current = c;
    }
    Err(format!(
        "no path to a trusted CA within {MAX_DEPTH} certificates"
    ))
}

fn check_path_len(limit: Option<u8>, below: usize, c: &Cert) -> Result<(), String> {
    match limit {
        Some(n) if below > n as usize => Err(format!(
            "{} allows {n} intermediate CAs below it, the path has {below}",
            c.subject()
        )),
        _ => Ok(()),
    }
}

/// Equality of DER, for tests and de-duplication.
impl PartialEq for Cert {
    fn eq(&self, o: &Cert) -> bool {
        self.der == o.der
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn certs(name: &str) -> Vec<Cert> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/testdata/model-signing/keys/certificate")
            .join(name);
        Cert::all_from_pem(&std::fs::read_to_string(&p).unwrap()).unwrap()
    }

    #[test]
    fn path_validation() {
        let (leaf, int, root) = (
            certs("signing-key-cert.pem"),
            certs("int-ca-cert.pem"),
            certs("ca-cert.pem"),
        );
        let chain = [leaf[0].clone(), int[0].clone()];
        let p = validate(&chain, &root).unwrap();
        assert_eq!(
            (p.leaf_subject.as_str(), p.anchor_subject.as_str()),
            ("CN=intermediate-ca", "CN=root-ca")
        );
        // the intermediate as the anchor is a shorter valid path
        assert_eq!(
            validate(&chain, &int).unwrap().anchor_subject,
            "CN=intermediate-ca"
        );
        // missing intermediate
        let e = validate(&chain[..1], &root).unwrap_err();
        assert!(e.contains("no trusted CA"), "{e}");
        // no anchors, wrong anchor
        assert!(validate(&chain, &[]).is_err());
        assert!(validate(&chain, &leaf).is_err());
        // a CA certificate without digitalSignature/codeSigning cannot sign models
        let e = validate(&[int[0].clone()], &root).unwrap_err();
        assert!(e.contains("cannot be used for signing"), "{e}");
        // a chain too long is refused before any work
        let long: Vec<Cert> = std::iter::repeat_n(leaf[0].clone(), MAX_CHAIN + 1).collect();
        assert!(validate(&long, &root).unwrap_err().contains("over"));
    }
}
