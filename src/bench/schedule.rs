//! The order of calls. On a noisy machine one block per backend lets a slow minute land on one
//! side only; interleaved rounds give every backend × workload a slice of each round, in a
//! seeded shuffle, so drift hits them all alike.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// How the calls of the backend × workload pairs are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Every pair's calls in one block, pairs in the order given.
    Sequential,
    /// `rounds` rounds; each runs a slice of every pair, pairs shuffled with `seed`.
    Interleaved { seed: u64, rounds: usize },
}

impl Order {
    pub fn name(self) -> &'static str {
        match self {
            Order::Sequential => "sequential",
            Order::Interleaved { .. } => "interleaved",
        }
    }
}

/// A run of consecutive measured calls of one pair: calls `start .. start + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub pair: usize,
    pub start: usize,
    pub len: usize,
}

/// The slices to run, in order, for pairs with the given numbers of measured calls.
pub fn schedule(calls: &[usize], order: Order) -> Vec<Slice> {
    match order {
        Order::Sequential => calls
            .iter()
            .enumerate()
            .map(|(pair, &len)| Slice {
                pair,
                start: 0,
                len,
            })
            .collect(),
        Order::Interleaved { seed, rounds } => {
            let rounds = rounds.max(1);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut slices = Vec::new();
            let mut pairs: Vec<usize> = (0..calls.len()).collect();
            for round in 0..rounds {
                pairs.shuffle(&mut rng);
                for &pair in &pairs {
                    // Spread the calls evenly: this round's share is [n·r/R, n·(r+1)/R).
                    let n = calls[pair];
                    let (start, end) = (n * round / rounds, n * (round + 1) / rounds);
                    if end > start {
                        slices.push(Slice {
                            pair,
                            start,
                            len: end - start,
                        });
                    }
                }
            }
            slices
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(calls: &[usize], slices: &[Slice]) -> Vec<Vec<usize>> {
        let mut seen = vec![Vec::new(); calls.len()];
        for s in slices {
            seen[s.pair].extend(s.start..s.start + s.len);
        }
        seen
    }

    #[test]
    fn every_call_runs_exactly_once_in_order_per_pair() {
        let calls = [50, 30, 7, 1];
        for order in [
            Order::Sequential,
            Order::Interleaved {
                seed: 9,
                rounds: 10,
            },
        ] {
            let seen = covered(&calls, &schedule(&calls, order));
            for (pair, &n) in calls.iter().enumerate() {
                assert_eq!(
                    seen[pair],
                    (0..n).collect::<Vec<_>>(),
                    "{order:?} pair {pair}"
                );
            }
        }
    }

    #[test]
    fn the_seed_reproduces_the_order_and_another_seed_changes_it() {
        let calls = [20; 6];
        let a = schedule(
            &calls,
            Order::Interleaved {
                seed: 42,
                rounds: 5,
            },
        );
        let b = schedule(
            &calls,
            Order::Interleaved {
                seed: 42,
                rounds: 5,
            },
        );
        let c = schedule(
            &calls,
            Order::Interleaved {
                seed: 43,
                rounds: 5,
            },
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn each_round_holds_a_slice_of_every_pair() {
        let calls = [10, 10, 10];
        let slices = schedule(&calls, Order::Interleaved { seed: 1, rounds: 5 });
        assert_eq!(slices.len(), 15);
        for round in slices.chunks(3) {
            let mut pairs: Vec<usize> = round.iter().map(|s| s.pair).collect();
            pairs.sort();
            assert_eq!(pairs, [0, 1, 2]);
            assert!(round.iter().all(|s| s.len == 2));
        }
    }

    #[test]
    fn sequential_is_one_block_per_pair_in_the_given_order() {
        let slices = schedule(&[3, 2], Order::Sequential);
        assert_eq!(
            slices,
            [
                Slice {
                    pair: 0,
                    start: 0,
                    len: 3
                },
                Slice {
                    pair: 1,
                    start: 0,
                    len: 2
                }
            ]
        );
    }
}
