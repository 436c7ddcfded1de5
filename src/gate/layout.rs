//! The gate directory: its folders, `airgate.toml`, `airgate init` (policy copy, audit key) and
//! opening an existing gate.

use super::fsutil::{self, io};
use super::GateError;
use crate::policy::Policy;
use crate::trust::keys::{write_keypair, PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// The folders every gate has.
pub const DIRS: &[&str] = &[
    "intake",
    "staging",
    "quarantine",
    "audit",
    "state",
    "work",
    "keys",
];

/// Name of the gate's configuration file.
pub const CONFIG_FILE: &str = "airgate.toml";
/// Largest `airgate.toml` we read.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;
/// Largest file or count of files copied in with the policy.
const MAX_POLICY_FILES: usize = 1000;

/// `GATE/airgate.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Policy file, relative to the gate.
    pub policy: PathBuf,
    /// The gate's Ed25519 audit private key (PKCS#8 PEM, mode 0600), relative to the gate.
    pub audit_key: PathBuf,
    /// Its public key (SPKI PEM), relative to the gate.
    pub audit_pub: PathBuf,
    /// Key id of the audit key (hex SHA-256 of its DER public key).
    pub audit_key_id: String,
    /// When true, `watch` admits a bundle only once a `NAME.ready` marker sits beside it.
    #[serde(default)]
    pub require_ready: bool,
}

/// An opened gate.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The gate's folder.
    pub root: PathBuf,
    /// The gate's settings from `airgate.toml`.
    pub config: GateConfig,
}

impl Gate {
    /// `intake/`: where bundles arrive.
    pub fn intake(&self) -> PathBuf {
        self.root.join("intake")
    }
    /// `staging/`: accepted bundles, `<kind>/<name>/<version>/`.
    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }
    /// `quarantine/`: rejected bundles with their reports.
    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }
    /// `audit/`: the log and its checkpoints.
    pub fn audit_dir(&self) -> PathBuf {
        self.root.join("audit")
    }
    /// `audit/log.jsonl`: the hash-chained audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.root.join("audit/log.jsonl")
    }
    /// `state/`: rollback state, active trust, the lock.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }
    /// `work/`: extraction in progress (cleaned after a crash).
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }
    /// `work/claims/`: bundles a watcher has taken from intake.
    pub fn claims(&self) -> PathBuf {
        self.root.join("work/claims")
    }
    /// `state/gate.lock`: held while a decision is made durable.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("state/gate.lock")
    }
    /// The policy file the gate uses.
    pub fn policy_path(&self) -> PathBuf {
        self.root.join(&self.config.policy)
    }

    /// Open the gate at `root`: read `airgate.toml`, check the folders exist.
    pub fn open(root: &Path) -> Result<Gate, GateError> {
        let cfg_path = root.join(CONFIG_FILE);
        let meta = std::fs::metadata(&cfg_path).map_err(|e| GateError::Config {
            message: format!(
                "{} is not a gate ({}: {e}); create one with `airgate init`",
                root.display(),
                cfg_path.display()
            ),
        })?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(GateError::Config {
                message: format!(
                    "{} is larger than {MAX_CONFIG_BYTES} bytes",
                    cfg_path.display()
                ),
            });
        }
        let text = std::fs::read_to_string(&cfg_path).map_err(io("read", &cfg_path))?;
        let config: GateConfig = toml::from_str(&text).map_err(|e| GateError::Config {
            message: format!("{} is not valid: {e}", cfg_path.display()),
        })?;
        let gate = Gate {
            root: root.to_path_buf(),
            config,
        };
        for d in DIRS {
            let p = root.join(d);
            if !p.is_dir() {
                return Err(GateError::Config {
                    message: format!("gate folder {} is missing", p.display()),
                });
            }
        }
        fsutil::create_dirs_durable(&gate.claims())?;
        Ok(gate)
    }

    /// Load the gate's policy.
    pub fn load_policy(&self) -> Result<Policy, GateError> {
        Policy::load(&self.policy_path()).map_err(|e| GateError::Config {
            message: e.to_string(),
        })
    }

    /// Load the gate's audit signing key.
    pub fn load_audit_key(&self) -> Result<PrivateKey, GateError> {
        PrivateKey::load(&self.root.join(&self.config.audit_key)).map_err(|e| GateError::Config {
            message: e.to_string(),
        })
    }

    /// Load the gate's audit public key.
    pub fn load_audit_pub(&self) -> Result<PublicKey, GateError> {
        PublicKey::load(&self.root.join(&self.config.audit_pub)).map_err(|e| GateError::Config {
            message: e.to_string(),
        })
    }
}

