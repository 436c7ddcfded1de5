//! The `airgate` command line: parses arguments, runs one command, maps the result to the
//! exit-code contract (0 accept, 1 reject, 2 usage/configuration, 3 operational).
#![forbid(unsafe_code)]

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            let class = cli::class_of(&e);
            eprintln!("airgate: error: {e:#}");
            class.exit_code()
        }
    };
    std::process::exit(code);
}
