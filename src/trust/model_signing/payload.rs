//! The parts of a model_signing `model.sig` we read ourselves (for the key and certificate
//! methods), the DSSE pre-authentication encodings (standard and the v0.2 quirk), and the
//! in-toto statement → expected manifest, with the root digest check and bounds.

use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The only payload type model_signing produces.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
const PREDICATE_V1: &str = "https://model_signing/signature/v1.0";
const PREDICATE_V02: &str = "https://model_signing/Digests/v0.1";
/// Most resources (files or shards) a signature may list.
pub const MAX_RESOURCES: usize = 1_000_000;
/// Most DSSE signatures looked at.
pub const MAX_SIGNATURES: usize = 8;
/// Longest resource name.
pub const MAX_NAME: usize = 4096;

/// `model.sig` as far as the key and certificate methods need it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigFile {
    pub media_type: String,
    pub verification_material: Material,
    pub dsse_envelope: Option<Envelope>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Material {
    pub public_key: Option<PublicKeyRef>,
    pub x509_certificate_chain: Option<Chain>,
    pub certificate: Option<RawBytes>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyRef {
    pub hint: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Chain {
    pub certificates: Vec<RawBytes>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBytes {
    pub raw_bytes: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<EnvSig>,
}

#[derive(Debug, Deserialize)]
pub struct EnvSig {
    pub sig: String,
}

/// Decode standard base64.
pub fn b64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(|_| "invalid base64".to_string())
}

/// The standard DSSE v1 PAE.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    crate::trust::dsse::pae(payload_type, payload)
}

/// model_signing v0.2's PAE: `DSSEV1 <len> <type> <len> b'<python bytes repr>'`.
pub fn pae_v02(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    format!(
        "DSSEV1 {} {} {} {}",
        payload_type.len(),
        payload_type,
        payload.len(),
        python_bytes_repr(payload)
    )
    .into_bytes()
}

/// Python's `repr()` of a `bytes` value.
pub fn python_bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut s = String::with_capacity(b.len() + 3);
    s.push('b');
    s.push(quote as char);
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            c if c == quote => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote as char);
    s
}

/// How the model was serialized into resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serialization {
    /// `files` or `shards`.
    pub method: String,
    /// `sha256` or `blake2`.
    pub hash_type: String,
    /// Whether the signer followed symlinks (airgate refuses symlinks either way).
    pub allow_symlinks: bool,
    /// Shard size (shards only).
    pub shard_size: u64,
    /// Paths the signer ignored, relative to the model root.
    pub ignore_paths: Vec<String>,
}

/// One resource key: a whole file, or a shard `[start, end)` of one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    /// Path relative to the model root, `/`-separated.
    pub path: String,
    /// `Some((start, end))` for a shard `[start, end)` in bytes; `None` for the whole file.
    pub range: Option<(u64, u64)>,
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.range {
            None => f.write_str(&self.path),
            Some((s, e)) => write!(f, "{}:{s}:{e}", self.path),
        }
    }
}

/// What the signature says the model is.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The subject name (informative).
    pub model_name: String,
    /// Hex root digest from the subject (absent in the v0.2 format).
    pub root_digest: Option<String>,
    /// How files were hashed: whole files or shards, and with which hash.
    pub serialization: Serialization,
    /// Every file or shard with its expected digest.
    pub items: BTreeMap<ItemKey, Vec<u8>>,
    /// `v1.0` or `v0.2`.
    pub format: &'static str,
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: serde_json::Value,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    name: String,
    digest: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Predicate {
    serialization: RawSerialization,
    resources: Vec<Resource>,
}

#[derive(Deserialize)]
struct RawSerialization {
    method: String,
    hash_type: String,
    #[serde(default)]
    allow_symlinks: serde_json::Value,
    #[serde(default)]
    shard_size: Option<u64>,
    #[serde(default)]
    ignore_paths: Vec<String>,
}

