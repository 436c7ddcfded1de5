//! Authentication: public keys, DSSE signatures, k-of-n thresholds with expiry and revocation.
pub(crate) mod attached;
pub mod detached;
pub(crate) use crate::bundle::dsse;
pub(crate) mod enforced;
pub(crate) mod key_format;
pub(crate) mod key_info;
pub(crate) mod keys;
pub mod minisign;
pub(crate) mod minisign_sign;
pub mod model_signing;
pub(crate) mod pem;
pub(crate) mod rotation;
pub(crate) mod sign;
pub mod signify;
pub mod sigstore;
pub(crate) mod store;
pub(crate) mod trust_state;
pub(crate) mod verify_detached;

pub use enforced::{check as check_enforced, CheckError, Enforced, KeyView, KindView};
pub use key_info::{describe as describe_key_file, KeyInfo, KeyKind};
pub use keys::{write_keypair, KeyError, PrivateKey, PublicKey};
pub use rotation::{
    apply_rotation, read_trust_bundle, Rotated, RotationError, TrustBundle, TRUST_FILE,
};
pub use sign::{attach_signature, attach_sigstore, sign, AttachOutcome, SignError, SignOutcome};
pub use store::{KindRule, StoreError, ThresholdResult, TrustStore, TrustedKey};
pub use trust_state::{
    KeyFile, Role, RoleFile, StateError, StateKey, TrustFile, TrustState, MAX_TRUST_FILE,
};
pub use verify_detached::{verify_detached, DetachedError};
