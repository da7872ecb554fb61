//! Exports of a report result: CSV (UTF-8 with a byte-order mark, so spreadsheet programs read
//! Chinese text correctly) and XLSX.

use rust_xlsxwriter::Workbook;
use serde_json::Value;

/// The result as CSV: one header line of `headers`, then the rows.
pub fn to_csv(headers: &[String], rows: &[Vec<Value>]) -> Result<Vec<u8>, String> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(headers).map_err(|e| e.to_string())?;
        for row in rows {
            w.write_record(row.iter().map(text)).map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The result as an XLSX workbook with one sheet; numbers stay numbers.
pub fn to_xlsx(sheet_name: &str, headers: &[String], rows: &[Vec<Value>]) -> Result<Vec<u8>, String> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    // Sheet names are at most 31 characters and some characters are not allowed.
    let name: String = sheet_name.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect();
    if !name.is_empty() {
        sheet.set_name(&name).map_err(|e| e.to_string())?;
    }
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, h).map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in row.iter().enumerate() {
            let c = c as u16;
            let written = match v {
                Value::Null => continue,
                Value::Number(n) => sheet.write_number(r, c, n.as_f64().unwrap_or_default()).map(|_| ()),
                Value::Bool(b) => sheet.write_boolean(r, c, *b).map(|_| ()),
                other => sheet.write_string(r, c, text(other)).map(|_| ()),
            };
            written.map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
