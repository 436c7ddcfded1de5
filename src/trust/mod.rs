//! Authentication: public keys, DSSE signatures, k-of-n thresholds with expiry and revocation.
pub mod attached;
pub mod detached;
pub use crate::bundle::dsse;
pub mod enforced;
pub mod key_format;
pub mod key_info;
pub mod keys;
pub mod minisign;
pub mod minisign_sign;
pub mod model_signing;
pub mod pem;
pub mod rotation;
pub mod sign;
pub mod signify;
pub mod sigstore;
pub mod store;
pub mod trust_state;
