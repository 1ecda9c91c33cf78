//! The boxed console tables of `compare`, `faults`, `isolation` and `soak`: the table model
//! drawn by comfy-table, which fits them to the terminal and wraps long cells.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Color, ContentArrangement};

use super::model::{Align, Mark, Table};

/// `t` as a boxed table; with `colour`, marked cells are coloured (regressions and warnings
/// red, improvements green).
pub fn boxed(t: &Table, colour: bool) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(t.headers().collect::<Vec<_>>());
    for (i, column) in t.columns.iter().enumerate() {
        if column.align == Align::Right
            && let Some(c) = table.column_mut(i)
        {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    for row in &t.rows {
        table.add_row(row.cells.iter().map(|cell| {
            let c = comfy_table::Cell::new(&cell.text);
            match cell.mark {
                _ if !colour => c,
                Mark::Plain => c,
                Mark::Warn | Mark::Bad => c.fg(Color::Red),
                Mark::Good => c.fg(Color::Green),
            }
        }));
    }
    table
}