#[derive(Deserialize)]
struct Resource {
    name: String,
    algorithm: String,
    digest: String,
}

/// Parse the statement (already authenticated, or about to be) into a manifest.
pub fn manifest(payload: &[u8]) -> Result<Manifest, String> {
    let st: Statement =
        serde_json::from_slice(payload).map_err(|e| format!("statement is not valid: {e}"))?;
    if st.type_ != STATEMENT_V1 {
        return Err(format!(
            "statement type {:?} is not {STATEMENT_V1}",
            st.type_
        ));
    }
    match st.predicate_type.as_str() {
        PREDICATE_V1 => manifest_v1(st),
        PREDICATE_V02 => manifest_v02(st),
        other => Err(format!("predicate type {other:?} is not a model signature")),
    }
}

fn manifest_v1(st: Statement) -> Result<Manifest, String> {
    let [subject] = <[Subject; 1]>::try_from(st.subject)
        .map_err(|s| format!("expected exactly one subject, got {}", s.len()))?;
    let root = subject
        .digest
        .get("sha256")
        .ok_or("subject has no sha256 digest")?
        .to_ascii_lowercase();
    let p: Predicate =
        serde_json::from_value(st.predicate).map_err(|e| format!("predicate is not valid: {e}"))?;
    let ser = p.serialization;
    let allow_symlinks = match &ser.allow_symlinks {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let (algorithm, len) = match ser.hash_type.as_str() {
        "sha256" => ("sha256", 32),
        "blake2" => ("blake2b", 64),
        other => {
            return Err(format!(
                "hash type {other:?} is not supported (sha256 and blake2 are)"
            ))
        }
    };
    let shard_size = match ser.method.as_str() {
        "files" => 0,
        "shards" => match ser.shard_size {
            Some(n) if n > 0 => n,
            _ => return Err("shards serialization needs a positive shard_size".into()),
        },
        other => return Err(format!("serialization method {other:?} is not supported")),
    };
    if p.resources.len() > MAX_RESOURCES {
        return Err(format!(
            "{} resources, over the limit of {MAX_RESOURCES}",
            p.resources.len()
        ));
    }
    let mut hasher = Sha256::new();
    let mut items = BTreeMap::new();
    for r in &p.resources {
        if r.algorithm != algorithm {
            return Err(format!(
                "resource {:?} uses {}, not {algorithm}",
                r.name, r.algorithm
            ));
        }
        let d = hex::decode(&r.digest)
            .map_err(|_| format!("resource {:?} digest is not hex", r.name))?;
        if d.len() != len {
            return Err(format!(
                "resource {:?} digest has {} bytes, not {len}",
                r.name,
                d.len()
            ));
        }
        hasher.update(&d);
        let key = parse_key(&r.name, shard_size > 0)?;
        if items.insert(key, d).is_some() {
            return Err(format!("resource {:?} is listed twice", r.name));
        }
    }
    let computed = hex::encode(hasher.finalize());
    if computed != root {
        return Err(format!(
            "manifest is inconsistent: subject digest {root}, resources hash to {computed}"
        ));
    }
    Ok(Manifest {
        model_name: subject.name,
        root_digest: Some(root),
        serialization: Serialization {
            method: ser.method,
            hash_type: ser.hash_type,
            allow_symlinks,
            shard_size,
            ignore_paths: ser.ignore_paths,
        },
        items,
        format: "v1.0",
    })
}

fn manifest_v02(st: Statement) -> Result<Manifest, String> {
    if st.subject.len() > MAX_RESOURCES {
        return Err(format!(
            "{} subjects, over the limit of {MAX_RESOURCES}",
            st.subject.len()
        ));
    }
    let mut items = BTreeMap::new();
    for s in &st.subject {
        let d = s
            .digest
            .get("sha256")
            .ok_or_else(|| format!("subject {:?} has no sha256", s.name))?;
        let d = hex::decode(d).map_err(|_| format!("subject {:?} digest is not hex", s.name))?;
        if d.len() != 32 {
            return Err(format!("subject {:?} digest is not 32 bytes", s.name));
        }
        if items.insert(parse_key(&s.name, false)?, d).is_some() {
            return Err(format!("subject {:?} is listed twice", s.name));
        }
    }
    Ok(Manifest {
        model_name: String::new(),
        root_digest: None,
        serialization: Serialization {
            method: "files".into(),
            hash_type: "sha256".into(),
            allow_symlinks: false,
            shard_size: 0,
            ignore_paths: Vec::new(),
        },
        items,
        format: "v0.2",
    })
}

/// Parse and check a resource name: a relative POSIX path without `..` or empty parts
/// (`.` alone names a single-file model), plus `:start:end` for shards.
fn parse_key(name: &str, shards: bool) -> Result<ItemKey, String> {
    if name.len() > MAX_NAME {
        return Err(format!("resource name longer than {MAX_NAME} bytes"));
    }
    let (path, range) = if shards {
        let mut it = name.rsplitn(3, ':');
        let (e, s, p) = match (it.next(), it.next(), it.next()) {
            (Some(e), Some(s), Some(p)) => (e, s, p),
            _ => return Err(format!("shard name {name:?} is not path:start:end")),
        };
        let bad = || format!("shard name {name:?} has a bad range");
        let (s, e): (u64, u64) = (s.parse().map_err(|_| bad())?, e.parse().map_err(|_| bad())?);
        if s >= e {
            return Err(bad());
        }
        (p, Some((s, e)))
    } else {
        (name, None)
    };
    let ok = path == "."
        || (!path.is_empty()
            && !path.starts_with('/')
            && path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0')));
    if !ok {
        return Err(format!(
            "resource name {name:?} is not a safe relative path"
        ));
    }
    Ok(ItemKey {
        path: path.to_string(),
        range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr_matches_python() {
        // Values from CPython's repr().
        assert_eq!(python_bytes_repr(b"{\"a\": 1}"), "b'{\"a\": 1}'");
        assert_eq!(python_bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(python_bytes_repr(b"'\""), "b'\\'\"'");
        assert_eq!(
            python_bytes_repr(b"a\\b\n\x00\xff"),
            "b'a\\\\b\\n\\x00\\xff'"
        );
        assert!(
            pae_v02(IN_TOTO, b"{}").starts_with(b"DSSEV1 28 application/vnd.in-toto+json 2 b'{}'")
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(parse_key("a/b", false).is_ok());
        assert!(parse_key(".", false).is_ok());
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "", "a/.."] {
            assert!(parse_key(bad, false).is_err(), "{bad}");
        }
        let k = parse_key("dir/w:1.bin:0:100", true).unwrap();
        assert_eq!(k.path, "dir/w:1.bin");
        assert_eq!(k.range, Some((0, 100)));
        assert!(parse_key("w.bin:5:5", true).is_err());
        assert!(parse_key("w.bin:5", true).is_err());
    }

    fn stmt(resources: &str, root: &str) -> Vec<u8> {
        format!(r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"m","digest":{{"sha256":"{root}"}}}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{{"serialization":{{"method":"files","hash_type":"sha256","allow_symlinks":false}},"resources":[{resources}]}}}}"#).into_bytes()
    }

    #[test]
    fn root_digest_must_match_resources() {
        let d = "00".repeat(32);
        let root = hex::encode(Sha256::digest([0u8; 32]));
        let r = format!(r#"{{"name":"f","algorithm":"sha256","digest":"{d}"}}"#);
        let m = manifest(&stmt(&r, &root)).unwrap();
        assert_eq!(m.items.len(), 1);
        assert!(manifest(&stmt(&r, &"11".repeat(32)))
            .unwrap_err()
            .contains("inconsistent"));
        let dup = format!("{r},{r}");
        let root2 = hex::encode(Sha256::digest([0u8; 64]));
        assert!(manifest(&stmt(&dup, &root2)).unwrap_err().contains("twice"));
    }
}
