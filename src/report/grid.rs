//! Plain console tables that fit a width: a header, a rule, rows, columns two spaces apart.
//! No cell ever wraps (but a last column of prose); a table too wide first closes its gaps, then
//! leaves out its last columns.

use super::model::{Align, Row, Table};

/// A rendered table, and how many of its last columns did not fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub dropped: usize,
}

/// `table` within `max_width` characters (none: as wide as it takes). Columns are left out
/// from the right, never the first two; a last column of prose wraps within its cell instead.
pub fn render(table: &Table, max_width: Option<usize>) -> Rendered {
    fn text_of(row: &Row, i: usize) -> &str {
        row.cells.get(i).map_or("", |c| c.text.as_str())
    }
    let mut widths: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            table
                .rows
                .iter()
                .map(|r| text_of(r, i))
                .chain(std::iter::once(column.header.as_str()))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let total =
        |widths: &[usize], n: usize, gap: usize| widths[..n].iter().sum::<usize>() + gap * (n - 1);
    let limit = max_width.unwrap_or(usize::MAX);
    let mut shown = widths.len();
    let mut gap = 2;
    let wrap_last = table.columns.last().is_some_and(|c| c.wraps);
    if wrap_last && total(&widths, shown, gap) > limit {
        let others = total(&widths, shown - 1, gap) + gap;
        if let Some(room) = limit.checked_sub(others).filter(|r| *r >= 16) {
            widths[shown - 1] = room;
        }
    }
    while total(&widths, shown, gap) > limit {
        if gap == 2 {
            gap = 1;
        } else if shown > 2 {
            shown -= 1;
        } else {
            break;
        }
    }
    let line = |cells: &[&str]| {
        let parts: Vec<String> = (0..shown)
            .map(|i| {
                let cell = cells.get(i).copied().unwrap_or("");
                let pad = " ".repeat(widths[i].saturating_sub(cell.chars().count()));
                match table.columns[i].align {
                    Align::Left => format!("{cell}{pad}"),
                    Align::Right => format!("{pad}{cell}"),
                }
            })
            .collect();
        parts.join(&" ".repeat(gap)).trim_end().to_string()
    };
    let headers: Vec<&str> = table.headers().collect();
    let mut text = line(&headers);
    text.push('\n');
    let rule: Vec<String> = widths[..shown].iter().map(|w| "─".repeat(*w)).collect();
    text.push_str(&rule.join(&" ".repeat(gap)));
    text.push('\n');
    let last = widths.len() - 1;
    for row in &table.rows {
        let mut cells: Vec<&str> = (0..widths.len()).map(|i| text_of(row, i)).collect();
        if wrap_last && shown == widths.len() {
            // The first line of the prose beside the row, the rest below it.
            let wrapped = wrap(cells[last], widths[last], "");
            let mut pieces = wrapped.lines();
            cells[last] = pieces.next().unwrap_or_default();
            text.push_str(&line(&cells));
            text.push('\n');
            for piece in pieces {
                let mut blank = vec![""; last];
                blank.push(piece);
                text.push_str(&line(&blank));
                text.push('\n');
            }
        } else {
            text.push_str(&line(&cells));
            text.push('\n');
        }
    }
    Rendered {
        text,
        dropped: widths.len() - shown,
    }
}

/// Breaks `text` into lines of at most `width` characters at spaces; lines after the first
/// start with `indent`. A word longer than the width stays whole.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let body = text.trim_start_matches(' ');
    let mut lines: Vec<String> = Vec::new();
    let mut current = text[..text.len() - body.len()].to_string();
    for word in body.split(' ') {
        let prefix = if lines.is_empty() { "" } else { indent };
        let len = |s: &str| s.chars().count();
        if !current.trim().is_empty() && len(prefix) + len(&current) + 1 + len(word) > width {
            lines.push(format!("{prefix}{current}"));
            current = word.to_string();
        } else {
            if !current.trim().is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
    }
    let prefix = if lines.is_empty() { "" } else { indent };
    lines.push(format!("{prefix}{current}"));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Column;

    fn sample() -> Table {
        let mut t = Table::with_headers(&["Backend", "Workload", "p50", "Calls/s"], 2);
        t.push(["compose:persistent", "simple_calc", "631 µs", "164.2"]);
        t.push(["local:per-call", "x", "12.5 ms", "80.0"]);
        t
    }

    #[test]
    fn columns_align_two_spaces_apart() {
        let r = render(&sample(), None);
        assert_eq!(r.dropped, 0);
        assert_eq!(
            r.text,
            "Backend             Workload         p50  Calls/s\n\
             ──────────────────  ───────────  ───────  ───────\n\
             compose:persistent  simple_calc   631 µs    164.2\n\
             local:per-call      x            12.5 ms     80.0\n"
        );
    }

    #[test]
    fn a_narrow_width_closes_gaps_then_drops_columns() {
        let r = render(&sample(), Some(46));
        assert_eq!(r.dropped, 0);
        assert!(
            r.text.lines().all(|l| l.chars().count() <= 46),
            "{}",
            r.text
        );
        let r = render(&sample(), Some(40));
        assert_eq!(r.dropped, 1);
        assert!(
            r.text.lines().all(|l| l.chars().count() <= 40),
            "{}",
            r.text
        );
        assert!(
            r.text
                .starts_with("Backend            Workload        p50\n")
        );
    }

    #[test]
    fn a_wrapping_last_column_wraps_rather_than_goes() {
        let mut t = Table::new(vec![Column::text("Layer"), Column::prose("Made of")]);
        t.push(["docker", "Docker CLI + Engine API + container exec"]);
        let r = render(&t, Some(30));
        assert_eq!(r.dropped, 0);
        assert_eq!(
            r.text,
            "Layer   Made of\n\
             ──────  ──────────────────────\n\
             docker  Docker CLI + Engine\n\
            \x20       API + container exec\n"
        );
    }

    #[test]
    fn long_text_wraps_at_spaces_with_an_indent() {
        assert_eq!(
            wrap("one two three four", 9, "  "),
            "one two\n  three\n  four"
        );
        assert_eq!(wrap("unbreakable", 4, " "), "unbreakable");
        assert_eq!(wrap("  ab cd", 5, "    "), "  ab\n    cd");
    }
}
