//! Minimal, bounded PEM reading: find `-----BEGIN <LABEL>-----` blocks in text that may
//! carry other lines around them (certtool and openssl add human-readable dumps) and
//! decode their base64 bodies.

use base64::Engine as _;

/// Most PEM blocks read from one file.
pub const MAX_BLOCKS: usize = 64;

/// Why PEM text could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PemError {
    #[error("no \"-----BEGIN {0}-----\" block found")]
    Missing(String),
    #[error("\"-----BEGIN {0}-----\" has no matching END line")]
    Unterminated(String),
    #[error("PEM block {0} is not valid base64")]
    Base64(String),
    #[error("more than {MAX_BLOCKS} PEM blocks")]
    TooMany,
}

/// Every block labelled `label` (e.g. `PUBLIC KEY`, `CERTIFICATE`), decoded, in order.
/// Lines outside blocks are ignored.
pub fn blocks(text: &str, label: &str) -> Result<Vec<Vec<u8>>, PemError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        match &mut body {
            None if line == begin => body = Some(String::new()),
            None => {}
            Some(b) if line == end => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b.as_bytes())
                    .map_err(|_| PemError::Base64(label.to_string()))?;
                if out.len() >= MAX_BLOCKS {
                    return Err(PemError::TooMany);
                }
                out.push(der);
                body = None;
            }
            Some(b) => b.push_str(line),
        }
    }
    if body.is_some() {
        return Err(PemError::Unterminated(label.to_string()));
    }
    if out.is_empty() {
        return Err(PemError::Missing(label.to_string()));
    }
    Ok(out)
}

/// The single (first) block labelled `label`.
pub fn first(text: &str, label: &str) -> Result<Vec<u8>, PemError> {
    blocks(text, label).map(|mut v| v.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_among_other_lines() {
        let t = "Public Key Info:\n  junk\n-----BEGIN PUBLIC KEY-----\nAAEC\nAw==\n-----END PUBLIC KEY-----\n";
        assert_eq!(first(t, "PUBLIC KEY").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(
            first(t, "CERTIFICATE"),
            Err(PemError::Missing("CERTIFICATE".into()))
        );
    }

    #[test]
    fn rejects_broken_blocks() {
        let t = "-----BEGIN CERTIFICATE-----\nAAEC\n";
        assert!(matches!(
            blocks(t, "CERTIFICATE"),
            Err(PemError::Unterminated(_))
        ));
        let t = "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(blocks(t, "CERTIFICATE"), Err(PemError::Base64(_))));
    }
}
