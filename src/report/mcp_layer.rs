//! The MCP layer: what an MCP server adds on top of the executor its tool runs on. For each
//! `mcp:NAME` backend whose executor is known (`--mcp-over`, or read from the command of this
//! project's servers) and was measured in the same run, the layer is the server's latency minus
//! that executor's, per workload and on the empty-call floor, with a bootstrap interval so a
//! layer lost in noise says so.

use super::format_us;
use super::model::Table;
use crate::results::{BenchmarkResults, Entry};

/// The row name of the empty-call floor in the layer table.
pub const FLOOR: &str = "empty call (floor)";

/// One MCP server's layer on one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub workload: String,
    /// `mcp:NAME`.
    pub backend: String,
    /// `stdio` or `http`.
    pub transport: String,
    /// The executor's backend, e.g. `compose:persistent`.
    pub over: String,
    /// p50 of the server's calls and of the executor's, in µs.
    pub total_p50: f64,
    pub over_p50: f64,
    /// `total_p50 − over_p50`, and its 95 % interval; `None` when the samples do not allow one.
    pub layer_p50: f64,
    pub interval: Option<(f64, f64)>,
    /// p95 of both, in µs.
    pub total_p95: f64,
    pub over_p95: f64,
}

impl Layer {
    /// The layer's share of the server's p50.
    pub fn share(&self) -> f64 {
        self.layer_p50 / self.total_p50
    }

    /// Whether the interval holds zero: no layer can be told from noise.
    pub fn in_noise(&self) -> bool {
        self.interval
            .is_some_and(|(low, high)| low <= 0.0 && high >= 0.0)
    }
}

/// The layers of every MCP server with a known executor in the run, floor first, then per
/// workload in the run's order.
pub fn layers(results: &BenchmarkResults) -> Vec<Layer> {
    let mut out = Vec::new();
    for server in &results.settings.mcp {
        let Some(over) = &server.over else { continue };
        let backend = format!("mcp:{}", server.name);
        let pick = |entries: &[Entry], b: &str, w: Option<&str>| -> Option<Entry> {
            entries
                .iter()
                .find(|e| e.backend == b && w.is_none_or(|w| e.workload == w))
                .filter(|e| e.latency_us.is_some())
                .cloned()
        };
        let mut pairs = vec![(
            FLOOR.to_string(),
            pick(&results.calibration, &backend, None),
            pick(&results.calibration, over, None),
        )];
        for w in &results.settings.workloads {
            pairs.push((
                w.clone(),
                pick(&results.results, &backend, Some(w)),
                pick(&results.results, over, Some(w)),
            ));
        }
        for (workload, mcp, inner) in pairs {
            let (Some(mcp), Some(inner)) = (mcp, inner) else {
                continue;
            };
            out.push(layer(
                workload,
                &backend,
                &server.transport,
                over,
                &mcp,
                &inner,
            ));
        }
    }
    out
}

fn layer(
    workload: String,
    backend: &str,
    transport: &str,
    over: &str,
    mcp: &Entry,
    inner: &Entry,
) -> Layer {
    let (Some(m), Some(i)) = (&mcp.latency_us, &inner.latency_us) else {
        unreachable!("only entries with latencies are paired")
    };
    // The change's interval is relative to the executor's p50: scaled back to µs.
    let interval = super::table::p50_change(inner, mcp)
        .map(|c| (c.low * c.base / 1000.0, c.high * c.base / 1000.0));
    Layer {
        workload,
        backend: backend.to_string(),
        transport: transport.to_string(),
        over: over.to_string(),
        total_p50: m.p50,
        over_p50: i.p50,
        layer_p50: m.p50 - i.p50,
        interval,
        total_p95: m.p95,
        over_p95: i.p95,
    }
}

