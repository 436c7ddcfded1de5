//! `airgate reverify`: (being built).

/// Arguments of `airgate reverify`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate reverify`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate reverify is not built yet"))
}
