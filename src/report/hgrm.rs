//! `.hgrm`: a histogram's percentile distribution in the text format of HdrHistogram's
//! `outputPercentileDistribution`, which its plotter (HistogramLogAnalyzer, the online
//! hdrhistogram plotter) reads. Values are in milliseconds (unit scaling ratio 1e6 from ns).

use hdrhistogram::Histogram;

/// Nanoseconds per output unit: values are written in milliseconds.
pub const UNIT_SCALING: f64 = 1e6;

/// Percentile ticks per half distance to 100 %, as HdrHistogram's default output uses.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The percentile distribution of `h`; an empty histogram gives the header and footer only.
pub fn render(h: &Histogram<u64>) -> String {
    let digits = usize::from(h.sigfig());
    let scaled = |ns: u64| ns as f64 / UNIT_SCALING;
    let mut out = format!(
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = scaled(h.highest_equivalent(v.value_iterated_to()));
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                out.push_str(&format!(
                    "{value:12.digits$} {q:2.12} {total:10} {:14.2}\n",
                    1.0 / (1.0 - q)
                ));
            } else {
                out.push_str(&format!("{value:12.digits$} {q:2.12} {total:10}\n"));
            }
        }
    }
    let (mean, stddev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            h.mean() / UNIT_SCALING,
            h.stdev() / UNIT_SCALING,
            scaled(h.highest_equivalent(h.max())),
        )
    };
    out.push_str(&format!(
        "#[Mean    = {mean:12.digits$}, StdDeviation   = {stddev:12.digits$}]\n"
    ));
    out.push_str(&format!(
        "#[Max     = {max:12.digits$}, Total count    = {:12}]\n",
        h.len()
    ));
    out.push_str(&format!(
        "#[Buckets = {:12}, SubBuckets     = {:12}]\n",
        h.buckets(),
        sub_buckets(h.sigfig())
    ));
    out
}

/// HdrHistogram's sub-bucket count: the smallest power of two at least 2 × 10^sigfig.
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

/// A file name for one backend × workload: `compose_persistent.simple_calc.hgrm`.
pub fn file_name(backend: &str, workload: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}.{}.hgrm", clean(backend), clean(workload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_of_known_samples() {
        let mut h = crate::bench::stats::new_histogram();
        for ms in 1..=4u64 {
            h.record(ms * 1_000_000).unwrap();
        }
        let text = render(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[2],
            "       1.000 0.000000000000          1           1.00"
        );
        let last_row = lines[lines.len() - 4];
        assert_eq!(last_row, "       4.002 1.000000000000          4");
        assert_eq!(
            lines[lines.len() - 3],
            "#[Mean    =        2.500, StdDeviation   =        1.118]"
        );
        assert_eq!(
            lines[lines.len() - 2],
            "#[Max     =        4.002, Total count    =            4]"
        );
        assert!(lines[lines.len() - 1].ends_with("SubBuckets     =         2048]"));
        // Cumulative counts never fall and percentiles only rise.
        let rows: Vec<(f64, u64)> = lines[2..lines.len() - 3]
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect();
        assert!(
            rows.windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
        );
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            file_name("compose:per-call", "simple_calc"),
            "compose_per-call.simple_calc.hgrm"
        );
    }
}
