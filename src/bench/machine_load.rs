//! The machine's load during a run: a thread samples the load average (`/proc/loadavg`) and
//! the CPU time counters (`/proc/stat`), so a run that shared the CPU with other work, or with
//! a virtual machine's neighbours (steal), can say so.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often the counters are read.
const PERIOD: Duration = Duration::from_millis(250);
/// Steal and busy shares are also taken over windows of this many periods (1 s).
const WINDOW: usize = 4;

/// What the machine did while a run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineSample {
    /// The highest 1-minute load average seen.
    pub load_max: f64,
    /// The mean of the 1-minute load averages seen.
    pub load_mean: f64,
    /// CPU time the hypervisor gave to other guests, in % of all CPU time of the run.
    pub steal_percent: f64,
    /// The worst 1 s window's steal, in %.
    pub steal_max_percent: f64,
    /// CPU time not idle (steal included), in % of all CPU time of the run.
    pub busy_percent: f64,
}

/// The aggregate CPU time counters of `/proc/stat`'s `cpu` line, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    pub total: u64,
    /// idle + iowait
    pub idle: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// Parses the first (`cpu `) line of `/proc/stat`.
    pub fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is
        // already counted in user and nice.
        let field = |i: usize| v.get(i).copied().unwrap_or(0);
        Some(CpuTimes {
            total: v.iter().take(8).sum(),
            idle: field(3) + field(4),
            steal: field(7),
        })
    }

    fn now() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// Steal and busy shares (0–1) of the CPU time between `self` and a later `after`.
    pub fn shares_until(self, after: CpuTimes) -> Option<(f64, f64)> {
        let total = after.total.checked_sub(self.total)? as f64;
        if total <= 0.0 {
            return None;
        }
        let steal = after.steal.saturating_sub(self.steal) as f64;
        let idle = after.idle.saturating_sub(self.idle) as f64;
        Some((steal / total, ((total - idle) / total).clamp(0.0, 1.0)))
    }
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

/// Samples `/proc/loadavg` and `/proc/stat` until stopped.
pub struct LoadMonitor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<MachineSample>,
}

impl LoadMonitor {
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut loads: Vec<f64> = load_now().into_iter().collect();
            let mut times: Vec<CpuTimes> = CpuTimes::now().into_iter().collect();
            while !flag.load(Ordering::Relaxed) {
                thread::sleep(PERIOD);
                loads.extend(load_now());
                times.extend(CpuTimes::now());
            }
            summarize(&loads, &times)
        });
        LoadMonitor { stop, thread }
    }

    /// Stops sampling; what the machine did meanwhile.
    pub fn stop(self) -> MachineSample {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The sample of a run from its load averages and CPU counters, in the order read.
pub fn summarize(loads: &[f64], times: &[CpuTimes]) -> MachineSample {
    let whole = match (times.first(), times.last()) {
        (Some(a), Some(b)) => a.shares_until(*b),
        _ => None,
    };
    let steal_max = times
        .windows(WINDOW + 1)
        .filter_map(|w| w[0].shares_until(w[WINDOW]))
        .map(|(steal, _)| steal)
        .fold(whole.map_or(0.0, |w| w.0), f64::max);
    MachineSample {
        load_max: loads.iter().copied().fold(0.0, f64::max),
        load_mean: if loads.is_empty() {
            0.0
        } else {
            loads.iter().sum::<f64>() / loads.len() as f64
        },
        steal_percent: whole.map_or(0.0, |w| w.0 * 100.0),
        steal_max_percent: steal_max * 100.0,
        busy_percent: whole.map_or(0.0, |w| w.1 * 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(total: u64, idle: u64, steal: u64) -> CpuTimes {
        CpuTimes { total, idle, steal }
    }

    #[test]
    fn the_cpu_line_is_read_with_steal_in_its_eighth_field() {
        let stat = "cpu  222113 0 38101 17974 383 0 145 423 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        let t = CpuTimes::parse(stat).unwrap();
        assert_eq!(
            t,
            at(222113 + 38101 + 17974 + 383 + 145 + 423, 17974 + 383, 423)
        );
        assert_eq!(CpuTimes::parse("intr 1 2"), None);
    }

    #[test]
    fn shares_come_from_the_difference_of_two_readings() {
        let (steal, busy) = at(1000, 500, 10).shares_until(at(1200, 550, 60)).unwrap();
        assert!((steal - 0.25).abs() < 1e-9, "{steal}");
        assert!((busy - 0.75).abs() < 1e-9, "{busy}");
        assert_eq!(at(5, 0, 0).shares_until(at(5, 0, 0)), None);
    }

    #[test]
    fn a_run_keeps_its_whole_share_and_its_worst_second() {
        // Five readings: steal only in the last second.
        let times = [
            at(0, 0, 0),
            at(100, 50, 0),
            at(200, 100, 0),
            at(300, 150, 0),
            at(400, 200, 0),
            at(500, 200, 100),
        ];
        let s = summarize(&[1.0, 3.0], &times);
        assert!((s.steal_percent - 20.0).abs() < 1e-9, "{s:?}");
        assert!((s.steal_max_percent - 25.0).abs() < 1e-9, "{s:?}");
        assert!((s.busy_percent - 60.0).abs() < 1e-9, "{s:?}");
        assert_eq!((s.load_max, s.load_mean), (3.0, 2.0));
    }
}
