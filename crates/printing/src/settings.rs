//! The company the documents are printed for: its letterhead, and the seller's party details on
//! contracts. The engine fills it from the app's settings; this crate only reads it.

use serde::Serialize;

/// The letterhead and company details; templates see it as `company` (`{{company.name}}`).
/// Only `name` is required; empty parts are left out of the letterhead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrintSettings {
    /// The company's name in the document's language, e.g. `上海云杉软件有限公司`.
    pub name: String,
    /// The name in the other language, printed smaller under it on bilingual letterheads.
    pub name_alt: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    /// An image URL (`https://…`, `/files/…` or a `data:` URI) shown left of the name.
    pub logo_url: Option<String>,
    /// Unified social credit code (统一社会信用代码) or other tax id, printed on contracts.
    pub tax_id: Option<String>,
    /// Bank and account payments go to, printed on quotes and contracts.
    pub bank_name: Option<String>,
    pub bank_account: Option<String>,
}
