//! Authentication: public keys, DSSE signatures, k-of-n thresholds with expiry and revocation.
pub mod dsse;
pub mod keys;
pub mod model_signing;
pub mod pem;
pub mod sigstore;
pub mod store;
