//! Reading uploaded tables: CSV (UTF-8, with or without a byte-order mark) and the first sheet
//! of an XLSX/XLS/ODS workbook, into rows of text for the engine's import.

use std::io::Cursor;

use calamine::{Data, DataType, Reader, open_workbook_auto_from_rs};
use engine::Table;

/// The first row is the header.
pub(crate) fn read_csv(bytes: &[u8]) -> Result<Table, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader.headers().map_err(|e| format!("CSV header: {e}"))?.iter().map(str::to_owned).collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("CSV row {}: {e}", i + 2))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(Table { headers, rows })
}

/// The first sheet; dates become `YYYY-MM-DD` (or ISO date-times), whole numbers lose `.0`.
pub(crate) fn read_workbook(bytes: &[u8]) -> Result<Table, String> {
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| format!("not a spreadsheet: {e}"))?;
    let range = book.worksheet_range_at(0).ok_or("the workbook has no sheet")?.map_err(|e| format!("cannot read the first sheet: {e}"))?;
    let mut rows = range.rows().map(|row| row.iter().map(cell).collect::<Vec<String>>());
    let headers = rows.next().ok_or("the first sheet is empty")?;
    Ok(Table { headers, rows: rows.filter(|r| r.iter().any(|c| !c.is_empty())).collect() })
}

fn cell(data: &Data) -> String {
    match data {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(_) => match data.as_datetime() {
            Some(t) if t.format("%H:%M:%S").to_string() == "00:00:00" => t.date().format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => String::new(),
        },
    }
}
