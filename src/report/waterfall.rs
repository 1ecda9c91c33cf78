//! Where the time of a per-call backend goes: with the per-call backends of several layers in
//! one run (Compose CLI → Docker CLI → Engine API → the host's own interpreter), each layer's
//! cost is the p50 difference to the next layer down, ending in the agent's own exec time.
//! Podman's per-call backends make a second waterfall: its own CLI (`podman exec -i`, the cmd
//! prefix) over its Engine API.

use comfy_table::Table;

use super::format_us;
use crate::bench::stats;
use crate::results::{BenchmarkResults, Entry};

/// The per-call layers from the outermost in, and what dropping each one takes away.
const LAYERS: [(&str, &str); 4] = [
    ("compose:per-call", "Compose CLI"),
    ("docker:per-call", "Docker CLI"),
    ("api:per-call", "Engine API + container exec"),
    ("local:per-call", "interpreter start + framing"),
];

/// The same on Podman: Compose and the Docker CLI reach it through its socket, its own CLI
/// does not (`podman exec` runs the exec itself), so the CLI layer is Podman's.
const PODMAN_LAYERS: [(&str, &str); 4] = [
    (
        "compose@podman:per-call",
        "Compose CLI + Podman service, not Podman CLI",
    ),
    ("cmd@podman:per-call", "Podman CLI (podman exec -i)"),
    ("api@podman:per-call", "Engine API + container exec"),
    ("local:per-call", "interpreter start + framing"),
];

/// One layer's latency figures, in µs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
}

/// One row of the waterfall: a backend's total and what separates it from the next one down.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub total: Level,
    /// What the difference to the next step is made of.
    pub cost_of: String,
    pub cost_us: f64,
}

/// The waterfall of one workload from its layers' levels (in [`LAYERS`] order, `None` where the
/// run did not have that backend) and the innermost layer's exec time. `None` below two layers.
pub fn steps(levels: &[Option<Level>; 4], exec: Option<Level>) -> Option<Vec<Step>> {
    steps_of(&LAYERS, levels, exec)
}

/// `steps` over the layers of one engine.
fn steps_of(
    layers: &[(&str, &str); 4],
    levels: &[Option<Level>; 4],
    exec: Option<Level>,
) -> Option<Vec<Step>> {
    let present: Vec<usize> = (0..layers.len()).filter(|&i| levels[i].is_some()).collect();
    if present.len() < 2 {
        return None;
    }
    let mut out = Vec::new();
    for (k, &i) in present.iter().enumerate() {
        let total = levels[i]?;
        let (next_p50, until) = match present.get(k + 1) {
            Some(&j) => (levels[j]?.p50, j),
            // The innermost layer's rest is everything but the agent's own exec time.
            None => (exec.map_or(0.0, |e| e.p50), layers.len()),
        };
        let cost_of: Vec<&str> = layers[i..until].iter().map(|l| l.1).collect();
        let mut cost_of = cost_of.join(" + ");
        if until == layers.len() && i + 1 < layers.len() {
            // An innermost layer above local also holds the interpreter start.
            cost_of = format!("{} + interpreter start + framing", layers[i].1);
        }
        out.push(Step {
            name: layers[i].0.to_string(),
            total,
            cost_of,
            cost_us: total.p50 - next_p50,
        });
    }
    if let Some(exec) = exec {
        out.push(Step {
            name: "exec (agent-reported)".into(),
            total: exec,
            cost_of: "running the code".into(),
            cost_us: exec.p50,
        });
    }
    Some(out)
}

fn level(histogram: &str) -> Option<Level> {
    let h = stats::decode(histogram).ok()?;
    if h.is_empty() {
        return None;
    }
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Some(Level {
        p25: us(0.25),
        p50: us(0.50),
        p75: us(0.75),
    })
}

fn exec_level(e: &Entry) -> Option<Level> {
    match &e.exec_histogram {
        Some(h) => level(h),
        None => e.exec_us.as_ref().map(|s| Level {
            p25: s.p50,
            p50: s.p50,
            p75: s.p50,
        }),
    }
}

