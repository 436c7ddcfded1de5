//! `airgate version [--json]` and the `--version` text: version, git commit, build date
//! (from `SOURCE_DATE_EPOCH` at build time), enabled features, target and linkage.

use serde::Serialize;
use std::sync::LazyLock;

/// Arguments of `airgate version`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object on stdout (for scripts and `self-install`).
    #[arg(long)]
    pub json: bool,
}

/// What this executable is and how it was built. Field names are stable (scripts and
/// `self-install` read them).
#[derive(Clone, Debug, Serialize)]
pub struct BuildInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// Full git commit hash, `-dirty` when built by `make` from a changed tree, or `unknown`
    /// (a source tarball without `.git`).
    pub commit: &'static str,
    /// RFC 3339 time of `SOURCE_DATE_EPOCH` (or the commit time), `null` when unknown.
    pub build_date: Option<String>,
    pub source_date_epoch: Option<i64>,
    /// Cargo features enabled at build time.
    pub features: Vec<&'static str>,
    pub target: &'static str,
    /// `static` (crt-static) or `dynamic`.
    pub linkage: &'static str,
    /// `release` or `debug` (debug assertions on).
    pub build: &'static str,
    pub rustc: &'static str,
}

/// The build information compiled into this executable.
pub fn info() -> BuildInfo {
    let epoch = env!("AIRGATE_SOURCE_DATE_EPOCH").parse::<i64>().ok();
    BuildInfo {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("AIRGATE_GIT_COMMIT"),
        build_date: epoch.map(airgate::util::format_time),
        source_date_epoch: epoch,
        features: env!("AIRGATE_FEATURES")
            .split(',')
            .filter(|f| !f.is_empty())
            .collect(),
        target: env!("AIRGATE_TARGET"),
        linkage: env!("AIRGATE_LINKAGE"),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        rustc: env!("AIRGATE_RUSTC"),
    }
}

fn short_commit(c: &str) -> &str {
    match c.split_once('-') {
        Some((hash, _)) if hash.len() > 12 => &c[..12],
        _ if c.len() > 12 && c.bytes().all(|b| b.is_ascii_hexdigit()) => &c[..12],
        _ => c,
    }
}

static SHORT: LazyLock<String> = LazyLock::new(|| {
    let i = info();
    let dirty = if i.commit.ends_with("-dirty") {
        "-dirty"
    } else {
        ""
    };
    format!(
        "{} ({}{dirty} {})",
        i.version,
        short_commit(i.commit),
        i.build_date.as_deref().map_or("unknown date", |d| &d[..10])
    )
});

static LONG: LazyLock<String> = LazyLock::new(|| {
    let i = info();
    let features = if i.features.is_empty() {
        "(none)".to_string()
    } else {
        i.features.join(", ")
    };
    format!(
        "{}\ncommit:     {}\nbuild date: {}\nfeatures:   {}\ntarget:     {} ({}, {} build)\ncompiler:   {}",
        i.version,
        i.commit,
        i.build_date.as_deref().unwrap_or("unknown (no SOURCE_DATE_EPOCH)"),
        features,
        i.target,
        i.linkage,
        i.build,
        i.rustc
    )
});

/// `-V`: the version, short commit and build day.
pub fn short() -> &'static str {
    SHORT.as_str()
}

/// `--version` and `airgate version`: one field a line.
pub fn long() -> &'static str {
    LONG.as_str()
}

/// Run `airgate version`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    if a.json {
        println!("{}", serde_json::to_string(&info())?);
    } else {
        println!("airgate {}", long());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_commit_keeps_the_dirty_mark_out_and_short() {
        let full = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(short_commit(full), "0123456789ab");
        assert_eq!(short_commit(&format!("{full}-dirty")), "0123456789ab");
        assert_eq!(short_commit("unknown"), "unknown");
    }

    #[test]
    fn info_is_consistent() {
        let i = info();
        assert_eq!(i.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(i.build_date.is_some(), i.source_date_epoch.is_some());
        assert!(long().starts_with(i.version));
        assert!(short().starts_with(i.version));
        let json: serde_json::Value = serde_json::to_value(&i).unwrap();
        for k in [
            "name",
            "version",
            "commit",
            "build_date",
            "features",
            "target",
        ] {
            assert!(json.get(k).is_some(), "{k}");
        }
    }
}
