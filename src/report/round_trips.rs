//! Round trips per call and the latency model built on them: at a network round-trip time r a
//! call would take its measured p50 plus one r per counted round trip. A model, not a
//! measurement: the tables and the plot say so, and `model_check_table` sets it against a run
//! whose relays really held each round trip.

use super::format_us;
use super::model::{Cell, Mark, Table};
use crate::netcount::{self, Path, TABLE_RTTS_MS};
use crate::results::{BenchmarkResults, Entry};

/// The caption every rendering of the model carries.
pub const CAPTION: &str = "Engine round trips per measured call, counted by a relay; p50 at a network RTT r \
     is a model: measured p50 + round trips × r (bandwidth and TCP/TLS handshakes left out)";

/// Round trips per call, as a figure: whole numbers bare, means to one decimal.
fn count(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Bytes as B, KiB or MiB.
fn bytes(v: f64) -> String {
    match v {
        v if v < 1024.0 => format!("{v:.0} B"),
        v if v < 1024.0 * 1024.0 => format!("{:.1} KiB", v / 1024.0),
        v => format!("{:.1} MiB", v / 1024.0 / 1024.0),
    }
}

/// The p50 the model predicts at `rtt_ms` for an entry, in µs, when both are known.
pub fn predicted_us(entry: &Entry, rtt_ms: f64) -> Option<f64> {
    let network = entry.network.as_ref()?;
    let p50_ms = entry.latency_us.as_ref()?.p50 / 1000.0;
    Some(netcount::model_ms(p50_ms, network.round_trips_per_call, rtt_ms) * 1000.0)
}

/// The round-trip table of a run that counted them; `None` otherwise.
pub fn round_trip_table(results: &BenchmarkResults) -> Option<Table> {
    results.settings.round_trips?;
    let at: Vec<String> = TABLE_RTTS_MS[1..]
        .iter()
        .map(|r| format!("@{r:.0} ms"))
        .collect();
    let mut headers = vec!["Backend", "Workload", "Conns", "RTs", "Up", "Down", "p50"];
    headers.extend(at.iter().map(String::as_str));
    let mut table = Table::with_headers(&headers, 2);
    for e in &results.results {
        let mut row: Vec<Cell> = vec![e.backend.clone().into(), e.workload.clone().into()];
        match &e.network {
            None => {
                row.extend(["–".into(), "–".into()]);
                row.push(Cell::marked("not counted", Mark::Warn));
            }
            Some(n) if n.path == Path::NoEngine => {
                row.extend(["0".into(), "0".into(), "no engine".into()]);
            }
            Some(n) => {
                row.push(count(n.connections_per_call).into());
                row.push(count(n.round_trips_per_call).into());
                row.push(bytes(n.bytes_up_per_call).into());
                row.push(bytes(n.bytes_down_per_call).into());
            }
        }
        while row.len() < 6 {
            row.push("".into());
        }
        for r in TABLE_RTTS_MS {
            row.push(
                predicted_us(e, r)
                    .map_or_else(|| "–".into(), format_us)
                    .into(),
            );
        }
        table.push(row);
    }
    Some(table)
}

/// One row per backend × workload measured in both runs: the model from `base` (no added
/// delay) at `new`'s added RTT against what `new` measured; the error in %.
pub fn model_check_table(base: &BenchmarkResults, new: &BenchmarkResults) -> Option<Table> {
    let rtt_ms = new.settings.round_trips?.added_rtt_ms;
    let mut table = Table::with_headers(
        &[
            "Backend",
            "Workload",
            "RTs",
            "p50 base",
            "Predicted",
            "Measured",
            "Error",
        ],
        2,
    );
    for e in &new.results {
        let Some(b) = base
            .results
            .iter()
            .find(|b| b.backend == e.backend && b.workload == e.workload)
        else {
            continue;
        };
        let (Some(predicted), Some(measured)) = (
            predicted_us(b, rtt_ms),
            e.latency_us.as_ref().map(|l| l.p50),
        ) else {
            continue;
        };
        let rts = b.network.map_or(0.0, |n| n.round_trips_per_call);
        let error = (predicted - measured) / measured * 100.0;
        table.push([
            e.backend.clone(),
            e.workload.clone(),
            count(rts),
            b.latency_us
                .as_ref()
                .map_or_else(String::new, |l| format_us(l.p50)),
            format_us(predicted),
            format_us(measured),
            format!("{error:+.1} %"),
        ]);
    }
    Some(table)
}

/// The model's lines for the HTML plot: one per counted backend × workload, (RTT ms, µs)
/// from 0 to 50 ms.
pub fn model_lines(results: &BenchmarkResults) -> Vec<(String, Vec<(f64, f64)>)> {
    if results.settings.round_trips.is_none() {
        return Vec::new();
    }
    let several = results.settings.workloads.len() > 1;
    results
        .results
        .iter()
        .filter_map(|e| {
            // Every millisecond: a straight line on a linear scale bends on the log one.
            let points: Option<Vec<(f64, f64)>> = (0..=50)
                .map(|r| Some((f64::from(r), predicted_us(e, f64::from(r))?)))
                .collect();
            let name = if several {
                format!("{} · {}", e.backend, e.workload)
            } else {
                e.backend.clone()
            };
            Some((name, points?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::synthetic::{results, row};
    use crate::results::{Network, RoundTripSettings};

    /// A counted run: per-call at 100 ms with 8 round trips, persistent at 200 µs with 1, a
    /// local backend and an MCP server, with `added_ms` of added RTT.
    fn counted(per_call_us: u64, persistent_us: u64, added_ms: f64) -> BenchmarkResults {
        let mut r = results(
            "docker:per-call",
            &[
                row("docker:per-call", "w", per_call_us, 10),
                row("docker:persistent", "w", persistent_us, 10),
                row("local:persistent", "w", 30, 10),
                row("mcp:x", "w", 900, 10),
            ],
        );
        r.settings.round_trips = Some(RoundTripSettings {
            added_rtt_ms: added_ms,
        });
        let net = |path, rts, conns| Network {
            path,
            round_trips_per_call: rts,
            connections_per_call: conns,
            bytes_up_per_call: 27318.0,
            bytes_down_per_call: 700.0,
        };
        r.results[0].network = Some(net(Path::Relay, 8.0, 2.0));
        r.results[1].network = Some(net(Path::Relay, 1.0, 0.0));
        r.results[2].network = Some(Network {
            bytes_up_per_call: 0.0,
            bytes_down_per_call: 0.0,
            ..net(Path::NoEngine, 0.0, 0.0)
        });
        r
    }

    #[test]
    fn the_table_adds_one_rtt_per_round_trip_and_says_what_is_not_counted() {
        let t = round_trip_table(&counted(100_000, 200, 0.0)).expect("counted");
        let cell = |row: usize, h: &str| t.cell(row, h).map(|c| c.text.clone()).unwrap_or_default();
        assert_eq!(cell(0, "RTs"), "8");
        assert_eq!(cell(0, "Up"), "26.7 KiB");
        assert_eq!(cell(0, "@10 ms"), "180 ms");
        assert_eq!(cell(1, "@50 ms"), "50.2 ms");
        assert_eq!(
            (cell(2, "RTs"), cell(2, "Up")),
            ("0".into(), "no engine".into())
        );
        assert_eq!(cell(2, "@50 ms"), cell(2, "p50"));
        assert_eq!(cell(3, "Up"), "not counted");
        assert_eq!(cell(3, "@1 ms"), "–");
        let mut plain = counted(100_000, 200, 0.0);
        plain.settings.round_trips = None;
        assert!(round_trip_table(&plain).is_none());
    }

    #[test]
    fn the_check_sets_the_prediction_against_the_delayed_run() {
        let base = counted(100_000, 200, 0.0);
        // With 10 ms held per round trip: per-call took 190 ms, persistent 10.2 ms.
        let delayed = counted(190_000, 10_200, 10.0);
        let t = model_check_table(&base, &delayed).expect("a delayed run");
        let cell = |row: usize, h: &str| t.cell(row, h).map(|c| c.text.clone()).unwrap_or_default();
        assert_eq!(cell(0, "Predicted"), "180 ms");
        assert_eq!(cell(0, "Measured"), "190 ms");
        assert_eq!(cell(0, "Error"), "-5.3 %");
        // 10.2 ms measured against 200 µs + 10 ms: the histogram's 3 digits leave -0.1 %.
        assert_eq!(cell(1, "Error"), "-0.1 %");
        assert_eq!(t.rows.len(), 3, "the MCP row has no prediction");
    }

    #[test]
    fn the_plot_has_a_line_per_counted_row() {
        let lines = model_lines(&counted(100_000, 200, 0.0));
        let names: Vec<&str> = lines.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["docker:per-call", "docker:persistent", "local:persistent"]
        );
        let (rtt, us) = lines[0].1.last().copied().unwrap_or_default();
        assert_eq!(rtt, 50.0);
        assert!((us - 500_000.0).abs() < 100.0, "100 ms + 8 × 50 ms: {us}");
    }

    #[test]
    fn counts_and_bytes_read_well() {
        assert_eq!(count(8.0), "8");
        assert_eq!(count(5.2), "5.2");
        assert_eq!(bytes(76.4), "76 B");
        assert_eq!(bytes(27318.0), "26.7 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
    }
}
