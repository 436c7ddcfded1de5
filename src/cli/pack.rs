//! `airgate pack`: (being built).

/// Arguments of `airgate pack`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate pack`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate pack is not built yet"))
}
