//! `airgate status`: (being built).

/// Arguments of `airgate status`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate status`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate status is not built yet"))
}
