//! The machine's load during a run: a thread samples the 1-minute load average, so a run that
//! shared the CPU with other work can say so.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Samples `/proc/loadavg` until stopped.
pub struct LoadMonitor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<f64>,
}

/// The 1-minute load average now, where the system tells it.
pub fn load_now() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl LoadMonitor {
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut max = load_now().unwrap_or(0.0);
            while !flag.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(250));
                max = max.max(load_now().unwrap_or(0.0));
            }
            max
        });
        LoadMonitor { stop, thread }
    }

    /// Stops sampling; the highest load average seen.
    pub fn stop(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0.0)
    }
}
