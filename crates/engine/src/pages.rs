//! A form's record ids a page at a time, each page read in the transaction that handles it, so
//! work over every record of a form (the daily recompute, rollups of a changed definition)
//! gives the write turn back to other writers between pages.

use store::{Conn, Cursor, Filter, FormTable, ListQuery};

use crate::EngineError;

/// Records handled in one transaction; rollups bind this many ids in one aggregate, well under
/// the report filter's `MAX_FILTER_VALUES` (1,000).
pub(crate) const RECORDS_PER_PAGE: usize = 200;

/// The ids of a form's records (those matching a filter), a page at a time.
pub(crate) struct Pages<'a> {
    table: &'a FormTable,
    filter: Option<Filter>,
    after: Option<Cursor>,
    done: bool,
}

impl<'a> Pages<'a> {
    pub(crate) fn of(table: &'a FormTable) -> Pages<'a> {
        Pages { table, filter: None, after: None, done: false }
    }

    pub(crate) fn matching(table: &'a FormTable, filter: Filter) -> Pages<'a> {
        Pages { filter: Some(filter), ..Pages::of(table) }
    }

    pub(crate) fn done(&self) -> bool {
        self.done
    }

    pub(crate) async fn next(&mut self, tx: &impl Conn) -> Result<Vec<String>, EngineError> {
        let query =
            ListQuery { filter: self.filter.clone(), after: self.after.take(), limit: RECORDS_PER_PAGE as u64, ..Default::default() };
        let ids: Vec<String> = store::list(tx, self.table, &query).await?.into_iter().map(|r| r.id).collect();
        match ids.last() {
            Some(last) if ids.len() == RECORDS_PER_PAGE => self.after = Some(Cursor { values: Vec::new(), id: last.clone() }),
            _ => self.done = true,
        }
        Ok(ids)
    }
}
