//! `airgate init`: (being built).

/// Arguments of `airgate init`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate init`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate init is not built yet"))
}
