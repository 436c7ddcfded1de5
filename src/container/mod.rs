//! Reading untrusted containers safely: a strict tar reader, zstd framing with output limits,
//! and directory walks that refuse links and special files.

pub mod dir;
pub mod stream;
pub mod tar;
mod tar_fields;
mod tar_names;
pub mod zstd;
