//! Installing an airgate release that the gate staged (`self-install`): the staged
//! executable is checked against the gate-signed receipt, the version must move forward,
//! the new executable must run and name the receipt's version, and only then it replaces
//! the target by one atomic rename, the old executable kept beside it as `NAME.previous`.
//!
//! The release is an ordinary `patch` bundle named `airgate`: the gate already verified its
//! signatures against the policy's threshold for `patch`, refused rollbacks and replays,
//! and staged it read-only with a receipt it signed. What this module adds is the last
//! step, from the staged tree to the executable an operator runs.

use super::receipt::{Receipt, PAYLOAD_DIR};
use super::GateError;
use crate::bundle::version::Version;
use crate::trust::keys::PublicKey;
use crate::ErrorClass;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The bundle kind of an airgate release.
pub const RELEASE_KIND: &str = "patch";
/// The bundle name of an airgate release.
pub const RELEASE_NAME: &str = "airgate";
/// Suffix of the previous executable kept beside the target.
pub const PREVIOUS_SUFFIX: &str = ".previous";
/// Most bytes of `version --json` output read.
const MAX_VERSION_OUTPUT: u64 = 64 * 1024;
/// How long an executable may take to print its version.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// Why an install did not happen. Nothing is replaced in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The release or the version order says no (exit 1).
    #[error("{0}")]
    Refused(String),
    /// The command was asked for something it cannot do as given (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a file failed (exit 3).
    #[error("{what} {path}: {source}")]
    Io {
        /// The step that failed.
        what: &'static str,
        /// The file it acted on.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Reading the gate's receipt or state failed.
    #[error(transparent)]
    Gate(#[from] GateError),
}

impl InstallError {
    /// The exit-code class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            InstallError::Refused(_) => ErrorClass::Rejected,
            InstallError::Usage(_) => ErrorClass::Config,
            InstallError::Io { .. } => ErrorClass::Operational,
            InstallError::Gate(g) => g.class(),
        }
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |source| InstallError::Io { what, path, source }
}

/// The executable's file name inside a release bundle of `version`, for this machine.
pub fn executable_name(version: &str) -> String {
    format!("airgate-{version}-{}-linux", std::env::consts::ARCH)
}

/// `TARGET.previous`.
pub fn previous_path(target: &Path) -> PathBuf {
    let mut p = target.as_os_str().to_owned();
    p.push(PREVIOUS_SUFFIX);
    PathBuf::from(p)
}

/// A staged release whose receipt verified.
#[derive(Clone, Debug)]
pub struct StagedRelease {
    /// The release's version from the signed statement.
    pub version: String,
    /// The staged executable (`<staged>/files/airgate-<version>-<arch>-linux`).
    pub executable: PathBuf,
    /// Its SHA-256 (hex) and size as the signed statement lists them.
    pub sha256: String,
    /// Its size in bytes as the statement lists it.
    pub size: u64,
    /// Hex SHA-256 of the bundle file the gate admitted.
    pub bundle_sha256: String,
    /// Key ids whose signatures counted at the gate.
    pub signers: Vec<String>,
}

/// Read `<staged_dir>/receipt.json`, check the gate's signature with `gate_key`, and find
/// the executable the signed statement lists for this machine.
pub fn check_staged(
    staged_dir: &Path,
    gate_key: &PublicKey,
) -> Result<StagedRelease, InstallError> {
    let r = Receipt::load(staged_dir)?;
    if !r.signature_ok(gate_key) {
        return Err(InstallError::Refused(format!(
            "the receipt in {} does not verify with gate key {}: it was changed, or another gate \
             staged it",
            staged_dir.display(),
            gate_key.id()
        )));
    }
    let p = &r.statement.predicate;
    if (r.kind.as_str(), r.name.as_str()) != (RELEASE_KIND, RELEASE_NAME)
        || (p.kind.as_str(), p.name.as_str()) != (RELEASE_KIND, RELEASE_NAME)
        || p.version != r.version
    {
        return Err(InstallError::Refused(format!(
            "{} holds {} {} {}, not an airgate release (kind {RELEASE_KIND}, name {RELEASE_NAME})",
            staged_dir.display(),
            r.kind,
            r.name,
            r.version
        )));
    }
    Version::parse(&r.version).map_err(InstallError::Refused)?;
    let name = executable_name(&r.version);
    let subject = r.statement.subject.iter().find(|s| s.name == name);
    let (Some(sha256), Some(size)) = (
        subject.and_then(|s| s.sha256()),
        p.sizes.get(&name).copied(),
    ) else {
        return Err(InstallError::Refused(format!(
            "the release {} lists no {name} (an executable for this machine)",
            r.version
        )));
    };
    Ok(StagedRelease {
        executable: staged_dir.join(PAYLOAD_DIR).join(&name),
        version: r.version.clone(),
        sha256: sha256.to_string(),
        size,
        bundle_sha256: r.bundle_sha256.clone(),
        signers: r.signers.clone(),
    })
}

