//! OpenSSF model signing (being built).
