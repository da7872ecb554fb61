//! Reading uploaded tables within bounds: CSV (UTF-8, with or without a byte-order mark) and the
//! first sheet of an XLSX workbook, into rows of text for the engine's import.
//!
//! An upload is first written to a temporary file ([`spool`]), not held in memory. A CSV is
//! read through twice: once to check and count it, holding one row at a time, and again as the
//! import takes its rows. Memory so does not follow the file's size.
//!
//! An XLSX is read cell by cell, keeping only the cells it has: a dense range would be as large
//! as the span of the sheet's cells (two cells, A1 and XFD1048576, are 17 billion). Its zip is
//! checked for its decompressed size first. Its cells are held, within [`MAX_SHEET_CELLS`]: a
//! zip cannot be read twice in step with an import as cheaply as text. XLS and ODS are refused:
//! calamine reads those only whole, as a dense range.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use actix_web::HttpRequest;
use actix_web::web::{self, Payload};
use calamine::{DataRef, DataType, Reader, Xlsx};
use engine::{EngineError, Table};
use futures_util::StreamExt;

use crate::ApiError;

/// Data rows of an uploaded table (the header not counted): twice the 100,000 rows the import
/// is benchmarked with. A CSV's rows are not held, but a larger file is better split: its
/// import takes minutes on PostgreSQL, and one wrong column would fail every row of it.
pub const MAX_SHEET_ROWS: usize = 200_000;
/// Columns of an uploaded table: far more than any form has fields, while a cell at Excel's
/// last column (16,384) cannot make every row that wide.
pub const MAX_SHEET_COLUMNS: usize = 1_000;
/// Cells of an XLSX sheet, counting the empty ones up to each row's last: 200,000 rows of 10
/// columns. A sheet's cells are held while it is imported; each costs at least a string's 24
/// bytes, so a sheet stays under about 50 MB plus its text.
pub const MAX_SHEET_CELLS: usize = 2_000_000;
/// Decompressed bytes of an XLSX's parts together: an XLSX is a zip of XML, and its shared
/// strings are held in memory whole. 128 MiB is twice what the largest accepted sheet
/// (MAX_SHEET_CELLS cells of some 30 bytes of XML each) needs.
pub const MAX_UNZIPPED_BYTES: u64 = 128 << 20;

/// What to send instead of a file that cannot be read within bounds.
const SEND_INSTEAD: &str = "xls and ods files cannot be read within bounds; save the sheet as xlsx or csv";

/// Why an upload was not read.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Not a readable file of its format: 400.
    Malformed(String),
    /// Past one of the bounds above, which the message names: 413.
    TooLarge(String),
    /// A format that cannot be read within bounds: 415.
    Unsupported,
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Malformed(message) => ApiError::bad_request(message),
            Refusal::TooLarge(message) => ApiError::new(engine::Code::PayloadTooLarge, message),
            Refusal::Unsupported => ApiError::new(engine::Code::UnsupportedMediaType, SEND_INSTEAD),
        }
    }
}

/// Writes the request body to a temporary file (deleted once closed), within `limit` bytes,
/// and reads it as `format`.
pub(crate) async fn read_upload(req: &HttpRequest, payload: Payload, limit: usize, format: String) -> Result<Table, ApiError> {
    let file = spool(req, payload, limit).await?;
    Ok(web::block(move || read(&format, file)).await.map_err(stopped)??)
}

/// Bytes of an upload gathered before they are written to its file: a write a chunk of the
/// network's would be a thread hand-off every few kilobytes.
const SPOOL_WRITE_BYTES: usize = 1 << 20;

/// The request body in a temporary file, at its start.
async fn spool(req: &HttpRequest, mut payload: Payload, limit: usize) -> Result<File, ApiError> {
    crate::routes::refuse_declared_length(req, limit)?;
    let mut file = web::block(tempfile::tempfile).await.map_err(stopped)?.map_err(unwritable)?;
    let (mut buffer, mut size) = (Vec::with_capacity(SPOOL_WRITE_BYTES), 0);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        size += chunk.len();
        if size > limit {
            return Err(ApiError::body_too_large(limit));
        }
        buffer.extend_from_slice(&chunk);
        if buffer.len() >= SPOOL_WRITE_BYTES {
            (file, buffer) = append(file, buffer).await?;
        }
    }
    let (mut file, _) = append(file, buffer).await?;
    file.seek(SeekFrom::Start(0)).map_err(unwritable)?;
    Ok(file)
}

