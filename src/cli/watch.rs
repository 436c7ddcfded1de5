//! `airgate watch`: (being built).

/// Arguments of `airgate watch`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate watch`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate watch is not built yet"))
}
