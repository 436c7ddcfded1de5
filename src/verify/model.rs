//! The [`VerifiedBundle`] of an OpenSSF-signed model tar: the statement the gate records for
//! a model whose `model.sig` verified over the folder it was extracted to (every extracted
//! file and `model.sig`, with its digest and size), and the signature as evidence.

use super::{Evidence, VerifiedBundle};
use crate::bundle::statement::{Predicate, Statement, Subject, PREDICATE_TYPE, STATEMENT_TYPE};
use crate::bundle::Version;
use crate::trust::model_signing::{ModelSigner, ModelVerified};
use crate::trust::sigstore::Signer;
use std::collections::BTreeMap;
use std::path::Path;

/// The artifact kind whose `[sigstore]` trust applies to models.
pub const MODEL_KIND: &str = "weights";

/// A name usable as one staging folder component.
pub(crate) fn folder_name(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        "model".into()
    } else {
        clean
    }
}

/// Who signed, as one line (key id, or certificate identity).
fn signer_id(v: &ModelVerified) -> String {
    match &v.signer {
        ModelSigner::Sigstore(Signer::Certificate { san, issuer }) => format!("{san} ({issuer})"),
        ModelSigner::Sigstore(Signer::Key { key_id }) => key_id.clone(),
        ModelSigner::Key { key_id, .. } => key_id.clone(),
        ModelSigner::Certificate {
            subject, key_id, ..
        } => format!("{key_id} ({subject})"),
    }
}

/// The verified model extracted at `extracted`: `files` (path → sha256, size) are the files
/// left there (those the signature covers, and `model.sig`), `label` its staging version,
/// `sha256` the tar's digest. The model signature has no version to order: the version is 0.
pub(crate) fn verified(
    v: &ModelVerified,
    files: &BTreeMap<String, (String, u64)>,
    label: &str,
    sha256: &str,
    extracted: &Path,
    now: i64,
) -> VerifiedBundle {
    let signer = signer_id(v);
    let statement = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: files
            .iter()
            .map(|(n, (d, _))| Subject {
                name: n.clone(),
                digest: BTreeMap::from([("sha256".to_string(), d.clone())]),
            })
            .collect(),
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            kind: MODEL_KIND.into(),
            name: folder_name(&v.model_name),
            version: label.to_string(),
            created: crate::util::format_time(now),
            publisher: format!("OpenSSF model signing ({}): {signer}", v.method),
            sizes: files.iter().map(|(n, (_, s))| (n.clone(), *s)).collect(),
        },
    };
    VerifiedBundle {
        statement,
        version: Version::Integer(0),
        signers: vec![signer.clone()],
        sha256: sha256.to_string(),
        extracted: Some(extracted.to_path_buf()),
        evidence: Evidence::ModelSignature {
            method: v.method.to_string(),
            signer,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::folder_name;

    #[test]
    fn folder_names_cannot_leave_their_folder() {
        assert_eq!(folder_name("org/model v1"), "org_model_v1");
        assert_eq!(folder_name(".."), "model");
        assert_eq!(folder_name(""), "model");
        assert_eq!(folder_name("bert-base_1.0"), "bert-base_1.0");
    }
}

#[cfg(test)]
mod verified_tests {
    use super::*;
    use crate::trust::model_signing::ModelSigner;

    #[test]
    fn a_verified_model_lists_the_files_left_and_names_its_signature() {
        let v = ModelVerified {
            method: "key",
            signer: ModelSigner::Key {
                key_id: "k1".into(),
                curve: "P-256",
            },
            format: "v1.0",
            pae_v02: false,
            model_name: "org/bert".into(),
            root_digest: None,
            serialization: "files".into(),
            hash_type: "sha256".into(),
            resources: 1,
            files: 1,
            bytes: 3,
            integrated_time: None,
            covered: ["w.bin".to_string()].into(),
            unrecorded_empty: vec![],
        };
        let files = BTreeMap::from([
            ("model.sig".to_string(), ("aa".repeat(32), 10)),
            ("w.bin".to_string(), ("bb".repeat(32), 3)),
        ]);
        let vb = verified(&v, &files, "sha256-0123", "cc", Path::new("/w/files"), 0);
        assert_eq!((vb.kind(), vb.name()), (MODEL_KIND, "org_bert"));
        assert_eq!(vb.statement().predicate.version, "sha256-0123");
        assert_eq!(vb.statement().subject.len(), 2);
        assert_eq!(vb.statement().predicate.sizes.get("w.bin"), Some(&3));
        assert_eq!(vb.signers(), ["k1"]);
        assert_eq!(vb.extracted(), Some(Path::new("/w/files")));
        assert_eq!(
            vb.evidence(),
            &Evidence::ModelSignature {
                method: "key".into(),
                signer: "k1".into()
            }
        );
    }
}
