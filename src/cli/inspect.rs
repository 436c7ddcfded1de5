//! `airgate inspect`: (being built).

/// Arguments of `airgate inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `airgate inspect`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    Err(super::common::usage("airgate inspect is not built yet"))
}
