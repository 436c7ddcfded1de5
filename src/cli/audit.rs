//! `airgate audit`: (being built).

/// Arguments of `airgate audit`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate audit`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate audit is not built yet"))
}
