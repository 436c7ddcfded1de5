//! The airgate bundle format: an in-toto statement in a DSSE envelope at the front of a
//! tar (or tar.zst), followed by the payload files. See `docs/bundle-format.md`.

pub(crate) mod dsse;
pub(crate) mod open;
pub(crate) mod pack;
pub(crate) mod statement;
pub(crate) mod version;

pub use dsse::{
    decode_sig, encode_sig, pae, DsseError, Envelope, EnvelopeSignature, MAX_SIGNATURES,
    MAX_SIGSTORE_BUNDLES,
};
pub use open::{open, OpenError, Opened};
pub use pack::{pack, PackError, PackOptions};
pub use statement::{Predicate, Statement, Subject, PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE};
pub use version::Version;

/// Path of the envelope entry, always the first entry of a bundle. Payload paths may not
/// start with `.airgate/`.
pub const ENVELOPE_PATH: &str = ".airgate/envelope.json";
/// Prefix reserved for airgate's own entries.
pub const RESERVED_PREFIX: &str = ".airgate/";

/// The tar bytes of the envelope entry: a ustar header, the JSON, zero padding to 512.
pub fn envelope_entry(json: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    // The name is a short constant: set_path cannot fail on it.
    let _ = h.set_path(ENVELOPE_PATH);
    h.set_size(json.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = Vec::with_capacity(512 + json.len() + 512);
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(json);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}
