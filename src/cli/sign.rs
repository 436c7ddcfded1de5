//! `airgate sign`: (being built).

/// Arguments of `airgate sign`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate sign`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate sign is not built yet"))
}
