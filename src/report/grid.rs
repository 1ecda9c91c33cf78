//! Plain console tables that fit a width: a header, a rule, rows, columns two spaces apart.
//! No cell ever wraps; a table too wide first closes its gaps, then leaves out its last columns.

/// A table of text cells; text columns are left-aligned, figures right-aligned.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
    /// The last column (text) wraps within its cell rather than being left out.
    wrap_last: bool,
}

/// A rendered grid, and how many of its last columns did not fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub dropped: usize,
}

impl Grid {
    /// A grid with these headers; the first `left` columns hold text, the rest figures.
    pub fn new(headers: &[&str], left: usize) -> Self {
        let headers: Vec<String> = headers.iter().map(ToString::to_string).collect();
        Self::from_cells(headers, Vec::new(), left)
    }

    /// A grid of these headers and rows; the first `left` columns hold text.
    pub fn from_cells(headers: Vec<String>, rows: Vec<Vec<String>>, left: usize) -> Self {
        let right = (0..headers.len()).map(|i| i >= left).collect();
        Grid {
            headers,
            right,
            rows,
            wrap_last: false,
        }
    }

    /// The last column holds prose: it wraps within its cell where the width runs out.
    pub fn wrapping_last(mut self) -> Self {
        self.wrap_last = true;
        self
    }

    /// Column `i` holds text too.
    pub fn left_aligned(mut self, i: usize) -> Self {
        if let Some(r) = self.right.get_mut(i) {
            *r = false;
        }
        self
    }

    /// Only the columns of these headers, in this order (unknown names are skipped).
    pub fn select(&self, names: &[&str]) -> Self {
        let picks: Vec<usize> = names
            .iter()
            .filter_map(|n| self.headers.iter().position(|h| h == n))
            .collect();
        let pick = |row: &Vec<String>| -> Vec<String> {
            picks
                .iter()
                .map(|&i| row.get(i).cloned().unwrap_or_default())
                .collect()
        };
        Grid {
            headers: pick(&self.headers),
            right: picks.iter().map(|&i| self.right[i]).collect(),
            rows: self.rows.iter().map(pick).collect(),
            wrap_last: false,
        }
    }

    pub fn add_row(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The grid within `max_width` characters (none: as wide as it takes). Columns are left out
    /// from the right, never the first two.
    pub fn render(&self, max_width: Option<usize>) -> Rendered {
        let mut widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .chain(std::iter::once(&self.headers[i]))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let total = |widths: &[usize], n: usize, gap: usize| {
            widths[..n].iter().sum::<usize>() + gap * (n - 1)
        };
        let limit = max_width.unwrap_or(usize::MAX);
        let mut shown = widths.len();
        let mut gap = 2;
        if self.wrap_last && total(&widths, shown, gap) > limit {
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
        let line = |cells: &[String]| {
            let parts: Vec<String> = (0..shown)
                .map(|i| {
                    let cell = cells.get(i).map_or("", String::as_str);
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    if !self.right[i] {
                        format!("{cell}{}", " ".repeat(pad))
                    } else {
                        format!("{}{cell}", " ".repeat(pad))
                    }
                })
                .collect();
            parts.join(&" ".repeat(gap)).trim_end().to_string()
        };
        let mut text = line(&self.headers);
        text.push('\n');
        let rule: Vec<String> = widths[..shown].iter().map(|w| "─".repeat(*w)).collect();
        text.push_str(&rule.join(&" ".repeat(gap)));
        text.push('\n');
        let last = widths.len() - 1;
        for row in &self.rows {
            match row
                .get(last)
                .filter(|_| self.wrap_last && shown == widths.len())
            {
                Some(cell) => {
                    // The first line of the prose beside the row, the rest below it.
                    let wrapped = wrap(cell, widths[last], "");
                    let mut pieces = wrapped.lines();
                    let mut cells = row.clone();
                    cells[last] = pieces.next().unwrap_or_default().to_string();
                    text.push_str(&line(&cells));
                    text.push('\n');
                    for piece in pieces {
                        let mut blank = vec![String::new(); last];
                        blank.push(piece.to_string());
                        text.push_str(&line(&blank));
                        text.push('\n');
                    }
                }
                None => {
                    text.push_str(&line(row));
                    text.push('\n');
                }
            }
        }
        Rendered {
            text,
            dropped: widths.len() - shown,
        }
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

    fn sample() -> Grid {
        let mut g = Grid::new(&["Backend", "Workload", "p50", "Calls/s"], 2);
        g.add_row(vec![
            "compose:persistent".into(),
            "simple_calc".into(),
            "631 µs".into(),
            "164.2".into(),
        ]);
        g.add_row(vec![
            "local:per-call".into(),
            "x".into(),
            "12.5 ms".into(),
            "80.0".into(),
        ]);
        g
    }

    #[test]
    fn columns_align_two_spaces_apart() {
        let r = sample().render(None);
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
        let r = sample().render(Some(46));
        assert_eq!(r.dropped, 0);
        assert!(
            r.text.lines().all(|l| l.chars().count() <= 46),
            "{}",
            r.text
        );
        let r = sample().render(Some(40));
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
        let mut g = Grid::new(&["Layer", "Made of"], 2).wrapping_last();
        g.add_row(vec![
            "docker".into(),
            "Docker CLI + Engine API + container exec".into(),
        ]);
        let r = g.render(Some(30));
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
