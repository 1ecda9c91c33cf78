//! Stopping a run from outside: Ctrl-C (SIGINT), SIGTERM (what CI systems send to cancel a job)
//! and SIGHUP (a closed terminal) all end it the same way: the calls stop, the partial results
//! are written with `complete: false`, the sandbox is swept, and the exit code is 128 + the
//! signal (130, 143, 129). A second signal ends the process at once, with its own exit code.
//! `faults`, `isolation` and `soak` stop the same way, between probes or calls; `serve` stops
//! serving, stops its agents and sweeps the sandbox.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tokio::sync::Notify;

/// Set once a stop signal arrived, with which one.
#[derive(Clone)]
pub struct Stop {
    pub flag: Arc<AtomicBool>,
    signal: Arc<AtomicI32>,
    /// Wakes an async waiter (`serve`'s loop) when the first signal arrives.
    arrived: Arc<Notify>,
}

impl Stop {
    /// Installs the handlers; without them (they could not be installed) the signals keep
    /// their default action.
    pub fn install() -> Stop {
        let stop = Stop {
            flag: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicI32::new(0)),
            arrived: Arc::new(Notify::new()),
        };
        if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            let seen = stop.clone();
            std::thread::spawn(move || {
                // This thread alone sets the flag: the signal is stored before it, so whoever
                // sees the flag reads the right exit code.
                for signal in signals.forever() {
                    if seen.flag.load(Ordering::SeqCst) {
                        std::process::exit(128 + signal);
                    }
                    seen.signal.store(signal, Ordering::SeqCst);
                    seen.flag.store(true, Ordering::SeqCst);
                    seen.arrived.notify_one();
                    eprintln!(
                        "{}: stopping once what is under way ends (a second signal stops at once)",
                        name(signal)
                    );
                }
            });
        }
        stop
    }

    /// Whether a stop signal arrived.
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves once a stop signal arrived (at once if one already did).
    pub async fn arrived(&self) {
        if !self.requested() {
            self.arrived.notified().await;
        }
    }

    /// The exit code for the signal that stopped the run, if one did.
    pub fn exit_code(&self) -> Option<u8> {
        if !self.flag.load(Ordering::SeqCst) {
            return None;
        }
        let signal = self.signal.load(Ordering::SeqCst);
        Some(u8::try_from(128 + signal).unwrap_or(130))
    }
}

/// A stop signal's name.
fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The exit of a command a signal stopped, its partial results written: says so, then 128 +
/// the signal.
pub fn interrupted(code: u8) -> ExitCode {
    eprintln!("interrupted: the results written hold what was measured so far (complete: false)");
    ExitCode::from(code)
}
