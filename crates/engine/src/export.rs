//! Export of a list (filters and sort applied) as CSV or XLSX: only users with the `export`
//! right, only records they may read, only fields they may see. CSV is produced page by page so
//! the server can stream it; an XLSX file is a zip and is built whole, on a blocking thread.
//! Both are written by `reports` (formulas defused in CSV, over-long cells cut in XLSX).

use defs::Action;
use serde_json::{Value, json};

use crate::access::Access;
use crate::reports::on_blocking_pool;
use crate::{Actor, AppId, Engine, EngineError, FormId, ListParams};

/// Rows per page while exporting.
const PAGE: u64 = 500;
/// Excel's row limit (less the header).
const XLSX_MAX_ROWS: usize = 1_048_575;

/// An export in progress: what to read and the header line.
#[derive(Debug, Clone)]
pub struct Export {
    app: AppId,
    form: FormId,
    params: ListParams,
    /// Field ids, in column order after the system columns.
    fields: Vec<String>,
    pub headers: Vec<String>,
}

impl Engine {
    /// Checks the right to export and fixes the columns: record id, owner, timestamps, then
    /// every field the actor may see, headed by its label in `locale`.
    pub fn export_start(&self, actor: &Actor, app: &AppId, form: &FormId, params: ListParams, locale: &str) -> Result<Export, EngineError> {
        let loaded = self.app(app.as_str())?;
        let rt = loaded.form(form.as_str())?;
        let access = Access::of(actor, rt);
        access.require(Action::Export, form.as_str())?;
        access.require(Action::Read, form.as_str())?;
        let visible: Vec<&defs::Field> = rt.compiled.def.fields.iter().filter(|f| !access.hidden.contains(&f.id)).collect();
        let mut headers: Vec<String> = ["id", "owner", "created_at", "updated_at"].iter().map(|s| s.to_string()).collect();
        headers.extend(visible.iter().map(|f| f.label.text(locale).to_owned()));
        let fields = visible.iter().map(|f| f.id.clone()).collect();
        let params = ListParams { limit: Some(PAGE), cursor: None, fields: None, deleted: None, ..params };
        Ok(Export { app: app.clone(), form: form.clone(), params, fields, headers })
    }

    /// The rows after `cursor` and the cursor of the next page (None: done).
    pub async fn export_page(
        &self,
        actor: &Actor,
        export: &Export,
        cursor: Option<String>,
    ) -> Result<(Vec<Vec<Value>>, Option<String>), EngineError> {
        let params = ListParams { cursor, ..export.params.clone() };
        let page = self.list(actor, &export.app, &export.form, &params).await?;
        let rows = page
            .items
            .into_iter()
            .map(|e| {
                let mut row = vec![json!(e.id), json!(e.owner), json!(e.created_at), json!(e.updated_at)];
                row.extend(export.fields.iter().map(|f| e.data.get(f).cloned().unwrap_or(Value::Null)));
                row
            })
            .collect();
        Ok((rows, page.next_cursor))
    }

    /// The whole export as one XLSX workbook, written a page at a time: memory holds a page of
    /// rows and the workbook's file, whatever the number of rows.
    pub async fn export_xlsx(&self, actor: &Actor, export: &Export) -> Result<Vec<u8>, EngineError> {
        let mut sheet = reports::XlsxSheet::new(export.form.as_str(), &export.headers).map_err(EngineError::Internal)?;
        let (mut written, mut cursor) = (0, None);
        loop {
            let (page, next) = self.export_page(actor, export, cursor).await?;
            written += page.len();
            if written > XLSX_MAX_ROWS {
                return Err(EngineError::malformed("more rows than a spreadsheet holds; narrow the filter or export CSV"));
            }
            sheet.write_rows(&page).map_err(EngineError::Internal)?;
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // Zipping the workbook is CPU work proportional to the rows: off the request threads.
        on_blocking_pool(move || sheet.finish().map_err(EngineError::Internal)).await
    }
}

/// CSV text of `rows`, preceded by the byte-order mark and `headers` when given (the first
/// chunk); formulas defused as in every CSV the platform writes.
pub fn csv_chunk(headers: Option<&[String]>, rows: &[Vec<Value>]) -> Vec<u8> {
    match headers {
        Some(headers) => reports::to_csv(headers, rows),
        None => reports::csv_lines(None, rows),
    }
}
