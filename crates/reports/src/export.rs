//! The spreadsheet files the platform writes — report exports here, record exports through the
//! engine — CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Chinese text
//! correctly) and XLSX, with the two rules every such file keeps:
//!
//! - No CSV cell starts a formula (OWASP, "CSV Injection"): text beginning with `=`, `+`, `-`,
//!   `@`, a tab or a carriage return gets a leading `'`, which spreadsheets take as "this is
//!   text" and do not show. Numbers are written as they are, and so is text that is nothing but
//!   a plain decimal number (`-12.5`, `+3`): a spreadsheet reads that as the number, never as a
//!   formula. Every cell is also quoted, so a `;` or `,` inside a value cannot start a new cell
//!   (and a formula in it) in a spreadsheet that splits on another separator.
//! - No XLSX cell holds more than Excel's 32,767 characters: a longer value (a child table of
//!   1,000 lines, long notes) is cut, ending with a marker that says so, rather than failing the
//!   whole file. The CSV export has it whole. XLSX cells are typed, so formulas never run there.

use rust_xlsxwriter::Workbook;
use serde_json::Value;

/// Characters that make a spreadsheet read a cell as a formula when they come first (OWASP's
/// list: formulas, their unary signs, Lotus-style `@`, and the tab and carriage return some
/// programs skip before looking at the rest).
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Most characters an XLSX cell holds: Excel's own limit, which the writer enforces.
const XLSX_MAX_CELL_CHARS: usize = 32_767;

/// Ends a value cut to fit an XLSX cell.
const XLSX_CUT_MARKER: &str = " … [cut: an Excel cell holds at most 32,767 characters; the CSV export has the whole value]";

/// The rows as CSV: byte-order mark, one header line of `headers`, then the rows.
pub fn to_csv(headers: &[String], rows: &[Vec<Value>]) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend(csv_lines(Some(headers), rows));
    out
}

/// CSV lines of `rows`, preceded by a line of `headers` when given; no byte-order mark (for the
/// chunks after the first of a streamed export).
pub fn csv_lines(headers: Option<&[String]>, rows: &[Vec<Value>]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        // Flexible, so records of any length are written: the only error left is the output's,
        // and writing into memory cannot fail.
        let mut writer = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Always).flexible(true).from_writer(&mut out);
        if let Some(headers) = headers {
            writer.write_record(headers.iter().map(|h| defuse(h.clone()))).expect("writing CSV into memory");
        }
        for row in rows {
            writer.write_record(row.iter().map(csv_cell)).expect("writing CSV into memory");
        }
        writer.flush().expect("writing CSV into memory");
    }
    out
}

/// The rows as an XLSX workbook with one sheet; numbers and booleans stay typed, text longer
/// than a cell holds is cut with a marker.
pub fn to_xlsx(sheet_name: &str, headers: &[String], rows: &[Vec<Value>]) -> Result<Vec<u8>, String> {
    let mut sheet = XlsxSheet::new(sheet_name, headers)?;
    sheet.write_rows(rows)?;
    sheet.finish()
}

/// An XLSX workbook of one sheet, written a page of rows at a time. The sheet's rows go to a
/// temporary file as they come (rust_xlsxwriter's constant-memory mode), so an export holds a
/// page of rows in memory, not all of them; the file is zipped at the end.
pub struct XlsxSheet {
    book: Workbook,
    /// Rows written, the header's included.
    rows: u32,
}

impl XlsxSheet {
    /// A sheet named after `sheet_name` (less the characters a sheet name may not have), its
    /// first row `headers`.
    pub fn new(sheet_name: &str, headers: &[String]) -> Result<XlsxSheet, String> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet_with_constant_memory();
        // Sheet names are at most 31 characters and some characters are not allowed.
        let name: String = sheet_name.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect();
        if !name.is_empty() {
            sheet.set_name(&name).map_err(|e| e.to_string())?;
        }
        for (c, h) in headers.iter().enumerate() {
            sheet.write_string(0, c as u16, fit_xlsx_cell(h.clone())).map_err(|e| e.to_string())?;
        }
        Ok(XlsxSheet { book, rows: 1 })
    }

    /// Writes `rows` below those written before.
    pub fn write_rows(&mut self, rows: &[Vec<Value>]) -> Result<(), String> {
        let sheet = self.book.worksheet_from_index(0).map_err(|e| e.to_string())?;
        for row in rows {
            let r = self.rows;
            for (c, v) in row.iter().enumerate() {
                let c = c as u16;
                let written = match v {
                    Value::Null => continue,
                    Value::Number(n) => sheet.write_number(r, c, n.as_f64().unwrap_or_default()).map(|_| ()),
                    Value::Bool(b) => sheet.write_boolean(r, c, *b).map(|_| ()),
                    other => sheet.write_string(r, c, fit_xlsx_cell(cell_text(other))).map(|_| ()),
                };
                written.map_err(|e| e.to_string())?;
            }
            self.rows += 1;
        }
        Ok(())
    }

    /// The workbook's bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        self.book.save_to_buffer().map_err(|e| e.to_string())
    }
}

