//! The airgate bundle format: an in-toto statement in a DSSE envelope at the front of a
//! tar (or tar.zst), followed by the payload files. See `docs/bundle-format.md`.
