//! The report every command produces: its verdict, reasons, signatures, findings and
//! coverage, in one shape that the renderers in `report` print.

use super::coverage::CoverageReport;
use super::finding::Finding;
use super::Verdict;
use serde::{Deserialize, Serialize};

/// The tool that wrote a report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Always `airgate`.
    pub name: String,
    /// The crate version that wrote the report.
    pub version: String,
}

impl Default for ToolInfo {
    fn default() -> Self {
        ToolInfo {
            name: "airgate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// What the bundle claims to be, and the hash of the file as received. A claim the bundle
/// does not make (no readable statement) is `null` in JSON, never `""`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BundleInfo {
    /// Bundle name from the statement; empty (`null` in JSON) when unknown.
    #[serde(serialize_with = "empty_as_null", deserialize_with = "null_as_empty")]
    pub name: String,
    /// Artifact kind from the statement; empty (`null` in JSON) when unknown.
    #[serde(serialize_with = "empty_as_null", deserialize_with = "null_as_empty")]
    pub kind: String,
    /// Version from the statement; empty (`null` in JSON) when unknown.
    #[serde(serialize_with = "empty_as_null", deserialize_with = "null_as_empty")]
    pub version: String,
    /// Hex SHA-256 of the bundle file exactly as received.
    pub sha256: String,
    /// The path as given on the command line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

fn empty_as_null<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        s.serialize_str(v)
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Whether a signature counted towards the threshold, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Valid, by a trusted key, counted.
    Counted,
    /// Valid, but the key id already counted once.
    Duplicate,
    /// The key is not trusted for this artifact kind.
    Unknown,
    /// The key's expiry has passed.
    Expired,
    /// The key is on the revocation list.
    Revoked,
    /// The signature does not verify.
    Invalid,
}

/// One signature as seen by the verifier.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignatureReport {
    /// `dsse-ed25519`, `sigstore`, `model-signing`, `minisign`, `signify`, ...
    pub format: String,
    /// Key id (hex SHA-256 of the DER public key), or the key's own id for minisign/signify.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_id: String,
    /// Certificate identity (SAN) and issuer, for certificate-based signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Whether this signature counted towards the threshold, and if not why.
    pub status: SignatureStatus,
    /// Why it did or did not count.
    pub reason: String,
}

/// Time and volume of the work done.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Wall-clock time of the whole command, in milliseconds.
    pub total_ms: u64,
    /// Payload bytes hashed/inspected.
    pub bytes: u64,
    /// Payload files hashed/inspected.
    pub files: u64,
    /// bytes / total time, in MB/s (10^6).
    pub mb_per_s: f64,
}

impl Timings {
    /// Timings for `bytes` over `files` in `elapsed`.
    pub fn from(elapsed: std::time::Duration, bytes: u64, files: u64) -> Timings {
        let secs = elapsed.as_secs_f64();
        Timings {
            total_ms: elapsed.as_millis() as u64,
            bytes,
            files,
            mb_per_s: if secs > 0.0 {
                bytes as f64 / secs / 1e6
            } else {
                0.0
            },
        }
    }
}

/// Findings from which a JSON report renders them in parallel.
const PARALLEL_JSON_MIN: usize = 4096;
/// Findings one parallel task renders.
const JSON_SLICE: usize = 2048;

/// The report of a `verify`, `scan` or `admit`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The program and version that wrote the report.
    pub tool: ToolInfo,
    /// `verify`, `scan`, `admit`, ...
    pub command: String,
    /// Accept or reject; exit code 0 or 1.
    pub verdict: Verdict,
    /// Short reasons for a rejection, most important first.
    pub reasons: Vec<String>,
    /// What the bundle says it is; absent for `scan` of plain files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<BundleInfo>,
    /// Every signature seen, counted or not.
    pub signatures: Vec<SignatureReport>,
    /// Findings that count towards the verdict (those a waiver cleared are in `waived`).
    pub findings: Vec<Finding>,
    /// Findings cleared by a policy waiver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waived: Vec<Finding>,
    /// Rules the policy switched off (`[inspect] disabled_rules`): what was not checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_rules: Vec<String>,
    /// Hex SHA-256 of the policy in force.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_sha256: String,
    /// Absolute `file:` URI (ending in `/`) that finding paths are relative to: the scanned
    /// folder, the working folder for a file named by a relative path, or the bundle for
    /// paths inside it. Unknown for standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_uri: Option<String>,
    /// Time, bytes and files of the run.
    pub timings: Timings,
    /// What inspection read, per format, and what it did not read and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageReport>,
}

