//! `airgate keygen`: (being built).

/// Arguments of `airgate keygen`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate keygen`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate keygen is not built yet"))
}
