//! SIGINT/SIGTERM during a writing command (`pack`, `sign`, `init`): remove this process's
//! own temporaries beside the output, then exit as killed by the signal (130 or 143).
//! The next run of any of them sweeps temporaries left by a process that no longer exists
//! (a SIGKILL, a power cut).

use std::path::PathBuf;

/// Sweep stale temporaries in `dirs`, then watch for SIGINT/SIGTERM and, on one, remove
/// this process's temporaries there and exit with 128 + the signal number.
pub fn clean_up_on_signal(dirs: Vec<PathBuf>) {
    for d in &dirs {
        for p in airgate::util::sweep_stale_temps(d) {
            super::common::note(format!(
                "removed {}, left by an earlier run that was killed",
                p.display()
            ));
        }
    }
    let signals = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
    let Ok(mut watch) = signal_hook::iterator::Signals::new(signals) else {
        // without a handler, the default action still ends the process; the next run sweeps
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = watch.forever().next() {
            for d in &dirs {
                airgate::util::sweep_own_temps(d);
            }
            std::process::exit(128 + sig);
        }
    });
}

/// The folder an output path will be written in.
pub fn dir_of(out: &std::path::Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
