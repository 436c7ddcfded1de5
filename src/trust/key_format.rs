//! Naming key material that is not what a command expects, so an operator who passes an
//! OpenSSH, minisign or ECDSA key (or an empty file) to a command that wants an Ed25519
//! PEM key is told what the file is, not only that it failed to parse.

use spki::der::Decode as _;

/// What `text` holds when it is not the key a command wanted, in words an operator can act
/// on; `None` when it looks like a PEM key of the expected kind (the parse error then says
/// what is wrong with it). `want_private`: the command needs a private key.
pub fn describe(text: &str, want_private: bool) -> Option<String> {
    let t = text.trim_start();
    if t.trim().is_empty() {
        return Some("the file is empty".into());
    }
    let first = t.lines().next().unwrap_or("").trim();
    let ssh_public = [
        "ssh-ed25519 ",
        "ssh-rsa ",
        "ssh-dss ",
        "ecdsa-sha2-",
        "sk-ssh-",
        "sk-ecdsa-",
    ];
    if ssh_public.iter().any(|p| first.starts_with(p)) {
        return Some(
            "it is an OpenSSH public key; airgate reads SPKI PEM (for an Ed25519 key: \
             `ssh-keygen -e -m PKCS8 -f FILE`)"
                .into(),
        );
    }
    if first == "-----BEGIN OPENSSH PRIVATE KEY-----" {
        return Some(
            "it is an OpenSSH private key; airgate reads PKCS#8 PEM (`ssh-keygen -p -m PKCS8 \
             -f FILE` converts a copy)"
                .into(),
        );
    }
    if first.starts_with("untrusted comment:") {
        let what = if t.contains("minisign secret key") || t.contains("signify secret key") {
            "a minisign or signify secret key"
        } else {
            "a minisign or signify key"
        };
        return Some(format!(
            "it is {what}; those verify detached signatures (`verify --signature`), while \
             bundles are signed with Ed25519 PEM keys (`airgate keygen`)"
        ));
    }
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"));
    let Some(label) = label else {
        if !t.is_ascii() || t.bytes().any(|b| b < 0x09) {
            return Some("it is binary data (DER?); airgate reads PEM text".into());
        }
        return Some("it is not PEM (no -----BEGIN ...----- line)".into());
    };
    match (label, want_private) {
        ("CERTIFICATE", _) => Some("it is an X.509 certificate, not a key".into()),
        ("RSA PRIVATE KEY", _) => {
            Some("it is an RSA private key; airgate signs with Ed25519".into())
        }
        ("EC PRIVATE KEY", _) => {
            Some("it is an ECDSA private key; airgate signs bundles with Ed25519".into())
        }
        ("ENCRYPTED PRIVATE KEY", _) => Some(
            "it is an encrypted private key; decrypt a copy first (`openssl pkey -in FILE`)".into(),
        ),
        ("PUBLIC KEY", true) => {
            Some("it is a public key; this needs the private key (.key)".into())
        }
        ("PRIVATE KEY", false) => {
            Some("it is a private key; give the public key (.pub) instead".into())
        }
        ("PUBLIC KEY", false) => spki_algorithm(t)
            .map(|alg| format!("it is {alg} public key; bundle signatures are Ed25519")),
        ("PRIVATE KEY", true) => None,
        (other, _) => Some(format!("it is a PEM {other:?} block, not an Ed25519 key")),
    }
}

/// For an SPKI PEM public key that is not Ed25519: its algorithm in words.
fn spki_algorithm(text: &str) -> Option<&'static str> {
    let der = super::pem::blocks(text, "PUBLIC KEY")
        .ok()?
        .into_iter()
        .next()?;
    let info = spki::SubjectPublicKeyInfoRef::from_der(&der).ok()?;
    let oid = info.algorithm.oid.to_string();
    let curve = info
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<spki::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    match (oid.as_str(), curve.as_deref()) {
        ("1.3.101.112", _) => None,
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => Some("an ECDSA P-256"),
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => Some("an ECDSA P-384"),
        ("1.2.840.10045.2.1", Some("1.3.132.0.35")) => Some("an ECDSA P-521"),
        ("1.2.840.10045.2.1", _) => Some("an ECDSA"),
        ("1.2.840.113549.1.1.1", _) => Some("an RSA"),
        ("1.3.101.113", _) => Some("an Ed448"),
        _ => Some("a non-Ed25519"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wrong_kind_is_named() {
        assert!(describe("", false).unwrap().contains("empty"));
        assert!(describe("  \n", true).unwrap().contains("empty"));
        let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";
        assert!(describe(ssh, false).unwrap().contains("OpenSSH public key"));
        let mini = "untrusted comment: minisign public key 1234\nRWQ...\n";
        assert!(describe(mini, false).unwrap().contains("minisign"));
        let p256 = p256::SecretKey::from_slice(&[7u8; 32])
            .unwrap()
            .public_key();
        use p256::pkcs8::EncodePublicKey;
        let pem = p256.to_public_key_pem(Default::default()).unwrap();
        assert!(
            describe(&pem, false).unwrap().contains("P-256"),
            "{:?}",
            describe(&pem, false)
        );
        assert!(describe(&pem, true).unwrap().contains("public key"));
        assert!(describe("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n", true)
            .unwrap()
            .contains("OpenSSH private"));
    }

    #[test]
    fn an_ed25519_pem_key_is_not_described() {
        let sk = crate::trust::keys::PrivateKey::generate();
        assert_eq!(describe(&sk.public().to_pem(), false), None);
        assert_eq!(describe(&sk.to_pem().unwrap(), true), None);
    }
}
