//! Inline SVG charts for the HTML report, written by hand so the report needs no script and no
//! network: a latency percentile spectrum and a bar chart, both on log scales.

use super::format_us;

/// Line and bar colours, one per backend in order.
pub const PALETTE: [&str; 6] = [
    "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

const W: f64 = 620.0;
const H: f64 = 340.0;
const LEFT: f64 = 74.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 46.0;

/// One backend's line: (quantile, latency in µs) points, quantiles rising, the last may be 1.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A power of ten in µs as a short label: `10 µs`, `1 ms`, `100 ms`, `1 s`.
fn decade_label(exponent: i32) -> String {
    match exponent {
        e if e < 3 => format!("{} µs", 10u64.pow(e.max(0) as u32)),
        e if e < 6 => format!("{} ms", 10u64.pow((e - 3) as u32)),
        e => format!("{} s", 10u64.pow((e - 6) as u32)),
    }
}

/// Decades spanning `[lo, hi]` (both > 0): (first exponent, last exponent).
fn decades(lo: f64, hi: f64) -> (i32, i32) {
    let a = lo.log10().floor() as i32;
    let b = (hi.log10().ceil() as i32).max(a + 1);
    (a, b)
}

/// Percentile spectrum: x is 1/(1−q) on a log scale (0 %, 90 %, 99 %, …), y is latency on a
/// log scale; the maximum (q = 1) is drawn at the right edge.
pub fn spectrum(title: &str, series: &[Series]) -> String {
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    if hi <= 0.0 {
        return String::new();
    }
    let (y0, y1) = decades(lo, hi);
    let nines = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0 < 1.0)
        .map(|p| (1.0 / (1.0 - p.0)).log10())
        .fold(1.0f64, f64::max)
        .ceil()
        .max(1.0);
    // The legend takes a line per backend above the plot, where it covers no line.
    let top = TOP + 16.0 * series.len() as f64;
    let height = H + top - TOP;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |q: f64| {
        let d = if q >= 1.0 {
            nines
        } else {
            (1.0 / (1.0 - q)).log10().min(nines)
        };
        LEFT + d / nines * pw
    };
    let y = |us: f64| top + ph - (us.log10() - f64::from(y0)) / f64::from(y1 - y0) * ph;
    let mut out = open_sized(title, height);
    for e in y0..=y1 {
        let yy = y(10f64.powi(e));
        out.push_str(&grid_line(LEFT, yy, LEFT + pw, yy));
        out.push_str(&text(LEFT - 6.0, yy + 4.0, "end", &decade_label(e)));
    }
    for k in 0..=(nines as i32) {
        let xx = LEFT + f64::from(k) / nines * pw;
        out.push_str(&grid_line(xx, top, xx, top + ph));
        let label = if k == 0 {
            "0 %".to_string()
        } else {
            format!("{} %", 100.0 - 100.0 / 10f64.powi(k))
        };
        out.push_str(&text(xx, top + ph + 16.0, "middle", &label));
    }
    out.push_str(&text(
        LEFT + pw / 2.0,
        height - 8.0,
        "middle",
        "percentile (log scale of 1/(1−q))",
    ));
    out.push_str(&format!(
        "<text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">latency (log scale)</text>",
        top + ph / 2.0
    ));
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pts: Vec<String> = s
            .points
            .iter()
            .filter(|p| p.1 > 0.0)
            .map(|&(q, v)| format!("{:.1},{:.1}", x(q), y(v)))
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        ));
        let ly = TOP + 4.0 + 16.0 * i as f64;
        out.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{colour}\"/>",
            LEFT + 10.0,
            ly - 5.0
        ));
        out.push_str(&text(LEFT + 30.0, ly, "start", &s.name));
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars of one figure per backend (µs), on a log scale, each labelled with its value.
pub fn bars(title: &str, items: &[(String, f64)]) -> String {
    let shown: Vec<&(String, f64)> = items.iter().filter(|i| i.1 > 0.0).collect();
    let Some(hi) = shown.iter().map(|i| i.1).reduce(f64::max) else {
        return String::new();
    };
    let lo = shown.iter().map(|i| i.1).fold(hi, f64::min);
    let (x0, x1) = decades(lo, hi);
    let left = 160.0;
    let pw = W - left - 70.0;
    let row = 30.0;
    let height = TOP + row * shown.len() as f64 + 36.0;
    let x = |us: f64| left + (us.log10() - f64::from(x0)) / f64::from(x1 - x0) * pw;
    let mut out = open_sized(title, height);
    let bottom = TOP + row * shown.len() as f64;
    for e in x0..=x1 {
        let xx = x(10f64.powi(e));
        out.push_str(&grid_line(xx, TOP, xx, bottom));
        out.push_str(&text(xx, bottom + 16.0, "middle", &decade_label(e)));
    }
    for (i, (name, v)) in shown.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let top = TOP + row * i as f64 + 5.0;
        out.push_str(&format!(
            "<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>",
            (x(*v) - left).max(1.0),
            row - 10.0
        ));
        out.push_str(&text(left - 6.0, top + 14.0, "end", name));
        out.push_str(&text(x(*v) + 4.0, top + 14.0, "start", &format_us(*v)));
    }
    out.push_str(&text(
        left + pw / 2.0,
        height - 6.0,
        "middle",
        "p50 latency (log scale)",
    ));
    out.push_str("</svg>");
    out
}

