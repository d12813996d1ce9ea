//! Query results as plain cells, and the number formats the commands print.

use observers_core::arrow::array::{Array, AsArray, RecordBatch};
use observers_core::arrow::compute::cast;
use observers_core::arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::DuckDbStore;

/// One value of a query result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(n) => Some(*n),
            Cell::Float(x) => Some(*x as i64),
            _ => None,
        }
    }

    pub(crate) fn float(&self) -> Option<f64> {
        match self {
            Cell::Int(n) => Some(*n as f64),
            Cell::Float(x) => Some(*x),
            _ => None,
        }
    }

    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Runs `sql` (built by this crate from constants, never from the user's text) and
/// returns its rows.
pub(crate) async fn rows(store: &DuckDbStore, sql: String) -> Result<Vec<Vec<Cell>>, String> {
    let batches = store.query(sql).await.map_err(|e| {
        let e = e.to_string();
        if e.contains("Out of Memory") {
            format!(
                "the window holds too many calls to summarize within DuckDB's memory cap ({}): \
                 narrow it with --since ({e})",
                super::stats::READ_MEMORY_LIMIT
            )
        } else {
            format!("could not read the store: {e}")
        }
    })?;
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(batch_rows(batch)?);
    }
    Ok(rows)
}

fn batch_rows(batch: &RecordBatch) -> Result<Vec<Vec<Cell>>, String> {
    let failed = |e: observers_core::arrow::error::ArrowError| format!("could not read a query result: {e}");
    let mut columns: Vec<Vec<Cell>> = Vec::with_capacity(batch.num_columns());
    for column in batch.columns() {
        let cells: Vec<Cell> =
            match column.data_type() {
                DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64 => {
                    let ints = cast(column, &DataType::Int64).map_err(failed)?;
                    let ints = ints.as_primitive::<Int64Type>();
                    (0..ints.len())
                        .map(|i| if ints.is_null(i) { Cell::Null } else { Cell::Int(ints.value(i)) })
                        .collect()
                }
                DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
                    let floats = cast(column, &DataType::Float64).map_err(failed)?;
                    let floats = floats.as_primitive::<Float64Type>();
                    (0..floats.len())
                        .map(|i| if floats.is_null(i) { Cell::Null } else { Cell::Float(floats.value(i)) })
                        .collect()
                }
                DataType::Null => vec![Cell::Null; column.len()],
                _ => {
                    let texts = cast(column, &DataType::Utf8).map_err(failed)?;
                    let texts = texts.as_string::<i32>();
                    (0..texts.len())
                        .map(|i| {
                            if texts.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Text(texts.value(i).to_string())
                            }
                        })
                        .collect()
                }
            };
        columns.push(cells);
    }
    Ok((0..batch.num_rows()).map(|row| columns.iter().map(|column| column[row].clone()).collect()).collect())
}

/// `1,234,567`.
pub(crate) fn int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds: `1,234`, `87.5`, `0.42`.
pub(crate) fn ms(x: f64) -> String {
    if x >= 100.0 {
        int(x.round() as i64)
    } else if x >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Dollars: `$1,234.57`, `$0.0123`, `$0.000004`.
pub(crate) fn usd(x: f64) -> String {
    if x >= 1000.0 {
        format!("${}", int(x.round() as i64))
    } else if x >= 1.0 {
        format!("${x:.2}")
    } else if x == 0.0 {
        "$0".into()
    } else {
        // Three significant digits for small amounts.
        let decimals = (2 - x.log10().floor() as i32).clamp(2, 9) as usize;
        format!("${x:.decimals$}")
    }
}

/// A percentage with one decimal: `2.5%`.
pub(crate) fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// A text table with a header rule, columns padded; numbers (every column but the first)
/// aligned right.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .chain([headers[i].chars().count()])
            .max()
    };
    let widths: Vec<usize> = (0..headers.len()).map(|i| width(i).unwrap_or(0)).collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if i == 0 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| if i == 0 { "-".repeat(w + 2) } else { format!("{}:", "-".repeat(w + 1)) })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(int(0), "0");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(int(-1000), "-1,000");
        assert_eq!(ms(1234.4), "1,234");
        assert_eq!(ms(87.54), "87.5");
        assert_eq!(ms(0.421), "0.42");
        assert_eq!(usd(1234.6), "$1,235");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(0.012345), "$0.0123");
        assert_eq!(usd(0.000004321), "$0.00000432");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "-");
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["model", "calls"],
            &[vec!["a".into(), "1,000".into()], vec!["bbbbbbb".into(), "2".into()]],
        );
        assert_eq!(t, "| model   | calls |\n|---------|------:|\n| a       | 1,000 |\n| bbbbbbb |     2 |\n");
    }
}
