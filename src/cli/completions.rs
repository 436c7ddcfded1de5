//! `airgate completions SHELL` and `airgate man --out DIR`: shell completions and man pages
//! generated from the clap definitions, so they always match the executable.

use super::common::ResultExt;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// Arguments of `airgate completions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell. The script goes to stdout, e.g.
    /// `airgate completions bash > /etc/bash_completion.d/airgate`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `airgate man`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Folder for the pages: `airgate.1` and one `airgate-<command>.1` per subcommand
    /// (created if missing; existing pages are replaced).
    #[arg(long)]
    pub out: PathBuf,
}

/// Run `airgate completions`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "airgate", &mut std::io::stdout().lock());
    Ok(0)
}

/// Run `airgate man`.
pub fn run_man(a: ManArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&a.out).operational()?;
    let pages = write_man_pages(&a.out).operational()?;
    for p in &pages {
        println!("{}", p.display());
    }
    Ok(0)
}

/// Write one page per command and subcommand (help excluded); returns their paths. The
/// date is the build date, so the pages of one build are the same bytes everywhere.
pub fn write_man_pages(out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let date = super::version::info()
        .build_date
        .map(|d| d[..10].to_string())
        .unwrap_or_default();
    let mut pages = Vec::new();
    add_pages(&cmd, out, &date, &mut pages)?;
    Ok(pages)
}

fn add_pages(
    cmd: &clap::Command,
    out: &Path,
    date: &str,
    pages: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .date(date)
        .manual("airgate manual");
    pages.push(man.generate_to(out)?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        add_pages(sub, out, date, pages)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_for_every_subcommand_and_nested_one() {
        let dir = tempfile::tempdir().unwrap();
        let pages = write_man_pages(dir.path()).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"airgate.1".to_string()));
        let cmd = super::super::Cli::command();
        for sub in cmd.get_subcommands() {
            let page = format!("airgate-{}.1", sub.get_name());
            assert!(names.contains(&page), "{page} missing from {names:?}");
            for nested in sub.get_subcommands() {
                let page = format!("airgate-{}-{}.1", sub.get_name(), nested.get_name());
                assert!(names.contains(&page), "{page} missing");
            }
        }
        let verify = std::fs::read_to_string(dir.path().join("airgate-verify.1")).unwrap();
        assert!(verify.contains(".TH airgate-verify 1"), "{verify}");
        assert!(verify.contains("\\-\\-policy"));
    }
}