/// How `airgate init` sets up a gate.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// Admit a bundle in `intake/` only once a `NAME.ready` marker sits beside it.
    pub require_ready: bool,
}

/// Create a gate at `root` (which must not exist or be empty) using the policy at `policy`.
/// The policy and the files it names by relative path (keys, trusted root, rule folders) are
/// copied in; absolute paths are kept as they are.
///
/// All or nothing: the policy is checked against the files it names first, the gate is
/// built in a temporary folder beside `root` (`.airgate-init-PID-…`) and renamed into place
/// once complete, so a failure (or a kill: the next `init` sweeps the leftover) never
/// leaves a half-built gate.
pub fn init(root: &Path, policy: &Path) -> Result<Gate, GateError> {
    init_with(root, policy, &InitOptions::default())
}

/// [`init`] with options.
pub fn init_with(root: &Path, policy: &Path, opts: &InitOptions) -> Result<Gate, GateError> {
    let loaded = Policy::load(policy).map_err(|e| GateError::Config {
        message: e.to_string(),
    })?;
    crate::trust::enforced::check(&loaded, crate::util::now_secs()).map_err(|e| {
        GateError::Config {
            message: format!("policy {}: {e}", policy.display()),
        }
    })?;
    if root.exists() {
        let mut entries = std::fs::read_dir(root).map_err(io("read", root))?;
        if entries.next().is_some() {
            return Err(GateError::Config {
                message: format!("{} exists and is not empty", root.display()),
            });
        }
    }
    let parent = match root.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(GateError::Config {
            message: format!(
                "cannot create the gate {}: its parent folder {} does not exist",
                root.display(),
                parent.display()
            ),
        });
    }
    crate::util::tmp::sweep_stale(&parent);
    let tmp = tempfile::Builder::new()
        .prefix(&crate::util::tmp::prefix("init"))
        .tempdir_in(&parent)
        .map_err(|e| io("create a temporary folder in", &parent)(crate::util::tmp::plain(e)))?;
    build(tmp.path(), policy, &loaded, opts)?;
    // rename(2) replaces an empty folder atomically and refuses a non-empty one
    let built = tmp.keep();
    if let Err(e) = std::fs::rename(&built, root) {
        let _ = fsutil::remove_tree(&built);
        return Err(GateError::Config {
            message: format!("cannot put the gate in place at {}: {e}", root.display()),
        });
    }
    fsutil::sync_parent(root)?;
    Gate::open(root)
}

/// Build a complete gate in the empty folder `root`.
fn build(root: &Path, policy: &Path, loaded: &Policy, opts: &InitOptions) -> Result<(), GateError> {
    for d in DIRS {
        fsutil::create_dirs_durable(&root.join(d))?;
    }
    fsutil::create_dirs_durable(&root.join("work/claims"))?;
    let policy_dir = root.join("policy");
    fsutil::create_dirs_durable(&policy_dir)?;
    let text = std::fs::read(policy).map_err(io("read", policy))?;
    fsutil::write_new(&policy_dir.join("policy.toml"), &text, 0o644)?;
    let mut referenced: Vec<PathBuf> = loaded.keys.iter().map(|k| k.path.clone()).collect();
    if let Some(s) = &loaded.sigstore {
        referenced.extend(s.trusted_root.clone());
        referenced.extend(s.keys.iter().map(|k| k.path.clone()));
        referenced.extend(s.ca_certs.iter().map(|k| k.path.clone()));
    }
    referenced.extend(loaded.inspect.rules_dirs.iter().cloned());
    let mut copied = 0usize;
    for rel in referenced {
        if rel.is_absolute() {
            continue;
        }
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(GateError::Config {
                message: format!(
                    "policy path {} leaves the policy's folder; use an absolute path or move the file beside the policy",
                    rel.display()
                ),
            });
        }
        copy_in(&loaded.resolve(&rel), &policy_dir.join(&rel), &mut copied)?;
    }
    let keys = root.join("keys");
    let (pk, _, _) = write_keypair(&keys, "gate-audit").map_err(|e| GateError::Config {
        message: e.to_string(),
    })?;
    fsutil::sync_path(&keys)?;
    let config = GateConfig {
        policy: PathBuf::from("policy/policy.toml"),
        audit_key: PathBuf::from("keys/gate-audit.key"),
        audit_pub: PathBuf::from("keys/gate-audit.pub"),
        audit_key_id: pk.id().to_string(),
        require_ready: opts.require_ready,
    };
    let text = toml::to_string(&config).map_err(|e| GateError::Config {
        message: format!("cannot write {CONFIG_FILE}: {e}"),
    })?;
    let header = "# airgate gate configuration (written by `airgate init`)\n";
    fsutil::write_new(
        &root.join(CONFIG_FILE),
        format!("{header}{text}").as_bytes(),
        0o644,
    )?;
    let gate = Gate::open(root)?;
    // The policy must load from its new place (relative key paths now point into the gate).
    let policy = gate.load_policy()?;
    // With a root role, the active trust (version 1) lives in state/trust.toml from now on.
    if let Some(first) = super::trust::initial(&policy)? {
        super::trust::save_state(&gate, &first)?;
    }
    fsutil::sync_path(root)?;
    Ok(())
}

