//! Reading untrusted containers safely: a strict tar reader, zstd framing with output limits,
//! and directory walks that refuse links and special files.

pub(crate) mod dir;
pub(crate) mod stream;
pub(crate) mod tar;
mod tar_fields;
mod tar_names;
pub(crate) mod zstd;

pub use dir::WalkError;
pub use stream::{start as start_decoding, Decoded, RawDigest, StreamLimits};
pub use tar::{Entry, EntryKind, TarError, TarLimits, TarReader};
pub use zstd::{frame_len, frame_len_streaming, Compression, FrameError};