/// The waterfall table, when the run measured per-call backends of at least two layers.
pub fn waterfall_table(results: &BenchmarkResults) -> Option<Table> {
    let mut table = Table::new();
    table
        .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(vec![
            "Workload",
            "Layer",
            "p50 [p25–p75]",
            "Cost to the next layer",
            "Made of",
        ]);
    let mut any = false;
    for (layers, workload) in [LAYERS, PODMAN_LAYERS]
        .iter()
        .flat_map(|l| results.settings.workloads.iter().map(move |w| (l, w)))
    {
        let find = |backend: &str| {
            results
                .results
                .iter()
                .find(|e| e.backend == backend && &e.workload == workload)
        };
        let levels = layers.map(|(b, _)| find(b).and_then(|e| level(&e.histogram)));
        let innermost = layers
            .iter()
            .rev()
            .find_map(|(b, _)| find(b).filter(|e| level(&e.histogram).is_some()));
        let Some(rows) = steps_of(layers, &levels, innermost.and_then(exec_level)) else {
            continue;
        };
        any = true;
        for s in rows {
            table.add_row(vec![
                workload.clone(),
                s.name,
                format!(
                    "{} [{}–{}]",
                    format_us(s.total.p50),
                    format_us(s.total.p25),
                    format_us(s.total.p75)
                ),
                signed_us(s.cost_us),
                s.cost_of,
            ]);
        }
    }
    any.then_some(table)
}

/// A cost that noise can make negative (a layer measured slower than the one it wraps).
fn signed_us(us: f64) -> String {
    if us < 0.0 {
        format!("−{} (noise)", format_us(-us))
    } else {
        format_us(us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p50: f64) -> Option<Level> {
        Some(Level {
            p25: p50 - 1.0,
            p50,
            p75: p50 + 1.0,
        })
    }

    #[test]
    fn each_layer_costs_its_difference_to_the_next() {
        let levels = [at(250_000.0), at(180_000.0), None, at(40_000.0)];
        let rows = steps(&levels, at(30.0)).unwrap();
        let costs: Vec<(&str, f64)> = rows.iter().map(|s| (s.name.as_str(), s.cost_us)).collect();
        assert_eq!(
            costs,
            [
                ("compose:per-call", 70_000.0),
                ("docker:per-call", 140_000.0),
                ("local:per-call", 39_970.0),
                ("exec (agent-reported)", 30.0),
            ]
        );
        assert_eq!(rows[1].cost_of, "Docker CLI + Engine API + container exec");
        assert_eq!(rows[2].cost_of, "interpreter start + framing");
        // The costs add up to the outermost total.
        let sum: f64 = rows.iter().map(|s| s.cost_us).sum();
        assert_eq!(sum, 250_000.0);
    }

    #[test]
    fn an_innermost_layer_in_the_sandbox_holds_the_interpreter_start() {
        let rows = steps(&[at(250_000.0), at(180_000.0), None, None], at(30.0)).unwrap();
        assert_eq!(rows[1].cost_of, "Docker CLI + interpreter start + framing");
        assert_eq!(rows[1].cost_us, 179_970.0);
    }

    #[test]
    fn negative_costs_are_shown_as_noise() {
        assert_eq!(signed_us(-3670.0), "−3.67 ms (noise)");
        assert_eq!(signed_us(1500.0), "1.50 ms");
    }

    #[test]
    fn podman_layers_put_its_cli_over_its_api() {
        let rows = steps_of(
            &PODMAN_LAYERS,
            &[None, at(500.0), at(300.0), None],
            at(30.0),
        )
        .unwrap();
        assert_eq!(rows[0].name, "cmd@podman:per-call");
        assert_eq!(
            (rows[0].cost_of.as_str(), rows[0].cost_us),
            ("Podman CLI (podman exec -i)", 200.0)
        );
        assert_eq!(
            rows[1].cost_of,
            "Engine API + container exec + interpreter start + framing"
        );
    }

    #[test]
    fn one_layer_makes_no_waterfall() {
        assert_eq!(steps(&[None, None, None, at(40_000.0)], at(30.0)), None);
    }
}
