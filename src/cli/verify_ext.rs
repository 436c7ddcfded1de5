//! Command-line side of `airgate verify` over publisher formats (a Sigstore bundle over one
//! file, an OpenSSF model signature over a model folder): the trust flags become an
//! [`ExternalTrust`] and `--ignore-path` values are resolved against the current directory;
//! the verification itself is the library's (`airgate::verify`).

use super::common::CliError;
use airgate::report::Report;
use airgate::trust::model_signing as ms;
use airgate::verify::VerifyError;
use airgate::verify::{self as external, ExternalTrust};
use std::path::{Path, PathBuf};

/// A library error, tagged with its exit-code class.
fn tagged(e: VerifyError) -> anyhow::Error {
    CliError {
        class: e.class(),
        error: e.into(),
    }
    .into()
}

/// `airgate verify FILE --sigstore-bundle B`: verify a Sigstore bundle over one file.
pub fn sigstore(artifact: &Path, bundle: &Path, trust: &ExternalTrust) -> anyhow::Result<Report> {
    external::sigstore_file(artifact, bundle, trust).map_err(tagged)
}

/// `airgate verify MODEL --model-signature model.sig`: verify an OpenSSF model signature;
/// empty files the signature cannot cover are judged as findings by the policy (without a
/// policy, the default `block_at` is high: they are listed and the model passes, as
/// upstream's verify does).
pub fn model_signing(
    model_dir: &Path,
    sig: &Path,
    ignore: &[PathBuf],
    trust: &ExternalTrust,
) -> anyhow::Result<Report> {
    let ignore = ignore
        .iter()
        .map(|p| resolve_ignore(model_dir, p))
        .collect();
    let external::ModelFolder {
        mut report,
        findings,
    } = external::model_folder(model_dir, sig, ignore, trust).map_err(tagged)?;
    let policy = trust.policy.clone().unwrap_or_default();
    let empty = findings.len();
    airgate::decide::judge_external(&mut report, findings, &policy, |_, _| {
        format!(
            "{empty} empty file(s) the signature cannot cover, at or above the blocking severity"
        )
    });
    Ok(report)
}

/// Resolve an `--ignore-path` like model_signing: absolute or relative to the current
/// directory, made relative to the model folder (lexically, then through symlinks); a path
/// that does not lie inside it is taken as relative to the model folder.
fn resolve_ignore(model: &Path, p: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let (abs_p, abs_m) = (lexical(&cwd.join(p)), lexical(&cwd.join(model)));
    if let Ok(rel) = abs_p.strip_prefix(&abs_m) {
        if let Some(s) = rel.to_str().filter(|s| !s.is_empty()) {
            return s.to_string();
        }
    }
    if let Some(rel) = ms::relative_inside(model, &abs_p) {
        return rel;
    }
    p.to_string_lossy().trim_start_matches("./").to_string()
}

/// `.` and `..` removed without touching the file system.
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_paths_resolve_like_model_signing() {
        let cwd = std::env::current_dir().unwrap();
        let m = Path::new("models/llama");
        assert_eq!(
            resolve_ignore(m, Path::new("models/llama/./ignore-me")),
            "ignore-me"
        );
        assert_eq!(resolve_ignore(m, &cwd.join("models/llama/sub/x")), "sub/x");
        assert_eq!(resolve_ignore(m, Path::new("ignore-me")), "ignore-me");
        assert_eq!(lexical(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }
}