/// Appends `buffer` to `file` off the request's thread; gives both back, the buffer emptied.
async fn append(mut file: File, mut buffer: Vec<u8>) -> Result<(File, Vec<u8>), ApiError> {
    let appended = web::block(move || {
        let written = file.write_all(&buffer);
        buffer.clear();
        written.map(|()| (file, buffer))
    });
    appended.await.map_err(stopped)?.map_err(unwritable)
}

fn unwritable(e: io::Error) -> ApiError {
    EngineError::Internal(format!("cannot keep the upload in a temporary file: {e}")).into()
}

fn stopped(e: actix_web::error::BlockingError) -> ApiError {
    EngineError::Internal(format!("keeping the upload stopped: {e}")).into()
}

/// Reads `source` as `format` (`csv`, `xlsx`; `xls` and `ods` are refused).
pub(crate) fn read<R: Read + Seek + Send + 'static>(format: &str, source: R) -> Result<Table, Refusal> {
    match format {
        "csv" => read_csv(source),
        "xlsx" => read_xlsx(BufReader::new(source)),
        "xls" | "ods" => Err(Refusal::Unsupported),
        other => Err(Refusal::Malformed(format!("unknown format `{other}` (csv or xlsx)"))),
    }
}

/// Characters that start a formula in a spreadsheet: our CSV exports put a `'` before text
/// beginning with one (`reports::export`'s `FORMULA_TRIGGERS`, which this list must follow).
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell` as it was before our CSV export defused it: without the `'` put before a formula
/// trigger, so importing an export gives back the values exported (`+86 …`, not `'+86 …`).
/// Only there: a `'` before anything else is the cell's own.
fn undefuse(cell: &str) -> &str {
    cell.strip_prefix('\'').filter(|rest| rest.starts_with(FORMULA_TRIGGERS)).unwrap_or(cell)
}

/// The first row is the header. The file is checked and its rows counted first; the table
/// then reads them again as they are taken.
fn read_csv<R: Read + Seek + Send + 'static>(mut source: R) -> Result<Table, Refusal> {
    let unreadable = |e: io::Error| Refusal::Malformed(format!("cannot read the file: {e}"));
    let start = after_byte_order_mark(&mut source).map_err(unreadable)?;
    let mut reader = csv_reader(source);
    let headers: Vec<String> =
        reader.headers().map_err(|e| Refusal::Malformed(format!("CSV header: {e}")))?.iter().map(|h| undefuse(h).to_owned()).collect();
    check_width(headers.len())?;
    let (mut record, mut rows) = (csv::StringRecord::new(), 0);
    while reader.read_record(&mut record).map_err(|e| Refusal::Malformed(format!("CSV row {}: {e}", rows + 2)))? {
        check_width(record.len())?;
        rows += 1;
        check_rows(rows)?;
    }
    let mut source = reader.into_inner();
    source.seek(SeekFrom::Start(start)).map_err(unreadable)?;
    let mut reader = csv_reader(source);
    reader.headers().map_err(|e| unreadable(e.into()))?;
    let cells = reader.into_records().map(|record| Ok(record?.iter().map(|cell| undefuse(cell).to_owned()).collect()));
    Ok(Table::streamed(headers, rows, cells))
}

fn csv_reader<R: Read>(source: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().flexible(true).from_reader(source)
}

