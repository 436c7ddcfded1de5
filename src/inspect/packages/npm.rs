//! npm lifecycle scripts. `npm install` runs a package's `preinstall`, `install`,
//! `postinstall` and `prepare` scripts (and `prepublish`, still run on a plain install by
//! older npm) from `package.json`, as shell commands. Each is inspected as shell code by the
//! text rules, at `package.json!scripts/<name>`, so a download piped to a shell or a
//! reverse shell there is found at its script; its existence is listed at low severity
//! (`npm.install-script`: code runs at install). Other scripts (`test`, `build`) run only
//! when asked and are left to the text rules over the file itself.

use super::Held;
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};

/// Largest `package.json` read.
pub const MAX_PACKAGE_JSON: usize = 4 << 20;

/// The scripts npm runs on install.
pub const LIFECYCLE: &[&str] = &[
    "preinstall",
    "install",
    "postinstall",
    "prepare",
    "prepublish",
];

/// The `package.json` inspector.
pub struct NpmInspector;

struct PackageJson {
    path: String,
    held: Held,
    ctx: ScanContext,
}

impl Inspector for NpmInspector {
    fn name(&self) -> &'static str {
        "npm-scripts"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        let name = meta.path.rsplit(['/', '!']).next().unwrap_or(meta.path);
        let json = head
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{');
        (name == "package.json" && json).then(|| {
            Box::new(PackageJson {
                path: meta.path.to_string(),
                held: Held::new(MAX_PACKAGE_JSON),
                ctx: ctx.clone(),
            }) as Box<dyn FileInspector>
        })
    }
}

/// Findings for one `package.json` (`text`) at `path`; lifecycle scripts are text-scanned
/// with `ctx`.
pub fn check(path: &str, text: &[u8], ctx: &ScanContext, out: &mut Vec<Finding>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(text) else {
        return; // not JSON: the text rules over the file still run
    };
    let Some(scripts) = v.get("scripts").and_then(|s| s.as_object()) else {
        return;
    };
    for name in LIFECYCLE {
        let Some(cmd) = scripts.get(*name).and_then(|c| c.as_str()) else {
            continue;
        };
        let at = format!("{path}!scripts/{name}");
        let shown: String = cmd.chars().take(120).collect();
        out.push(Finding::new(
            &at,
            "npm.install-script",
            Category::Code,
            Severity::Low,
            format!("npm runs this `{name}` script on install: {shown}"),
            cmd.as_bytes(),
        ));
        ctx.text.scan_text(&at, None, cmd.as_bytes(), out);
    }
}

impl FileInspector for PackageJson {
    fn update(&mut self, _: u64, data: &[u8], _: &mut Vec<Finding>) -> Flow {
        self.held.push(data)
    }

    fn finish(self: Box<Self>, _: u64, out: &mut Vec<Finding>) {
        if self.held.over {
            out.push(Finding::new(
                &self.path,
                "npm.too-large-to-check",
                Category::Code,
                Severity::High,
                format!(
                    "package.json larger than {MAX_PACKAGE_JSON} bytes: its install scripts are \
                     not checked, so it is not passed"
                ),
                b"",
            ));
            return;
        }
        check(&self.path, &self.held.bytes, &self.ctx, out);
    }
}
