//! What a new run lost against its base: a row or backend it no longer measures, successful
//! calls, or calls that now fail. Each loss fails `compare` and `gate` whatever the latencies
//! say: a run whose calls all raised has no latency to be slow with, and is the worst of all.

use std::fmt;

/// Calls of one row (or one backend, over its rows) in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Measured calls that succeeded: the samples.
    pub ok: u64,
    /// Failed calls of any phase (measured, cold start, warm-up).
    pub errors: u64,
    /// Measured calls the run planned; a run with a minimum time makes more, as many as fit,
    /// so a new run owes only the base's plan. `None` (older files): every call was planned.
    pub planned: Option<u64>,
}

/// One reason a new run is worse than its base, whatever its speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// The base measured it, the new run did not.
    Missing,
    /// The new run has no successful call of it.
    NoSamples,
    /// Fewer successful calls than the base.
    FewerCalls { base: u64, new: u64 },
    /// More failed calls than the base.
    MoreErrors { base: u64, new: u64 },
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::Missing => write!(f, "missing in NEW"),
            Loss::NoSamples => write!(f, "no successful call"),
            Loss::FewerCalls { base, new } => write!(f, "fewer calls {base} → {new}"),
            Loss::MoreErrors { base, new } => write!(f, "errors {base} → {new}"),
        }
    }
}

/// What `new` lost against `base`; `None` for `new` means it was not measured at all.
pub fn losses(base: Tally, new: Option<Tally>) -> Vec<Loss> {
    let Some(new) = new else {
        return vec![Loss::Missing];
    };
    let mut out = Vec::new();
    if new.ok == 0 {
        out.push(Loss::NoSamples);
    } else {
        // What the base planned and got: calls it made beyond its plan are not owed.
        let owed = base.planned.map_or(base.ok, |p| p.min(base.ok));
        if new.ok < owed {
            out.push(Loss::FewerCalls {
                base: owed,
                new: new.ok,
            });
        }
    }
    if new.errors > base.errors {
        out.push(Loss::MoreErrors {
            base: base.errors,
            new: new.errors,
        });
    }
    out
}

/// The losses as one short phrase: `no successful call, errors 0 → 53`.
pub fn describe(losses: &[Loss]) -> String {
    losses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(ok: u64, errors: u64) -> Tally {
        Tally {
            ok,
            errors,
            planned: None,
        }
    }

    #[test]
    fn calls_beyond_the_plan_may_vary_but_not_fall_short_of_it() {
        let planned = |ok: u64, planned: u64| Tally {
            ok,
            errors: 0,
            planned: Some(planned),
        };
        // A minimum time made 2,631 calls, then 2,337: as many as fit, none lost.
        assert_eq!(losses(planned(2631, 50), Some(planned(2337, 50))), vec![]);
        // Fewer than the base's plan: lost, and said against that plan.
        assert_eq!(
            losses(planned(2631, 50), Some(planned(40, 50))),
            vec![Loss::FewerCalls { base: 50, new: 40 }]
        );
        // A smaller run (its own plan 10) still owes the base's 50.
        assert_eq!(losses(planned(2631, 50), Some(planned(2000, 10))), vec![]);
        assert_eq!(
            losses(planned(2631, 50), Some(planned(10, 10))),
            vec![Loss::FewerCalls { base: 50, new: 10 }]
        );
        // A base that made fewer than its plan sets the bar there.
        assert_eq!(losses(planned(30, 50), Some(planned(35, 50))), vec![]);
    }

    #[test]
    fn the_same_or_more_successful_calls_and_no_more_errors_lose_nothing() {
        assert_eq!(losses(tally(50, 0), Some(tally(50, 0))), vec![]);
        assert_eq!(losses(tally(50, 2), Some(tally(60, 1))), vec![]);
    }

    #[test]
    fn each_kind_of_loss_is_named() {
        assert_eq!(losses(tally(50, 0), None), vec![Loss::Missing]);
        assert_eq!(
            losses(tally(50, 0), Some(tally(0, 53))),
            vec![Loss::NoSamples, Loss::MoreErrors { base: 0, new: 53 }]
        );
        assert_eq!(
            losses(tally(50, 0), Some(tally(47, 0))),
            vec![Loss::FewerCalls { base: 50, new: 47 }]
        );
        // A base without samples does not excuse a new run without any.
        assert_eq!(
            losses(tally(0, 5), Some(tally(0, 5))),
            vec![Loss::NoSamples]
        );
        assert_eq!(
            describe(&losses(tally(50, 0), Some(tally(0, 53)))),
            "no successful call, errors 0 → 53"
        );
    }
}
