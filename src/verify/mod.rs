//! The single streaming pass: authenticate the envelope, then hash, size-check, inspect and
//! (optionally) extract every payload file.