/// How to install.
#[derive(Clone, Debug, Default)]
pub struct InstallOptions {
    /// Install even when the release is not newer than the target (or the target's version
    /// cannot be told).
    pub allow_downgrade: bool,
    /// The target's version when the caller knows it (the target is the running
    /// executable); otherwise it is asked with `TARGET version --json`.
    pub target_version: Option<String>,
}

/// What was installed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Installed {
    /// The executable replaced.
    pub target: PathBuf,
    /// The version now installed.
    pub version: String,
    /// The version replaced (`None`: there was no executable, or it could not tell).
    pub replaced: Option<String>,
    /// Where the replaced executable was kept.
    pub previous: Option<PathBuf>,
}

/// Refuse a release that is not newer than `installed`, unless `allow_downgrade`.
pub fn check_order(
    new: &str,
    installed: Option<&str>,
    allow_downgrade: bool,
) -> Result<(), InstallError> {
    if allow_downgrade {
        return Ok(());
    }
    let new_v = Version::parse(new).map_err(InstallError::Refused)?;
    let Some(old) = installed else {
        return Err(InstallError::Refused(format!(
            "cannot tell the installed version, so cannot tell that {new} is newer; \
             --allow-downgrade installs it anyway"
        )));
    };
    match Version::parse(old) {
        Ok(old_v) if new_v.is_newer_than(&old_v) => Ok(()),
        _ => Err(InstallError::Refused(format!(
            "release {new} is not newer than the installed {old}: versions only move forward \
             (--allow-downgrade to install it anyway)"
        ))),
    }
}

/// Install `rel` at `target` (see the module documentation for the order of steps).
pub fn install(
    rel: &StagedRelease,
    target: &Path,
    opts: &InstallOptions,
) -> Result<Installed, InstallError> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let existing = match std::fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(InstallError::Usage(format!(
                "{} is a symbolic link; give the file it points to as --target",
                target.display()
            )))
        }
        Ok(m) if !m.is_file() => {
            return Err(InstallError::Usage(format!(
                "{} is not a regular file",
                target.display()
            )))
        }
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io("inspect", target)(e)),
    };
    let replaced = match (&opts.target_version, existing) {
        (Some(v), _) => Some(v.clone()),
        (None, true) => query_version(target).ok().map(|v| v.version),
        (None, false) => None,
    };
    if existing {
        check_order(&rel.version, replaced.as_deref(), opts.allow_downgrade)?;
    }

    // Copy the staged executable next to the target, hashing exactly the bytes written.
    let mut tmp = tempfile::Builder::new()
        .prefix(".airgate-install-")
        .tempfile_in(&dir)
        .map_err(io("create a file in", &dir))?;
    let (sha256, size) = copy_hashed(&rel.executable, tmp.as_file_mut(), rel.size)?;
    if sha256 != rel.sha256 || size != rel.size {
        return Err(InstallError::Refused(format!(
            "the staged executable {} is not what the receipt lists (sha256 {sha256}, {size} bytes; \
             expected {}, {} bytes): it was changed after staging",
            rel.executable.display(),
            rel.sha256,
            rel.size
        )));
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let f = tmp.as_file();
        f.set_permissions(std::fs::Permissions::from_mode(0o755))
            .and_then(|_| f.sync_all())
            .map_err(io("write", tmp.path()))?;
    }
    let tmp = tmp.into_temp_path(); // closed: a file open for writing cannot be executed

    let reported = query_version(&tmp).map_err(|e| {
        InstallError::Refused(format!(
            "the new executable does not run here ({e}); nothing was replaced"
        ))
    })?;
    if reported.name != RELEASE_NAME || reported.version != rel.version {
        return Err(InstallError::Refused(format!(
            "the new executable says it is {} {}, but the signed release is airgate {}",
            reported.name, reported.version, rel.version
        )));
    }

    let previous = if existing {
        let prev = previous_path(target);
        let link = tempfile::Builder::new()
            .prefix(".airgate-previous-")
            .make_in(&dir, |p| std::fs::hard_link(target, p))
            .map_err(io("keep the previous executable", target))?;
        link.persist(&prev)
            .map_err(|e| io("keep the previous executable as", &prev)(e.error))?;
        Some(prev)
    } else {
        None
    };
    tmp.persist(target)
        .map_err(|e| io("replace", target)(e.error))?;
    sync_dir(&dir)?;
    Ok(Installed {
        target: target.to_path_buf(),
        version: rel.version.clone(),
        replaced,
        previous,
    })
}

