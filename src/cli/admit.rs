//! `airgate admit`: (being built).

/// Arguments of `airgate admit`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate admit`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate admit is not built yet"))
}
