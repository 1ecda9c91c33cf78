//! Network round trips per call, counted: a relay between the harness's engine clients (the
//! `docker` CLI, Compose, bollard) and the engine, which forwards byte streams unchanged and
//! counts connections, bytes each way and request/response exchanges ([`turns`]); optionally
//! it delays each exchange, to check the latency model against a real added delay ([`relay`]).

pub mod relay;
pub mod turns;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use relay::{Relay, Upstream};

/// What went through a relay, from its start or between two readings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub connections: u64,
    pub round_trips: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

impl Counts {
    /// What was added since `earlier`.
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            connections: self.connections.saturating_sub(earlier.connections),
            round_trips: self.round_trips.saturating_sub(earlier.round_trips),
            bytes_up: self.bytes_up.saturating_sub(earlier.bytes_up),
            bytes_down: self.bytes_down.saturating_sub(earlier.bytes_down),
        }
    }

    /// The sum of two counts.
    pub fn plus(self, other: Counts) -> Counts {
        Counts {
            connections: self.connections + other.connections,
            round_trips: self.round_trips + other.round_trips,
            bytes_up: self.bytes_up + other.bytes_up,
            bytes_down: self.bytes_down + other.bytes_down,
        }
    }
}

/// A relay's running totals, shared by its connections.
#[derive(Debug, Default)]
pub struct Meter {
    connections: AtomicU64,
    round_trips: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

impl Meter {
    /// The totals so far.
    pub fn counts(&self) -> Counts {
        Counts {
            connections: self.connections.load(Ordering::SeqCst),
            round_trips: self.round_trips.load(Ordering::SeqCst),
            bytes_up: self.bytes_up.load(Ordering::SeqCst),
            bytes_down: self.bytes_down.load(Ordering::SeqCst),
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::SeqCst);
    }
}

/// `run --count-round-trips`: every engine backend's traffic through a relay of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counting {
    /// `--added-rtt`: how long each round trip is held (zero: none).
    pub added_rtt: Duration,
}

/// How a backend's network traffic is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Path {
    /// Counted by a relay between the harness and the engine.
    Relay,
    /// No engine between the harness and the interpreter (`local`, `bwrap`): nothing to count.
    NoEngine,
}

/// What a backend's calls are counted by, when round trips are counted.
#[derive(Clone)]
pub enum Tap {
    Relay(Arc<Relay>),
    NoEngine,
}

impl Tap {
    /// The totals so far (always zero without an engine).
    pub fn counts(&self) -> Counts {
        match self {
            Tap::Relay(relay) => relay.counts(),
            Tap::NoEngine => Counts::default(),
        }
    }

    pub fn path(&self) -> Path {
        match self {
            Tap::Relay(_) => Path::Relay,
            Tap::NoEngine => Path::NoEngine,
        }
    }
}

/// The latency the model predicts at a network round-trip time of `rtt_ms`: the measured
/// latency plus one RTT per counted round trip (bandwidth and handshakes left out).
pub fn model_ms(measured_ms: f64, round_trips: f64, rtt_ms: f64) -> f64 {
    measured_ms + round_trips * rtt_ms
}

/// The RTTs the model's table shows, in ms.
pub const TABLE_RTTS_MS: [f64; 4] = [0.0, 1.0, 10.0, 50.0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_subtract_and_add() {
        let a = Counts {
            connections: 2,
            round_trips: 9,
            bytes_up: 100,
            bytes_down: 300,
        };
        let b = Counts {
            connections: 5,
            round_trips: 17,
            bytes_up: 150,
            bytes_down: 700,
        };
        let d = b.since(a);
        assert_eq!(
            (d.connections, d.round_trips, d.bytes_up, d.bytes_down),
            (3, 8, 50, 400)
        );
        assert_eq!(a.plus(d), b);
    }

    #[test]
    fn the_model_adds_one_rtt_per_round_trip() {
        assert_eq!(model_ms(120.0, 8.0, 10.0), 200.0);
        assert_eq!(model_ms(0.2, 1.0, 0.0), 0.2);
    }
}