/// One value as spreadsheet text: lists of text joined with `; ` (tags, multi-selects), other
/// lists and objects (child tables) as JSON.
fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// One value as a CSV cell: numbers as the database gave them, text defused.
fn csv_cell(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => defuse(cell_text(other)),
    }
}

/// `text` as a spreadsheet reads it as text: with a leading `'` when it would start a formula.
fn defuse(text: String) -> String {
    if text.starts_with(FORMULA_TRIGGERS) && !is_plain_number(&text) { format!("'{text}") } else { text }
}

/// A sign, digits, and at most one decimal point between digits: read as a number, never a
/// formula. (Not `str::parse::<f64>`, which takes `-inf` and `+NaN` too.)
fn is_plain_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// `text`, or its start and [`XLSX_CUT_MARKER`] when it is longer than a cell holds.
fn fit_xlsx_cell(text: String) -> String {
    if text.chars().count() <= XLSX_MAX_CELL_CHARS {
        return text;
    }
    let keep = XLSX_MAX_CELL_CHARS - XLSX_CUT_MARKER.chars().count();
    let mut cut: String = text.chars().take(keep).collect();
    cut.push_str(XLSX_CUT_MARKER);
    cut
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn csv_text(rows: &[Vec<Value>]) -> String {
        String::from_utf8(csv_lines(None, rows)).unwrap()
    }

    #[test]
    fn text_that_would_start_a_formula_gets_a_quote_mark() {
        for formula in ["=1+1", "+1 555 0100", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", "-", "+.5", "-1e5"] {
            assert_eq!(csv_text(&[vec![json!(formula)]]), format!("\"'{}\"\n", formula.replace('"', "\"\"")), "{formula:?}");
        }
        // Lists are joined before they are looked at, and headers are cells too.
        assert_eq!(csv_text(&[vec![json!(["=A1", "b"])]]), "\"'=A1; b\"\n");
        assert_eq!(String::from_utf8(csv_lines(Some(&["=label".into()]), &[])).unwrap(), "\"'=label\"\n");
    }

    #[test]
    fn numbers_and_plain_numeric_text_stay_as_they_are() {
        let row = vec![json!(-12.5), json!(-3), json!(1e300), json!("-12.5"), json!("+86"), json!("12"), json!(true), Value::Null];
        assert_eq!(csv_text(&[row]), "\"-12.5\",\"-3\",\"1e+300\",\"-12.5\",\"+86\",\"12\",\"true\",\"\"\n");
        assert!(!is_plain_number("-1.") && !is_plain_number("-.5") && !is_plain_number("-inf") && !is_plain_number("1.2.3"));
    }

    #[test]
    fn a_separator_inside_a_value_stays_inside_its_cell() {
        assert_eq!(csv_text(&[vec![json!("a;=1+1"), json!("b,=2")]]), "\"a;=1+1\",\"b,=2\"\n");
    }

    #[test]
    fn csv_starts_with_the_byte_order_mark_and_the_header() {
        let out = String::from_utf8(to_csv(&["阶段".into(), "n".into()], &[vec![json!("won"), json!(2)]])).unwrap();
        assert_eq!(out, "\u{feff}\"阶段\",\"n\"\n\"won\",\"2\"\n");
    }

    #[test]
    fn values_longer_than_an_xlsx_cell_are_cut_with_a_marker() {
        let long = "注".repeat(XLSX_MAX_CELL_CHARS + 1);
        let cut = fit_xlsx_cell(long.clone());
        assert_eq!(cut.chars().count(), XLSX_MAX_CELL_CHARS);
        assert!(cut.starts_with("注注") && cut.ends_with(XLSX_CUT_MARKER));
        let exact = "x".repeat(XLSX_MAX_CELL_CHARS);
        assert_eq!(fit_xlsx_cell(exact.clone()), exact);
        // The writer itself refuses a longer cell: the whole file failed before.
        let lines = json!(vec![json!({"product": "a", "qty": 1}); 3_000]);
        assert!(cell_text(&lines).chars().count() > XLSX_MAX_CELL_CHARS);
        assert!(to_xlsx("quote", &["items".into()], &[vec![lines], vec![json!(long)]]).unwrap().starts_with(b"PK"));
    }
}
