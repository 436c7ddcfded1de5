//! Fuzz the envelope, statement, version and policy parsers.
#![no_main]
use airgate::bundle::{Statement, Version};
use airgate::policy::Policy;
use airgate::bundle::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::parse(data, 1 << 20) {
        if let Ok(p) = env.payload_bytes() {
            if let Ok(st) = serde_json::from_slice::<Statement>(&p) {
                let _ = st.check();
            }
        }
        let _ = env.signed_bytes();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Version::parse(s);
        let _ = Policy::from_toml(s);
        let _ = airgate::trust::TrustState::from_toml(s);
    }
});
