//! `airgate verify`: (being built).

/// Arguments of `airgate verify`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate verify`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate verify is not built yet"))
}
