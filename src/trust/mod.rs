//! Authentication: public keys, DSSE signatures, k-of-n thresholds with expiry and revocation.
pub mod keys;
pub mod dsse;
