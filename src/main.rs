//! The `airgate` command line: parses arguments, runs one command, maps the result to the
//! exit-code contract (0 accept, 1 reject, 2 usage/configuration, 3 operational).
#![forbid(unsafe_code)]

mod cli;

fn main() {
    // Rust ignores SIGPIPE, so a closed stdout surfaces as an EPIPE write error: a `print!`
    // that meets it panics. End quietly instead, as a Unix tool killed by SIGPIPE would.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(cli::EXIT_SIGPIPE);
        }
        default_hook(info);
    }));
    let (args, json_errors) = cli::parse();
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(e) if cli::is_broken_pipe(&e) => cli::EXIT_SIGPIPE,
        Err(e) => cli::report_error(&e, json_errors),
    };
    std::process::exit(code);
}