/// Swap `target` and `target.previous` in one atomic exchange (so a second rollback goes
/// forward again). Returns the versions (as they report them) now at the target and now
/// kept as previous.
pub fn rollback(target: &Path) -> Result<(Option<String>, Option<String>), InstallError> {
    let prev = previous_path(target);
    for p in [target, prev.as_path()] {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(InstallError::Usage(format!(
                    "{} is not a regular file",
                    p.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(InstallError::Usage(format!(
                    "{} does not exist: nothing to roll back to",
                    p.display()
                )))
            }
            Err(e) => return Err(io("inspect", p)(e)),
        }
    }
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        target,
        rustix::fs::CWD,
        &prev,
        rustix::fs::RenameFlags::EXCHANGE,
    )
    .map_err(|e| io("exchange with the previous executable", target)(e.into()))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    sync_dir(&dir)?;
    let v = |p: &Path| query_version(p).ok().map(|v| v.version);
    Ok((v(target), v(&prev)))
}

fn sync_dir(dir: &Path) -> Result<(), InstallError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io("sync", dir))
}

/// Copy `src` (a regular file, not followed if a link) into `out`, reading at most
/// `expected + 1` bytes; returns the hex SHA-256 and length of what was written.
fn copy_hashed(
    src: &Path,
    out: &mut std::fs::File,
    expected: u64,
) -> Result<(String, u64), InstallError> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(src)
        .map_err(io("open the staged executable", src))?;
    if !f.metadata().map_err(io("inspect", src))?.is_file() {
        return Err(InstallError::Refused(format!(
            "the staged executable {} is not a regular file",
            src.display()
        )));
    }
    let mut limited = f.take(expected.saturating_add(1));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(g) => g,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io("read", src)(e)),
        };
        h.update(&buf[..got]);
        out.write_all(&buf[..got])
            .map_err(io("write a copy of", src))?;
        n += got as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// What an executable says it is (`version --json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reported {
    pub name: String,
    pub version: String,
}

/// Run `exe version --json` with an empty environment and no input, within a time limit,
/// and read its name and version.
pub fn query_version(exe: &Path) -> Result<Reported, String> {
    use std::process::{Command, Stdio};
    let mut tries = 0;
    let mut child = loop {
        let spawned = Command::new(exe)
            .args(["version", "--json"])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(c) => break c,
            // ETXTBSY: another thread's fork may briefly hold a descriptor of the new file.
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("cannot run {}: {e}", exe.display())),
        }
    };
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() < VERSION_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not answer `version --json` within {} s",
                    exe.display(),
                    VERSION_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {}: {e}", exe.display())),
        }
    };
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        stdout
            .take(MAX_VERSION_OUTPUT)
            .read_to_end(&mut out)
            .map_err(|e| format!("reading {}: {e}", exe.display()))?;
    }
    if !status.success() {
        return Err(format!(
            "`{} version --json` failed ({status})",
            exe.display()
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|e| format!("`{} version --json` printed no JSON: {e}", exe.display()))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match (field("name"), field("version")) {
        (Some(name), Some(version)) => Ok(Reported { name, version }),
        _ => Err(format!(
            "`{} version --json` has no name and version",
            exe.display()
        )),
    }
}

impl crate::Classified for InstallError {
    fn class(&self) -> crate::ErrorClass {
        InstallError::class(self)
    }
}