/// Moves past a UTF-8 byte-order mark at the start of `source`, if there is one; returns where
/// the text starts.
fn after_byte_order_mark(source: &mut (impl Read + Seek)) -> io::Result<u64> {
    let mut first = [0; 3];
    let mut filled = 0;
    while filled < first.len() {
        match source.read(&mut first[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    let start = if first[..filled] == *b"\xEF\xBB\xBF" { 3 } else { 0 };
    source.seek(SeekFrom::Start(start))
}

/// The first sheet; dates become `YYYY-MM-DD` (or ISO date-times), whole numbers lose `.0`.
/// The header is its first row with a value; the table starts at its first column with one.
fn read_xlsx<R: Read + Seek>(mut source: R) -> Result<Table, Refusal> {
    check_unzipped_size(&mut source, MAX_UNZIPPED_BYTES)?;
    source.seek(SeekFrom::Start(0)).map_err(not_xlsx)?;
    // calamine indexes by what the file says without checking it (a cell naming a shared
    // string past the last one panics, found by the fuzz targets below): a panic there is a
    // workbook it cannot read, not a fault of the server's. The reader is dropped with it.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_workbook(source)))
        .unwrap_or_else(|_| Err(Refusal::Malformed(format!("the workbook's contents contradict each other; {SEND_INSTEAD}"))))
}

/// The first sheet of the workbook `bytes`, within the bounds.
fn read_workbook<R: Read + Seek>(source: R) -> Result<Table, Refusal> {
    let mut book = Xlsx::new(source).map_err(not_xlsx)?;
    let first = book.sheet_names().into_iter().next().ok_or_else(|| Refusal::Malformed("the workbook has no sheet".into()))?;
    let mut cells = book.worksheet_cells_reader(&first).map_err(|e| Refusal::Malformed(format!("cannot read the first sheet: {e}")))?;
    let mut sheet = SparseSheet::default();
    while let Some(cell) = cells.next_cell().map_err(|e| Refusal::Malformed(format!("cannot read the first sheet: {e}")))? {
        let text = text(cell.get_value());
        if !text.is_empty() {
            let (row, column) = cell.get_position();
            sheet.put(row, column as usize, text)?;
        }
    }
    sheet.into_table()
}

fn not_xlsx(e: impl std::fmt::Display) -> Refusal {
    Refusal::Malformed(format!("not an xlsx workbook ({e}); {SEND_INSTEAD}"))
}

/// Refuses a zip whose entries decompress to more than `limit` bytes together. The sizes an
/// entry declares are checked first, then what it really gives (a zip can lie), through a
/// reader that stops one byte past what is left.
fn check_unzipped_size(source: impl Read + Seek, limit: u64) -> Result<(), Refusal> {
    let mut archive = zip::ZipArchive::new(source).map_err(not_xlsx)?;
    let too_large = || Refusal::TooLarge(format!("the workbook unzips to more than {limit} bytes, the most an import reads"));
    let mut left = limit;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(not_xlsx)?;
        if entry.size() > left {
            return Err(too_large());
        }
        let unzipped = io::copy(&mut entry.take(left + 1), &mut io::sink()).map_err(not_xlsx)?;
        left = left.checked_sub(unzipped).ok_or_else(too_large)?;
    }
    Ok(())
}

/// The cells a sheet has, by row, each row as wide as its last value, within the bounds.
#[derive(Default)]
struct SparseSheet {
    rows: BTreeMap<u32, Vec<String>>,
    /// Cells held, counting the empty ones before each row's last value.
    cells: usize,
    /// The leftmost column with a value: the table starts there.
    first_column: Option<usize>,
}

impl SparseSheet {
    fn put(&mut self, row: u32, column: usize, text: String) -> Result<(), Refusal> {
        check_width(column + 1)?;
        if !self.rows.contains_key(&row) {
            // The first row is the header.
            check_rows(self.rows.len())?;
        }
        let cells = self.rows.entry(row).or_default();
        if cells.len() <= column {
            self.cells += column + 1 - cells.len();
            check_cells(self.cells)?;
            cells.resize(column + 1, String::new());
        }
        cells[column] = text;
        self.first_column = Some(self.first_column.map_or(column, |first| first.min(column)));
        Ok(())
    }

    fn into_table(self) -> Result<Table, Refusal> {
        let skipped = self.first_column.unwrap_or(0);
        let mut rows = self.rows.into_values().map(|mut cells| cells.split_off(skipped.min(cells.len())));
        let headers = rows.next().ok_or_else(|| Refusal::Malformed("the first sheet is empty".into()))?;
        Ok(Table::new(headers, rows.collect()))
    }
}

fn check_width(columns: usize) -> Result<(), Refusal> {
    if columns > MAX_SHEET_COLUMNS {
        return Err(Refusal::TooLarge(format!(
            "the table has a value in column {columns}; an import reads at most {MAX_SHEET_COLUMNS} columns"
        )));
    }
    Ok(())
}

fn check_rows(data_rows: usize) -> Result<(), Refusal> {
    if data_rows > MAX_SHEET_ROWS {
        return Err(Refusal::TooLarge(format!("the table has more than {MAX_SHEET_ROWS} rows, the most an import reads; split the file")));
    }
    Ok(())
}

fn check_cells(cells: usize) -> Result<(), Refusal> {
    if cells > MAX_SHEET_CELLS {
        return Err(Refusal::TooLarge(format!(
            "the table has more than {MAX_SHEET_CELLS} cells (counting the empty ones before each row's last value), \
             the most an import reads; split the file"
        )));
    }
    Ok(())
}

fn text(data: &DataRef<'_>) -> String {
    match data {
        DataRef::Empty | DataRef::Error(_) => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(_) => match data.as_datetime() {
            Some(t) if t.format("%H:%M:%S").to_string() == "00:00:00" => t.date().format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    /// Reads `bytes` as `format` and takes every row, as an import does: a file checked and
    /// counted is read again to its end without a fault.
    pub(super) fn read_all(format: &str, bytes: &[u8]) -> Result<(Vec<String>, Vec<Vec<String>>), Refusal> {
        let table = read(format, Cursor::new(bytes.to_vec()))?;
        let (headers, total) = (table.headers.clone(), table.total());
        let rows: Vec<Vec<String>> = table.into_rows().map(|row| row.expect("a counted row reads again")).collect();
        assert_eq!(rows.len(), total, "the rows counted are the rows read");
        Ok((headers, rows))
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_a_cell_may_span_lines() {
        let (headers, rows) = read_all("csv", "\u{FEFF}name,note\n客户,\"two\nlines\"\nb,\n".as_bytes()).unwrap();
        assert_eq!(headers, ["name", "note"]);
        assert_eq!(rows, [vec!["客户".to_owned(), "two\nlines".to_owned()], vec!["b".to_owned(), String::new()]]);
        assert!(matches!(read_all("csv", b"name\n\xFF\n"), Err(Refusal::Malformed(m)) if m.contains("row 2")));
        assert_eq!(read_all("csv", b"").unwrap(), (Vec::<String>::new(), Vec::<Vec<String>>::new()));
    }

    /// A zip of one deflated entry of `size` spaces.
    fn zip_of_spaces(size: usize) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer.start_file("xl/sharedStrings.xml", zip::write::SimpleFileOptions::default()).unwrap();
        writer.write_all(&vec![b' '; size]).unwrap();
        writer.finish().unwrap().into_inner()
    }

    /// Makes the only entry of `zip` declare `size` uncompressed bytes, in its local header and
    /// in the central directory.
    fn declare(zip: &mut [u8], size: u32) {
        for (signature, offset) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = zip.windows(4).position(|w| w == signature).unwrap() + offset;
            zip[at..at + 4].copy_from_slice(&size.to_le_bytes());
        }
    }

    #[test]
    fn the_quote_mark_our_export_puts_before_a_formula_is_taken_off_and_no_other() {
        let csv = "\"'=name\",plain\n\"'=1+1\",\"'+86 138\"\n\"'-x\",\"'@a\"\n\"'\t=1\",\"'\r=1\"\n'quoted,''=1\n";
        let (headers, rows) = read_all("csv", csv.as_bytes()).unwrap();
        assert_eq!(headers, ["=name", "plain"]);
        let expected = [["=1+1", "+86 138"], ["-x", "@a"], ["\t=1", "\r=1"], ["'quoted", "''=1"]];
        assert_eq!(rows, expected.map(|row| row.map(str::to_owned).to_vec()));
    }

    #[test]
    fn a_zip_past_its_unzipped_bound_is_refused_whatever_its_entries_declare() {
        assert!(check_unzipped_size(Cursor::new(zip_of_spaces(1_000)), 1_000).is_ok());
        assert!(matches!(check_unzipped_size(Cursor::new(zip_of_spaces(1_001)), 1_000), Err(Refusal::TooLarge(_))));
        let mut liar = zip_of_spaces(100_000);
        declare(&mut liar, 10);
        assert!(
            matches!(check_unzipped_size(Cursor::new(liar), 1_000), Err(Refusal::TooLarge(_))),
            "declaring 10 bytes lets no more through"
        );
    }
}

/// Fuzz targets (issue 24): the import parser fed random and mutated files must answer a table
/// or a refusal, never panic. `PROPTEST_CASES` runs them longer.
#[cfg(test)]
mod fuzz {
    use std::io::{Cursor, Read, Write};

    use proptest::prelude::*;

    use super::tests::read_all;
    use super::*;

    fn cases(default: u32) -> u32 {
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
    }

    /// A small valid workbook: a header row and a few rows of text, numbers and dates.
    fn workbook() -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (col, header) in ["name", "amount", "closes_on"].iter().enumerate() {
            sheet.write_string(0, col as u16, *header).unwrap();
        }
        for row in 1..5u32 {
            sheet.write_string(row, 0, format!("Account {row}")).unwrap();
            sheet.write_number(row, 1, f64::from(row) * 1.5).unwrap();
            sheet.write_string(row, 2, "2026-12-05").unwrap();
        }
        book.save_to_buffer().unwrap()
    }

    /// `zip` with `snippet` put into its entry `pick` chooses, at `at`, zipped again.
    fn with_snippet(zip: &[u8], pick: usize, at: usize, snippet: &str) -> Vec<u8> {
        let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
        let pick = pick % archive.len();
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let mut text = Vec::new();
            entry.read_to_end(&mut text).unwrap();
            if i == pick {
                let at = at % (text.len() + 1);
                text.splice(at..at, snippet.bytes());
            }
            out.start_file(entry.name().to_owned(), zip::write::SimpleFileOptions::default()).unwrap();
            out.write_all(&text).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    /// The first input the fuzz targets found: a cell of the sheet names a shared string past the
    /// last one (calamine panicked, so the import answered nothing).
    #[test]
    fn a_workbook_whose_cells_name_missing_shared_strings_is_refused() {
        let broken = with_snippet(&workbook(), 14176299410738606117, 14462939051176477181, "<a>");
        assert!(matches!(read_all("xlsx", &broken), Err(Refusal::Malformed(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(256)))]

        #[test]
        fn any_bytes_are_a_table_or_a_refusal(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let _ = read_all("csv", &bytes);
            let _ = read_all("xlsx", &bytes);
        }

        #[test]
        fn any_csv_of_quotes_separators_and_lines_is_read(text in "[a-z0-9,;\"'=+\r\n\t \u{FEFF}中]{0,400}") {
            let _ = read_all("csv", text.as_bytes());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(64)))]

        /// A workbook with some of its bytes changed: mostly a broken zip.
        #[test]
        fn a_workbook_with_bytes_changed_is_read_or_refused(changes in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            let mut bytes = workbook();
            let len = bytes.len();
            for (at, byte) in changes {
                bytes[at % len] = byte;
            }
            let _ = read_all("xlsx", &bytes);
        }

        /// A workbook whose XML (sheet, shared strings, styles, workbook) has text put in: a
        /// zip that opens, and a document the reader must make sense of or refuse.
        #[test]
        fn a_workbook_with_its_xml_changed_is_read_or_refused(
            entry in any::<usize>(),
            at in any::<usize>(),
            snippet in prop_oneof!["<[a-z:]{1,6}( [a-z]{1,3}=\"[A-Z0-9]{0,4}\")?/?>", "</?[a-z]{1,4}>", "[0-9A-Z\"<>&;]{0,10}"],
        ) {
            let _ = read_all("xlsx", &with_snippet(&workbook(), entry, at, &snippet));
        }
    }
}