fn copy_in(from: &Path, to: &Path, copied: &mut usize) -> Result<(), GateError> {
    *copied += 1;
    if *copied > MAX_POLICY_FILES {
        return Err(GateError::Config {
            message: format!("the policy names more than {MAX_POLICY_FILES} files"),
        });
    }
    let meta = std::fs::symlink_metadata(from).map_err(|e| GateError::Config {
        message: format!("policy names {}, which cannot be read: {e}", from.display()),
    })?;
    if let Some(parent) = to.parent() {
        fsutil::create_dirs_durable(parent)?;
    }
    if meta.is_dir() {
        fsutil::create_dirs_durable(to)?;
        for entry in std::fs::read_dir(from).map_err(io("read", from))? {
            let entry = entry.map_err(io("read", from))?;
            copy_in(&entry.path(), &to.join(entry.file_name()), copied)?;
        }
        fsutil::sync_path(to)
    } else if meta.is_file() {
        if to.exists() {
            return Ok(());
        }
        let bytes = std::fs::read(from).map_err(io("read", from))?;
        fsutil::write_new(to, &bytes, 0o644)?;
        fsutil::sync_parent(to)
    } else {
        Err(GateError::Config {
            message: format!(
                "policy names {}, which is not a regular file",
                from.display()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_layout_and_copies_keys() {
        let d = tempfile::tempdir().unwrap();
        let pol_dir = d.path().join("pol");
        std::fs::create_dir_all(pol_dir.join("k")).unwrap();
        let (pk, _, _) = write_keypair(&pol_dir.join("k"), "pub1").unwrap();
        std::fs::write(
            pol_dir.join("policy.toml"),
            "[[keys]]\nname = \"a\"\npath = \"k/pub1.pub\"\n[trust.weights]\nkeys = [\"a\"]\nthreshold = 1\n",
        )
        .unwrap();
        let g = init(&d.path().join("gate"), &pol_dir.join("policy.toml")).unwrap();
        for dd in DIRS {
            assert!(g.root.join(dd).is_dir());
        }
        let p = g.load_policy().unwrap();
        let copied = PublicKey::load(&p.resolve(&p.keys[0].path)).unwrap();
        assert_eq!(copied, pk);
        let key = g.load_audit_key().unwrap();
        assert_eq!(key.public().id(), g.config.audit_key_id);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(g.root.join(&g.config.audit_key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // a second init into a non-empty folder is refused
        assert!(init(&g.root, &pol_dir.join("policy.toml")).is_err());
    }

    #[test]
    fn init_refuses_policy_path_escaping() {
        let d = tempfile::tempdir().unwrap();
        let pol = d.path().join("policy.toml");
        std::fs::write(&pol, "[[keys]]\nname = \"a\"\npath = \"../x.pub\"\n").unwrap();
        assert!(matches!(
            init(&d.path().join("g"), &pol),
            Err(GateError::Config { .. })
        ));
    }

    #[test]
    fn open_refuses_non_gate() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(
            Gate::open(d.path()),
            Err(GateError::Config { .. })
        ));
    }
}
