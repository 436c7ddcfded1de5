//! The airgate bundle format: an in-toto statement in a DSSE envelope at the front of a
//! tar (or tar.zst), followed by the payload files. See `docs/bundle-format.md`.

pub mod dsse;
pub mod open;
pub mod pack;
pub mod statement;
pub mod version;

pub use statement::{Predicate, Statement, Subject};
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
