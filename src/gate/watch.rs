//! The intake daemon loop: clean up after dead processes, then claim and admit complete
//! bundles as they arrive (inotify via `notify`, plus a periodic rescan). A stop request
//! (SIGTERM) abandons the bundle in flight if it is still being verified (it goes back to
//! `intake/` untouched, nothing of it staged) and finishes it if it was already decided.

use super::admit::{admit_intake, AdmitOptions, AdmitResult};
use super::claim;
use super::layout::Gate;
use super::verifier::Verifier;
use super::GateError;
use crate::policy::Policy;
use crate::ErrorClass;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a bundle that failed operationally waits before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);
/// How often the stop flag is looked at while idle.
const POLL: Duration = Duration::from_millis(100);

/// Watch settings.
pub struct WatchOptions<'a> {
    /// Verifies and decides on each bundle; only
    /// [`BundleVerifier`](crate::gate::BundleVerifier) implements it.
    pub verifier: &'a dyn Verifier,
    /// Full rescan interval (the fallback when file events are missed or unavailable).
    pub rescan: Duration,
    /// Process what is waiting, then return.
    pub once: bool,
    /// Set (by a SIGTERM handler) to stop: the bundle in flight is abandoned or finished
    /// (see the module docs), then the loop returns.
    pub stop: Arc<AtomicBool>,
    /// Told, once at start-up (after dead claims are returned), of every file in `intake/`
    /// that will not be taken as it is and why, for the log.
    pub on_not_taken: &'a dyn Fn(&claim::NotTaken),
}

/// What a watch run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchStats {
    /// Bundles staged.
    pub staged: u64,
    /// Bundles quarantined.
    pub quarantined: u64,
    /// Bundles left in place after an error (retried 30 seconds later).
    pub errors: u64,
    /// Claims of dead processes returned to intake at start.
    pub recovered: u64,
    /// Bundles given back to intake undecided because of a stop request.
    pub abandoned: u64,
}

/// One bundle's outcome, for the caller to print.
pub type OnResult<'a> = dyn FnMut(&str, &Result<AdmitResult, GateError>) + 'a;

/// Run the intake loop until `stop` is set (or, with `once`, until intake has nothing ready).
pub fn watch(
    gate: &Gate,
    policy: &Policy,
    opts: &WatchOptions<'_>,
    on_result: &mut OnResult<'_>,
) -> Result<WatchStats, GateError> {
    let mut stats = WatchStats {
        recovered: claim::clean_dead_work(gate)? as u64,
        ..WatchStats::default()
    };
    for n in claim::not_taken(gate)? {
        (opts.on_not_taken)(&n);
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    // Keep the watcher alive for the loop; without it the rescan still finds everything.
    let _watcher = start_notify(gate, tx);
    let mut backoff: HashMap<String, Instant> = HashMap::new();
    loop {
        if opts.stop.load(Ordering::SeqCst) {
            return Ok(stats);
        }
        let mut did_any = false;
        for name in claim::ready(gate)? {
            if opts.stop.load(Ordering::SeqCst) {
                return Ok(stats);
            }
            if backoff
                .get(&name)
                .is_some_and(|t| t.elapsed() < RETRY_AFTER)
            {
                continue;
            }
            let aopts = AdmitOptions {
                verifier: opts.verifier,
                now: crate::util::now_secs(),
                consume_input: true,
                file_name: Some(name.clone()),
                cancel: Some(&opts.stop),
            };
            let res = match admit_intake(gate, policy, &name, &aopts) {
                Ok(None) => continue, // another watcher won it
                Ok(Some(r)) => Ok(r),
                Err(e) => Err(e),
            };
            did_any = true;
            on_result(&name, &res);
            match &res {
                Ok(r) => match r.disposition {
                    super::Disposition::Staged => stats.staged += 1,
                    super::Disposition::Quarantined => stats.quarantined += 1,
                },
                Err(GateError::Abandoned) => {
                    stats.abandoned += 1;
                    return Ok(stats);
                }
                Err(e) => {
                    stats.errors += 1;
                    if e.class() == ErrorClass::Config {
                        return Err(GateError::Config {
                            message: format!("stopping: {e}"),
                        });
                    }
                    backoff.insert(name.clone(), Instant::now());
                }
            }
        }
        if opts.once && !did_any {
            return Ok(stats);
        }
        if !did_any {
            wait(&rx, opts);
        }
    }
}

fn wait(rx: &std::sync::mpsc::Receiver<()>, opts: &WatchOptions<'_>) {
    let start = Instant::now();
    while start.elapsed() < opts.rescan {
        if opts.stop.load(Ordering::SeqCst) {
            return;
        }
        match rx.recv_timeout(POLL) {
            Ok(()) => {
                // let a burst of events settle, then rescan once
                while rx.recv_timeout(Duration::from_millis(20)).is_ok() {}
                return;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(POLL);
            }
        }
    }
}

fn start_notify(
    gate: &Gate,
    tx: std::sync::mpsc::Sender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if ev.is_ok() {
            let _ = tx.send(());
        }
    })
    .ok()?;
    w.watch(&gate.intake(), RecursiveMode::NonRecursive).ok()?;
    Some(w)
}
