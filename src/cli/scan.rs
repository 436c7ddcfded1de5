//! `airgate scan`: (being built).

/// Arguments of `airgate scan`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate scan`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate scan is not built yet"))
}