/// Latency (log scale) against network RTT (linear, 0 to the last point's RTT in ms), one line
/// per series of (RTT ms, latency µs) points; the title says what the lines are.
pub fn against_rtt(title: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let values = series.iter().flat_map(|s| s.1.iter().map(|p| p.1));
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let last = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.0))
        .fold(0.0f64, f64::max);
    if hi <= 0.0 || last <= 0.0 {
        return String::new();
    }
    let (y0, y1) = decades(lo, hi);
    let top = TOP + 16.0 * series.len() as f64;
    let height = H + top - TOP;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |ms: f64| LEFT + ms / last * pw;
    let y = |us: f64| top + ph - (us.log10() - f64::from(y0)) / f64::from(y1 - y0) * ph;
    let mut out = open_sized(title, height);
    for e in y0..=y1 {
        let yy = y(10f64.powi(e));
        out.push_str(&grid_line(LEFT, yy, LEFT + pw, yy));
        out.push_str(&text(LEFT - 6.0, yy + 4.0, "end", &decade_label(e)));
    }
    for k in 0..=5 {
        let ms = last * f64::from(k) / 5.0;
        out.push_str(&grid_line(x(ms), top, x(ms), top + ph));
        out.push_str(&text(
            x(ms),
            top + ph + 16.0,
            "middle",
            &format!("{ms:.0} ms"),
        ));
    }
    out.push_str(&text(
        LEFT + pw / 2.0,
        height - 8.0,
        "middle",
        "network round-trip time",
    ));
    out.push_str(&format!(
        "<text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">p50 latency, modelled (log scale)</text>",
        top + ph / 2.0
    ));
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pts: Vec<String> = points
            .iter()
            .filter(|p| p.1 > 0.0)
            .map(|&(r, v)| format!("{:.1},{:.1}", x(r), y(v)))
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"6 3\" points=\"{}\"/>",
            pts.join(" ")
        ));
        let ly = TOP + 4.0 + 16.0 * i as f64;
        out.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{colour}\"/>",
            LEFT + 10.0,
            ly - 5.0
        ));
        out.push_str(&text(LEFT + 30.0, ly, "start", name));
    }
    out.push_str("</svg>");
    out
}

fn open_sized(title: &str, height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" \
         viewBox=\"0 0 {W} {height}\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\
         <title>{}</title>",
        escape(title)
    )
}

fn grid_line(x1: f64, y1: f64, x2: f64, y2: f64) -> String {
    format!("<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#ddd\"/>")
}

fn text(x: f64, y: f64, anchor: &str, s: &str) -> String {
    format!(
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
        escape(s)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_polyline_per_series_and_decade_ticks() {
        let series = vec![
            Series {
                name: "a<b".into(),
                points: vec![(0.0, 300.0), (0.9, 500.0), (1.0, 900.0)],
            },
            Series {
                name: "c".into(),
                points: vec![(0.0, 150_000.0), (1.0, 190_000.0)],
            },
        ];
        let svg = spectrum("t", &series);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">a&lt;b<"), "names are escaped");
        for tick in ["100 µs", "1 ms", "1 s", "90 %"] {
            assert!(svg.contains(&format!(">{tick}<")), "{tick}: {svg}");
        }
        assert!(spectrum("t", &[]).is_empty());
    }

    #[test]
    fn lines_against_rtt_are_dashed_and_ticked_in_ms() {
        let lines = vec![
            ("a".to_string(), vec![(0.0, 100_000.0), (50.0, 500_000.0)]),
            ("b".to_string(), vec![(0.0, 200.0), (50.0, 50_200.0)]),
        ];
        let svg = against_rtt("model", &lines);
        assert_eq!(svg.matches("stroke-dasharray").count(), 2);
        for tick in ["0 ms", "50 ms", "100 µs", "1 s"] {
            assert!(svg.contains(&format!(">{tick}<")), "{tick}: {svg}");
        }
        assert!(svg.contains("modelled"));
        assert!(against_rtt("t", &[]).is_empty());
    }

    #[test]
    fn bars_label_their_values() {
        let svg = bars("p50", &[("x".into(), 400.0), ("y".into(), 165_000.0)]);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(
            svg.contains(">400 µs<") && svg.contains(">165 ms<"),
            "{svg}"
        );
    }
}
