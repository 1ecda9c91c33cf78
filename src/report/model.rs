//! The one table model of every report: columns with their alignment, rows of cells that keep
//! their text and what marks them. The builders (`table`, `waterfall`, `mcp_layer`,
//! `comparison`, `probe_tables`) make it once; the console grid, Markdown and HTML draw it, so
//! no renderer reads another's text back.

/// Where a column's cells sit: text to the left, figures to the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A column: its header, its alignment, and whether it holds prose that wraps within its cell
/// on a narrow console rather than being left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub header: String,
    pub align: Align,
    pub wraps: bool,
}

impl Column {
    /// A column of text, left-aligned.
    pub fn text(header: &str) -> Self {
        Column {
            header: header.to_string(),
            align: Align::Left,
            wraps: false,
        }
    }

    /// A column of figures, right-aligned.
    pub fn figure(header: &str) -> Self {
        Column {
            align: Align::Right,
            ..Column::text(header)
        }
    }

    /// A column of prose: left-aligned, wrapping on a narrow console.
    pub fn prose(header: &str) -> Self {
        Column {
            wraps: true,
            ..Column::text(header)
        }
    }
}

/// What a cell's text stands out as, for the renderers that can show it (colour on a
/// terminal that takes it, a class in HTML); Markdown and plain text show the text alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mark {
    #[default]
    Plain,
    /// Something failed here: read the errors.
    Warn,
    /// Better than the baseline, beyond noise.
    Good,
    /// Worse than the baseline: a regression.
    Bad,
}

/// One cell: its text and its mark.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    pub text: String,
    pub mark: Mark,
}

impl Cell {
    pub fn marked(text: impl Into<String>, mark: Mark) -> Self {
        Cell {
            text: text.into(),
            mark,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::marked(text, Mark::Plain)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::marked(text, Mark::Plain)
    }
}

/// One row: a cell per column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    pub cells: Vec<Cell>,
}

/// A table: columns and rows. A row shorter than the columns has empty cells at its end.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Self {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// A table whose first `text` columns hold text and the others figures.
    pub fn with_headers(headers: &[&str], text: usize) -> Self {
        Table::new(
            headers
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    if i < text {
                        Column::text(h)
                    } else {
                        Column::figure(h)
                    }
                })
                .collect(),
        )
    }

    /// Adds a row of these cells.
    pub fn push<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) {
        self.rows.push(Row {
            cells: cells.into_iter().map(Into::into).collect(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The headers, in order.
    pub fn headers(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.header.as_str())
    }

    /// The cell of row `row` in the column headed `header`.
    pub fn cell(&self, row: usize, header: &str) -> Option<&Cell> {
        let i = self.headers().position(|h| h == header)?;
        self.rows.get(row)?.cells.get(i)
    }

    /// Only the columns of these headers, in this order (unknown headers are skipped).
    pub fn select(&self, headers: &[&str]) -> Table {
        let picks: Vec<usize> = headers
            .iter()
            .filter_map(|n| self.headers().position(|h| h == *n))
            .collect();
        Table {
            columns: picks.iter().map(|&i| self.columns[i].clone()).collect(),
            rows: self
                .rows
                .iter()
                .map(|r| Row {
                    cells: picks
                        .iter()
                        .map(|&i| r.cells.get(i).cloned().unwrap_or_default())
                        .collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_keeps_columns_cells_and_marks() {
        let mut t = Table::with_headers(&["Backend", "Errors", "p50"], 1);
        t.push([
            Cell::from("local:persistent"),
            Cell::marked("⚠ 3", Mark::Warn),
            Cell::from("1.27 ms"),
        ]);
        let s = t.select(&["p50", "Errors", "nothing"]);
        assert_eq!(s.headers().collect::<Vec<_>>(), ["p50", "Errors"]);
        assert_eq!(s.columns[0].align, Align::Right);
        assert_eq!(s.rows[0].cells[1], Cell::marked("⚠ 3", Mark::Warn));
        assert_eq!(t.cell(0, "p50").map(|c| c.text.as_str()), Some("1.27 ms"));
    }
}
