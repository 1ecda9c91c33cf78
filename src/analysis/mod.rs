//! Analysis of saved runs: bootstrap confidence intervals from stored histograms, a row-by-row
//! comparison of two runs, and the gate that checks a backend kept its speed-up over a reference;
//! both fail a run that lost rows, backends or calls (`losses`).

pub mod bootstrap;
pub mod compare_rows;
pub mod losses;
pub mod speedup_gate;
