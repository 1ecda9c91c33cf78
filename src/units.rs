//! Numbers as people read them: latencies with a unit fit for their size, sizes, ratios. Shared by
//! `bench` (its warnings quote latencies) and `report`, so it depends on neither.

/// A size in KiB (as `/proc` gives memory) in MiB: `65.6 MiB`.
pub fn format_kib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A latency in microseconds with a unit fit for its size: `38.2 µs`, `1.27 ms`, `2.41 s`.
pub fn format_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{} µs", sig3(us))
    } else if us < 1_000_000.0 {
        format!("{} ms", sig3(us / 1000.0))
    } else {
        format!("{} s", sig3(us / 1_000_000.0))
    }
}

/// `us` in the unit `format_us` would choose for `like_us`: the values of one row in one unit.
pub fn format_us_as(us: f64, like_us: f64) -> String {
    let (scale, unit) = if like_us < 1000.0 {
        (1.0, "µs")
    } else if like_us < 1_000_000.0 {
        (1000.0, "ms")
    } else {
        (1_000_000.0, "s")
    };
    format!("{} {unit}", sig3(us / scale))
}

/// A mean and its standard deviation in the mean's unit: `1.48 ± 1.82 ms`, `631 ± 1820 µs`.
pub fn format_mean_sd(mean_us: f64, sd_us: f64) -> String {
    let (scale, unit) = if mean_us < 1000.0 {
        (1.0, "µs")
    } else if mean_us < 1_000_000.0 {
        (1000.0, "ms")
    } else {
        (1_000_000.0, "s")
    };
    format!("{} ± {} {unit}", sig3(mean_us / scale), sig3(sd_us / scale))
}

/// A ratio such as `412×` or `1.26×`.
pub fn format_ratio(r: f64) -> String {
    if !r.is_finite() {
        "–".into()
    } else {
        format!("{}×", sig3(r))
    }
}

/// Three significant figures, without a trailing point.
fn sig3(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_in_kib_reads_in_mib() {
        assert_eq!(format_kib(67_174), "65.6 MiB");
        assert_eq!(format_kib(512), "0.5 MiB");
    }

    #[test]
    fn a_row_keeps_one_unit() {
        assert_eq!(format_us_as(0.0, 2_500_000.0), "0.00 s");
        assert_eq!(format_us_as(450.0, 2_000.0), "0.45 ms");
        assert_eq!(format_us_as(1_200_000.0, 2_000.0), "1200 ms");
    }

    #[test]
    fn units_follow_magnitude() {
        assert_eq!(format_us(38.24), "38.2 µs");
        assert_eq!(format_us(512.0), "512 µs");
        assert_eq!(format_us(1266.0), "1.27 ms");
        assert_eq!(format_us(245_300.0), "245 ms");
        assert_eq!(format_us(2_410_000.0), "2.41 s");
        assert_eq!(format_ratio(412.4), "412×");
        assert_eq!(format_ratio(1.264), "1.26×");
        assert_eq!(format_ratio(f64::NAN), "–");
        assert_eq!(format_mean_sd(1480.0, 1820.0), "1.48 ± 1.82 ms");
        assert_eq!(format_mean_sd(631.0, 1820.0), "631 ± 1820 µs");
        assert_eq!(format_mean_sd(255_000.0, 21_900.0), "255 ± 21.9 ms");
    }
}