impl Report {
    /// An empty accepting report for `command`.
    pub fn new(command: &str) -> Report {
        Report {
            tool: ToolInfo::default(),
            command: command.into(),
            verdict: Verdict::Accept,
            reasons: Vec::new(),
            bundle: None,
            signatures: Vec::new(),
            findings: Vec::new(),
            waived: Vec::new(),
            disabled_rules: Vec::new(),
            policy_sha256: String::new(),
            base_uri: None,
            timings: Timings::default(),
            coverage: None,
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Write the JSON report (as [`to_json`](Self::to_json), then a newline) to `w`,
    /// without building it as one string first.
    ///
    /// A report with many findings has them rendered in parallel, in slices, and spliced
    /// into the rest of the report: the bytes are the same as rendering it in one go.
    pub fn write_json<W: std::io::Write>(&self, w: W) -> std::io::Result<()> {
        use std::io::Write;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
        if self.findings.len() < PARALLEL_JSON_MIN {
            serde_json::to_writer_pretty(&mut w, self).map_err(std::io::Error::other)?;
        } else {
            self.write_json_spliced(&mut w)?;
        }
        w.write_all(b"\n")?;
        w.flush()
    }

    /// [`write_json`](Self::write_json) for many findings: the report without its findings
    /// is rendered, and the findings, rendered in parallel at their depth, take the place
    /// of its empty list.
    fn write_json_spliced<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        use rayon::prelude::*;
        // every field named, so that a field added to the report cannot be left out here
        let Report {
            tool,
            command,
            verdict,
            reasons,
            bundle,
            signatures,
            findings,
            waived,
            disabled_rules,
            policy_sha256,
            base_uri,
            timings,
            coverage,
        } = self;
        let shell = Report {
            tool: tool.clone(),
            command: command.clone(),
            verdict: *verdict,
            reasons: reasons.clone(),
            bundle: bundle.clone(),
            signatures: signatures.clone(),
            findings: Vec::new(),
            waived: waived.clone(),
            disabled_rules: disabled_rules.clone(),
            policy_sha256: policy_sha256.clone(),
            base_uri: base_uri.clone(),
            timings: timings.clone(),
            coverage: coverage.clone(),
        };
        let text = serde_json::to_vec_pretty(&shell).map_err(std::io::Error::other)?;
        // The list sits one level in: `\n  "findings": []`. A JSON string holds no raw line
        // break, so this text can only be the field itself.
        const EMPTY: &[u8] = b"\n  \"findings\": []";
        let Some(at) = text.windows(EMPTY.len()).position(|x| x == EMPTY) else {
            return serde_json::to_writer_pretty(w, self).map_err(std::io::Error::other);
        };
        let open = at + EMPTY.len() - 1; // the `]`
        w.write_all(&text[..open])?;
        // Each finding as serde_json writes a list element two levels in: after `\n` and
        // four spaces (`,\n` and four spaces after the first), its inner lines indented
        // four spaces more.
        let parts: Vec<std::io::Result<Vec<u8>>> = findings
            .par_chunks(JSON_SLICE)
            .enumerate()
            .map(|(k, slice)| {
                let mut out = Vec::with_capacity(slice.len() * 512);
                // one finding at depth 0, reused across the slice
                let mut one = Vec::with_capacity(1024);
                for (i, f) in slice.iter().enumerate() {
                    one.clear();
                    serde_json::to_writer_pretty(&mut one, f).map_err(std::io::Error::other)?;
                    out.extend_from_slice(if k == 0 && i == 0 {
                        b"\n    "
                    } else {
                        b",\n    "
                    });
                    for (j, line) in one.split(|&b| b == b'\n').enumerate() {
                        if j > 0 {
                            out.extend_from_slice(b"\n    ");
                        }
                        out.extend_from_slice(line);
                    }
                }
                Ok(out)
            })
            .collect();
        for p in parts {
            w.write_all(&p?)?;
        }
        w.write_all(b"\n  ")?;
        w.write_all(&text[open..])
    }

    /// Sort findings: most severe first, then by path and offset, so output is stable.
    pub fn sort(&mut self) {
        use rayon::slice::ParallelSliceMut;
        self.findings.par_sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.path.cmp(&b.path))
                .then_with(|| a.offset.cmp(&b.offset))
                .then_with(|| a.rule.cmp(&b.rule))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Category, Severity};

    fn rendered(r: &Report) -> String {
        let mut out = Vec::new();
        r.write_json(&mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    /// The spliced, parallel rendering of many findings is byte for byte the one-go one.
    #[test]
    fn many_findings_render_as_serde_json_does() {
        let mut r = Report::new("scan");
        // the field's own text inside strings must not be taken for the field
        r.reasons = vec![
            "\n  \"findings\": []".into(),
            "line\nbreak \"quoted\" é \u{1}".into(),
        ];
        r.disabled_rules = vec!["secret.jwt".into()];
        r.base_uri = Some("file:///tmp/x/".into());
        r.coverage = Some(CoverageReport::default());
        for n in [PARALLEL_JSON_MIN - 1, PARALLEL_JSON_MIN, 3 * JSON_SLICE + 7] {
            r.findings = (0..n)
                .map(|i| {
                    let f = Finding::new(
                        format!("dir/file {i}.txt"),
                        "secret.generic-api-key",
                        Category::Secret,
                        Severity::Low,
                        format!("value {i}: \"{}\"\n\t\\ \u{7f} ✓", "x".repeat(i % 5)),
                        format!("{i}").as_bytes(),
                    );
                    if i % 3 == 0 {
                        f.at_line(i as u64).with_redacted("AKIA…(20 bytes)")
                    } else {
                        f.also_in(Category::Reachback)
                    }
                })
                .collect();
            r.waived = r.findings[..3].to_vec();
            let want = serde_json::to_string_pretty(&r).expect("json") + "\n";
            assert_eq!(rendered(&r), want, "{n} findings");
        }
    }

    /// A report with no findings renders whole too (the field is `[]`).
    #[test]
    fn no_findings_render_as_serde_json_does() {
        let r = Report::new("verify");
        let want = serde_json::to_string_pretty(&r).expect("json") + "\n";
        assert_eq!(rendered(&r), want);
        assert!(want.contains("\"findings\": []"));
    }
}
