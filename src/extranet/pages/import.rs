//! CSV batch import from the browser: upload a file, get a report line per rejected
//! row with its reason. A file with bad rows imports nothing, unless the merchant ticks
//! "import the valid rows" on upload or confirms it on the report (the file travels
//! back in the form, so nothing is kept on the server between the two steps). The
//! import itself is the API's (`extranet::import::run`).

use super::{format, html, i18n, ok, Current, Layout, PageError};
use crate::extranet::import::{self as core, ImportReport};
use crate::extranet::AppState;
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

/// Largest CSV file accepted.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;

#[derive(Template)]
#[template(path = "import.html")]
struct UploadPage {
    l: Layout,
    error: String,
}

/// An invoice of the report.
pub struct ImportedView {
    /// The line of the file it came from.
    pub line: u64,
    /// The invoice's id, for its link.
    pub id: String,
    /// The merchant's reference.
    pub reference: String,
    /// The payment code to give the customer, grouped for reading.
    pub code: String,
    /// New, or already there from an earlier import.
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "import_report.html")]
struct ReportPage {
    l: Layout,
    applied: bool,
    summary: String,
    rejected: Vec<(u64, String, String)>,
    valid_rows: u64,
    valid_question: String,
    content: String,
    invoices: Vec<ImportedView>,
    phone: String,
}

/// GET /import
pub async fn form(cur: Current) -> Result<Response, PageError> {
    cur.merchant_id()?;
    ok(&UploadPage { l: Layout::new(&cur, cur.lang.texts().t_import, "/import"), error: String::new() })
}

fn refuse(cur: &Current, error: &str) -> Result<Response, PageError> {
    let page = UploadPage { l: Layout::new(cur, cur.lang.texts().t_import, "/import"), error: error.into() };
    html(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// POST /import (multipart: `file`, optional `valid_rows`).
pub async fn upload(State(st): State<AppState>, cur: Current, mut form: Multipart) -> Result<Response, PageError> {
    cur.merchant_id()?;
    let t = cur.lang.texts();
    let (mut file, mut valid_rows) = (None, false);
    while let Some(field) = form.next_field().await.map_err(|e| PageError::BadRequest(e.to_string()))? {
        match field.name() {
            Some("file") => file = Some(field.bytes().await.map_err(|e| PageError::BadRequest(e.to_string()))?),
            Some("valid_rows") => valid_rows = field.text().await.is_ok_and(|v| v == "true"),
            _ => {}
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else { return refuse(&cur, t.import_no_file) };
    if bytes.len() > MAX_FILE_BYTES {
        return refuse(&cur, t.import_too_big);
    }
    let Ok(text) = String::from_utf8(bytes.to_vec()) else { return refuse(&cur, t.import_not_utf8) };
    import(&st, &cur, text, valid_rows).await
}

/// The report's "import the valid rows" confirmation.
#[derive(Debug, Deserialize)]
pub struct ValidRowsForm {
    #[serde(default)]
    content: String,
}

/// POST /import/valid-rows
pub async fn valid_rows(
    State(st): State<AppState>,
    cur: Current,
    Form(f): Form<ValidRowsForm>,
) -> Result<Response, PageError> {
    cur.merchant_id()?;
    if f.content.len() > MAX_FILE_BYTES {
        return refuse(&cur, cur.lang.texts().import_too_big);
    }
    // A textarea sends line breaks as CRLF whatever the file had; the CSV reader takes both.
    import(&st, &cur, f.content, true).await
}

async fn import(st: &AppState, cur: &Current, text: String, valid_rows: bool) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?;
    let t = cur.lang.texts();
    let r: ImportReport = core::run(&st.store, merchant, &text, valid_rows).await?;
    let phone = st.store.merchant(merchant).await?.map(|m| m.phone_number).unwrap_or_default();
    let summary = if r.applied {
        t.import_done
            .replace("{n}", &r.imported.to_string())
            .replace("{e}", &r.existing.to_string())
            .replace("{r}", &r.rejected.len().to_string())
    } else {
        t.import_nothing.replace("{n}", &r.rejected.len().to_string())
    };
    tracing::info!(merchant, applied = r.applied, imported = r.imported, rejected = r.rejected.len(), "CSV import");
    let page = ReportPage {
        l: Layout::new(cur, t.t_import_report, "/import"),
        applied: r.applied,
        summary,
        rejected: r
            .rejected
            .iter()
            .map(|e| (e.line, i18n::field(cur.lang, &e.field), i18n::message(cur.lang, &e.reason)))
            .collect(),
        valid_rows: r.valid_rows,
        valid_question: t.import_valid_question.replace("{n}", &r.valid_rows.to_string()),
        content: if r.applied { String::new() } else { text },
        invoices: r
            .invoices
            .into_iter()
            .map(|i| ImportedView {
                line: i.line,
                id: i.id,
                reference: i.reference,
                code: format::grouped(&i.payment_code),
                state: if i.new { t.import_new } else { t.import_existing },
            })
            .collect(),
        phone,
    };
    let status = if r.applied { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html(status, &page)
}