/// The layer table: one row per MCP server × workload (the floor first).
pub fn layer_table(results: &BenchmarkResults) -> Option<Table> {
    let layers = layers(results);
    if layers.is_empty() {
        return None;
    }
    let mut table = Table::with_headers(
        &[
            "Backend",
            "Workload",
            "Over",
            "p50",
            "Over p50",
            "MCP layer p50",
            "Share",
            "Layer p95",
        ],
        3,
    );
    for l in layers {
        let (cost, share) = if l.in_noise() {
            ("in noise".to_string(), "–".to_string())
        } else {
            (
                super::waterfall::signed_us(l.layer_p50),
                format!("{:.0} %", l.share() * 100.0),
            )
        };
        table.push([
            format!("{} ({})", l.backend, l.transport),
            l.workload.clone(),
            l.over.clone(),
            format_us(l.total_p50),
            format_us(l.over_p50),
            cost,
            share,
            super::waterfall::signed_us(l.total_p95 - l.over_p95),
        ]);
    }
    Some(table)
}

/// One sentence per server on its floor: what its layer costs against the executor.
pub fn summary_lines(results: &BenchmarkResults) -> Vec<String> {
    layers(results)
        .into_iter()
        .filter(|l| l.workload == FLOOR && !l.in_noise())
        .map(|l| {
            format!(
                "{} ({}): the MCP layer costs {} of its {} empty call ({:.0} %), over {} at {}",
                l.backend,
                l.transport,
                format_us(l.layer_p50),
                format_us(l.total_p50),
                l.share() * 100.0,
                l.over,
                format_us(l.over_p50)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::synthetic::{self, Row};

    /// 200 calls spread evenly over `base .. base + width` µs.
    fn spread<'a>(backend: &'a str, workload: &'a str, base: u64, width: u64) -> Row<'a> {
        Row {
            backend,
            workload,
            latencies_us: (0..200).map(|i| base + (i * 37) % width).collect(),
            errors: 0,
        }
    }

    fn results(over: Option<&str>) -> BenchmarkResults {
        let mut r = synthetic::results(
            "compose:persistent",
            &[
                spread("mcp:sdk", "simple_calc", 2_100, 400),
                spread("compose:persistent", "simple_calc", 2_095, 400),
                spread("mcp:sdk", "empty", 2_000, 20),
                spread("compose:persistent", "empty", 300, 20),
            ],
        );
        // The empty calls are the floor, not a workload.
        r.calibration = r.results.split_off(2);
        r.settings.workloads.retain(|w| w != "empty");
        r.settings.mcp = vec![synthetic::mcp_server("sdk", over)];
        r
    }

    #[test]
    fn the_layer_is_the_servers_latency_minus_its_executors() {
        let r = results(Some("compose:persistent"));
        let layers = layers(&r);
        assert_eq!(layers.len(), 2);
        let floor = &layers[0];
        assert_eq!(floor.workload, FLOOR);
        assert!((floor.layer_p50 - 1700.0).abs() < 5.0, "{floor:?}");
        assert!((floor.share() - 0.85).abs() < 0.01);
        assert!(!floor.in_noise());
        let (low, high) = floor.interval.unwrap();
        assert!(low > 1600.0 && high < 1800.0, "{low}–{high}");
        // 5 µs on 2 ms, with calls spread over 400 µs: not a layer anyone can tell.
        assert!(layers[1].in_noise(), "{:?}", layers[1]);
        let table = layer_table(&r).unwrap();
        let text = |row, header| table.cell(row, header).map(|c| c.text.as_str());
        assert_eq!(text(0, "Backend"), Some("mcp:sdk (stdio)"));
        assert_eq!(text(0, "Share"), Some("85 %"));
        assert_eq!(text(1, "MCP layer p50"), Some("in noise"));
        let lines = summary_lines(&r);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("over compose:persistent"), "{}", lines[0]);
    }

    #[test]
    fn no_layer_without_a_known_executor_in_the_run() {
        assert!(layers(&results(None)).is_empty());
        assert!(layer_table(&results(None)).is_none());
        assert!(layers(&results(Some("compose:fork"))).is_empty());
    }
}
