//! A merchant's invoices: search and filter them a page at a time, create one in a form
//! that shows each problem beside its field, hand its payment code and number to the
//! customer, and follow it: payment attempts, masked card, response codes, the
//! non-guaranteed mark and every status change. Validation and storage are the same
//! calls the JSON API makes.

use super::deliveries::{self, DeliveryRow};
use super::forms::FieldErrors;
use super::i18n::Lang;
use super::{format, ok, Current, Layout, PageError};
use crate::extranet::AppState;
use crate::payments::cash::{self, Operation};
use crate::payments::invoice::Invoice;
use crate::payments::invoice::{InvoiceInput, InvoiceStatus};
use crate::payments::money::{parse_decimal, Currency};
use crate::payments::transaction::Transaction;
use crate::store::invoices::{Created, InvoiceFilter};
use crate::store::notification_log::Subject;
use crate::store::StoreError;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

/// Invoices per page of the list.
pub const PAGE_SIZE: u32 = 20;

/// The list's filters, as typed (kept to fill the form again).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    created_from: String,
    #[serde(default)]
    created_to: String,
    #[serde(default)]
    min_amount: String,
    #[serde(default)]
    max_amount: String,
    #[serde(default)]
    cursor: String,
}

/// A line of the list.
pub struct Row {
    /// The invoice's id, for its link.
    pub id: String,
    /// The merchant's reference.
    pub reference: String,
    /// The customer's name.
    pub customer: String,
    /// The amount, formatted for the page's language.
    pub amount: String,
    /// The due date.
    pub due: String,
    /// The status in the page's language.
    pub status: &'static str,
    /// The status's code, for its colour.
    pub status_code: String,
    /// When it was created.
    pub created: String,
}

#[derive(Template)]
#[template(path = "invoices.html")]
struct ListPage {
    l: Layout,
    f: Filters,
    errors: FieldErrors,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    first_href: String,
    next_href: String,
}

fn day(s: &str) -> Option<Result<i64, ()>> {
    let s = s.trim();
    (!s.is_empty()).then(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis())
            .map_err(|_| ())
    })
}

/// GET /invoices
pub async fn list(State(st): State<AppState>, cur: Current, Query(f): Query<Filters>) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?;
    let t = cur.lang.texts();
    let mut errors = FieldErrors::default();
    let bad_date = crate::extranet::pages::i18n::message(cur.lang, "use the format YYYY-MM-DD");
    let mut date = |field: &'static str, v: &str| match day(v) {
        None => None,
        Some(Ok(ms)) => Some(ms),
        Some(Err(())) => {
            errors.add(field, bad_date.clone());
            None
        }
    };
    let created_from = date("created_from", &f.created_from);
    let created_to = date("created_to", &f.created_to).map(|ms| ms + 86_400_000);
    let mut amount = |field: &'static str, v: &str| {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        let a = parse_decimal(v, Currency::Eur);
        if a.is_none() {
            errors.add(field, t.bad_amount);
        }
        a
    };
    let min_amount = amount("min_amount", &f.min_amount);
    let max_amount = amount("max_amount", &f.max_amount);
    let status = InvoiceStatus::parse(f.status.trim());
    let filter = InvoiceFilter {
        status,
        reference: Some(f.reference.trim().to_string()).filter(|r| !r.is_empty()),
        created_from,
        created_to,
        min_amount,
        max_amount,
    };
    let page = if errors.is_empty() {
        let cursor = Some(f.cursor.as_str()).filter(|c| !c.is_empty());
        st.store.list_invoices(merchant, &filter, PAGE_SIZE, cursor).await?
    } else {
        crate::store::invoices::Page { items: Vec::new(), next: None }
    };
    let rows = page
        .items
        .iter()
        .map(|i| Row {
            id: i.id.clone(),
            reference: i.reference.clone(),
            customer: i.customer_name.clone(),
            amount: format::money(cur.lang, i.amount, i.currency),
            due: i.due_date.to_string(),
            status: format::status(cur.lang, i.status.as_str()),
            status_code: i.status.as_str().to_ascii_lowercase(),
            created: format::datetime(i.created_at),
        })
        .collect();
    let base = [
        ("status", f.status.as_str()),
        ("reference", f.reference.as_str()),
        ("created_from", f.created_from.as_str()),
        ("created_to", f.created_to.as_str()),
        ("min_amount", f.min_amount.as_str()),
        ("max_amount", f.max_amount.as_str()),
    ];
    let next_href = match &page.next {
        Some(c) => {
            let mut q = base.to_vec();
            q.push(("cursor", c));
            format!("/invoices{}", format::query(&q))
        }
        None => String::new(),
    };
    let first_href = if f.cursor.is_empty() { String::new() } else { format!("/invoices{}", format::query(&base)) };
    let statuses = ["PAYABLE", "PAID", "CANCELLED", "EXPIRED"].map(|s| (s, format::status(cur.lang, s))).to_vec();
    let page =
        ListPage { l: Layout::new(&cur, t.t_invoices, "/invoices"), f, errors, statuses, rows, first_href, next_href };
    ok(&page)
}

/// The creation form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct InvoiceForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    expiry_date: String,
    #[serde(default)]
    customer_name: String,
    #[serde(default)]
    customer_contact: String,
    #[serde(default)]
    description: String,
}

#[derive(Template)]
#[template(path = "invoice_new.html")]
struct NewPage {
    l: Layout,
    v: InvoiceForm,
    errors: FieldErrors,
    currencies: Vec<&'static str>,
}

fn new_page(cur: &Current, v: InvoiceForm, errors: FieldErrors) -> NewPage {
    NewPage {
        l: Layout::new(cur, cur.lang.texts().t_new_invoice, "/invoices/new"),
        v,
        errors,
        currencies: Currency::ALL.iter().map(|c| c.code()).collect(),
    }
}

/// GET /invoices/new
pub async fn new_form(cur: Current) -> Result<Response, PageError> {
    cur.merchant_id()?;
    ok(&new_page(&cur, InvoiceForm { currency: "EUR".into(), ..InvoiceForm::default() }, FieldErrors::default()))
}

/// POST /invoices/new: the checks of the API (`InvoiceInput::validate`), with the
/// amount typed as a decimal; a reused reference is an error beside that field.
pub async fn create(
    State(st): State<AppState>,
    cur: Current,
    Form(v): Form<InvoiceForm>,
) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?.to_string();
    let t = cur.lang.texts();
    let currency = Currency::parse(v.currency.trim());
    let text = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
    let amount = match (v.amount.trim(), currency) {
        ("", _) => None,
        (a, c) => parse_decimal(a, c.unwrap_or(Currency::Eur)),
    };
    let input = InvoiceInput {
        reference: text(&v.reference),
        // A typed amount that is not a number is reported below, not as "required".
        amount: amount.or(if v.amount.trim().is_empty() { None } else { Some(1) }),
        currency: text(&v.currency),
        due_date: text(&v.due_date),
        expiry_date: text(&v.expiry_date),
        customer_name: text(&v.customer_name),
        customer_contact: text(&v.customer_contact),
        description: text(&v.description),
    };
    let mut errors = match input.validate(chrono::Utc::now().date_naive()) {
        Ok(new) if amount.is_some() || v.amount.trim().is_empty() => {
            match st.store.create_invoice(&merchant, &new).await {
                Ok(Created::New(i)) | Ok(Created::Existing(i)) => {
                    return Ok(Redirect::to(&format!("/invoices/{}/created", i.id)).into_response())
                }
                Err(StoreError::Conflict(_)) => {
                    let mut e = FieldErrors::default();
                    e.add("reference", super::i18n::message(cur.lang, "already used for a different invoice"));
                    e
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(_) => FieldErrors::default(),
        Err(errs) => FieldErrors::from_core(cur.lang, &errs),
    };
    if amount.is_none() && !v.amount.trim().is_empty() {
        errors.add("amount", t.bad_amount);
    }
    super::html(StatusCode::UNPROCESSABLE_ENTITY, &new_page(&cur, v, errors))
}

#[derive(Template)]
#[template(path = "invoice_created.html")]
struct CreatedPage {
    l: Layout,
    i: Invoice,
    phone: String,
    code: String,
    amount: String,
    expires: String,
    message: String,
}

async fn merchant_invoice(st: &AppState, cur: &Current, id: &str) -> Result<(Invoice, String), PageError> {
    let merchant = cur.merchant_id()?;
    let i = st.store.invoice(merchant, id).await?.ok_or(PageError::NotFound)?;
    let phone = st.store.merchant(merchant).await?.map(|m| m.phone_number).unwrap_or_default();
    Ok((i, phone))
}

/// The last day an invoice can be paid (its expiry instant is the end of that day).
fn last_day(i: &Invoice) -> String {
    format::date(i.expires_at - 1)
}

/// GET /invoices/{id}/created: what to send the customer, ready to copy or print.
pub async fn created(State(st): State<AppState>, cur: Current, Path(id): Path<String>) -> Result<Response, PageError> {
    let (i, phone) = merchant_invoice(&st, &cur, &id).await?;
    let t = cur.lang.texts();
    let amount = format::money(cur.lang, i.amount, i.currency);
    let code = format::grouped(&i.payment_code);
    let message = t
        .created_text
        .replace("{ref}", &i.reference)
        .replace("{amount}", &amount)
        .replace("{phone}", &phone)
        .replace("{code}", &code)
        .replace("{until}", &last_day(&i));
    let page = CreatedPage {
        l: Layout::new(&cur, t.t_created, "/invoices/new"),
        phone,
        code,
        amount,
        expires: last_day(&i),
        message,
        i,
    };
    ok(&page)
}

/// A status change as the page shows it.
pub struct HistoryRow {
    /// When the change happened.
    pub at: String,
    /// From which status to which.
    pub change: String,
    /// The amount it moved, if any.
    pub amount: String,
    /// Who made it (`ivr`, `capture-run`, `extranet:<e-mail>`, ...).
    pub by: String,
    /// The platform's answer or other details.
    pub detail: String,
}

/// A payment attempt as the page shows it (card only masked).
pub struct TxView {
    /// The transaction's reference.
    pub reference: String,
    /// The status in the page's language.
    pub status: &'static str,
    /// The status's code, for its colour.
    pub status_code: String,
    /// When the attempt was made.
    pub created: String,
    /// The masked card number (never more).
    pub card: String,
    /// The card brand.
    pub brand: String,
    /// The card's expiry, MM/YY.
    pub expiry: String,
    /// The platform's guarantee indicator as it answered (`Y`, `N`, ...).
    pub guarantee: String,
    /// Only `Y` means the payment is guaranteed; anything else (a voice-server payment
    /// normally gets `N`) is marked "not guaranteed".
    pub guaranteed: bool,
    /// The platform's response code, or a dash.
    pub response: String,
    /// The acquirer's response code, or a dash.
    pub acquirer: String,
    /// The authorisation id, or a dash.
    pub authorisation: String,
    /// The amount authorised.
    pub amount: String,
    /// The amount to capture or captured now.
    pub current: String,
    /// The amount refunded so far.
    pub refunded: String,
    /// How it is captured (AUTHOR_CAPTURE, VALIDATION).
    pub capture_mode: String,
    /// The day it is (or was) captured.
    pub capture_at: String,
    /// How it was paid (voice server, MOTO).
    pub channel: String,
    /// Cash operations the status allows: (path segment, label).
    pub ops: Vec<(&'static str, &'static str)>,
    /// Every status change, oldest first.
    pub history: Vec<HistoryRow>,
    /// Each notice sent to the merchant about it, with its delivery.
    pub notifications: Vec<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "invoice.html")]
struct InvoicePage {
    l: Layout,
    i: Invoice,
    notice: String,
    status: &'static str,
    status_code: String,
    amount: String,
    expires: String,
    code: String,
    phone: String,
    created: String,
    cancellable: bool,
    txs: Vec<TxView>,
    /// The invoice's own notices (paid, cancelled, expired).
    notifications: Vec<DeliveryRow>,
    /// Attempts whose card our checks refused (no transaction): when they happened.
    refused_calls: Vec<String>,
}

/// `?done=` after an operation.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// One payment attempt of the invoice page: its facts, operations, history and
/// notification delivery log.
async fn tx_view(st: &AppState, lang: Lang, tx: Transaction) -> Result<TxView, PageError> {
    let t = lang.texts();
    let notifications = deliveries::rows(st, lang, &tx.merchant_id, Subject::Transaction(&tx.reference)).await?;
    let money = |a: i64| format::money(lang, a, tx.currency);
    let ops =
        [(Operation::Validate, t.op_validate), (Operation::Cancel, t.op_cancel), (Operation::Refund, t.op_refund)]
            .into_iter()
            .filter(|(op, _)| cash::allowed(tx.status, *op))
            .map(|(op, label)| (op.as_str(), label))
            .collect();
    let history = st
        .store
        .history(&tx.reference)
        .await?
        .into_iter()
        .map(|h| HistoryRow {
            at: format::datetime(h.at),
            change: match &h.from_status {
                Some(f) => {
                    format!("{} → {}", format::status(lang, f.as_str()), format::status(lang, h.to_status.as_str()))
                }
                None => format::status(lang, h.to_status.as_str()).to_string(),
            },
            amount: h.amount.map(money).unwrap_or_default(),
            by: h.actor,
            detail: h.detail,
        })
        .collect();
    let expiry = match tx.expiry_month.len() {
        6 => format!("{}/{}", &tx.expiry_month[4..], &tx.expiry_month[2..4]),
        _ => tx.expiry_month.clone(),
    };
    Ok(TxView {
        status: format::status(lang, tx.status.as_str()),
        status_code: tx.status.as_str().to_ascii_lowercase(),
        created: format::datetime(tx.created_at),
        card: tx.masked_pan.clone(),
        brand: tx.brand.as_sips().to_string(),
        expiry,
        guaranteed: tx.guarantee_indicator == "Y",
        guarantee: tx.guarantee_indicator.clone(),
        response: tx.response_code.clone().unwrap_or_else(|| "—".into()),
        acquirer: tx.acquirer_response_code.clone().unwrap_or_else(|| "—".into()),
        authorisation: tx.authorisation_id.clone().unwrap_or_else(|| "—".into()),
        amount: money(tx.amount),
        current: money(tx.current_amount),
        refunded: money(tx.refunded_amount),
        capture_mode: tx.capture_mode.as_str().to_string(),
        capture_at: format::date(tx.capture_at),
        channel: format!("{} ({})", tx.channel, tx.order_channel),
        reference: tx.reference,
        ops,
        history,
        notifications,
    })
}

/// GET /invoices/{id}
pub async fn show(
    State(st): State<AppState>,
    cur: Current,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Result<Response, PageError> {
    let (i, phone) = merchant_invoice(&st, &cur, &id).await?;
    let (lang, t) = (cur.lang, cur.lang.texts());
    let mut txs = Vec::new();
    for tx in st.store.invoice_transactions(&i.merchant_id, &i.id).await? {
        txs.push(tx_view(&st, lang, tx).await?);
    }
    let refused_calls = st
        .store
        .invoice_refused_calls(&i.merchant_id, &i.id)
        .await?
        .into_iter()
        .map(|c| t.refused_call_at.replace("{at}", &format::datetime(c.started_at)))
        .collect();
    let mut notifications = deliveries::rows(&st, lang, &i.merchant_id, Subject::Invoice(&i.id)).await?;
    notifications.retain(|n| n.event.starts_with("invoice."));
    let notice = match d.done.as_str() {
        "validate" => t.op_done_validate,
        "cancel" => t.op_done_cancel,
        "refund" => t.op_done_refund,
        "cancel-invoice" => t.invoice_cancelled,
        "send-again" => t.notification_sent_again,
        _ => "",
    };
    let page = InvoicePage {
        l: Layout::new(&cur, t.t_invoice.replace("{ref}", &i.reference), "/invoices"),
        notice: notice.into(),
        status: format::status(lang, i.status.as_str()),
        status_code: i.status.as_str().to_ascii_lowercase(),
        amount: format::money(lang, i.amount, i.currency),
        expires: last_day(&i),
        code: format::grouped(&i.payment_code),
        phone,
        created: format::datetime(i.created_at),
        cancellable: i.status == InvoiceStatus::Payable,
        txs,
        refused_calls,
        notifications,
        i,
    };
    ok(&page)
}

/// GET /invoices/{id}/cancel: the confirmation step.
pub async fn cancel_form(
    State(st): State<AppState>,
    cur: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (i, _) = merchant_invoice(&st, &cur, &id).await?;
    confirm_cancel(&cur, &i, StatusCode::OK)
}

fn confirm_cancel(cur: &Current, i: &Invoice, status: StatusCode) -> Result<Response, PageError> {
    let t = cur.lang.texts();
    let error = if i.status == InvoiceStatus::Payable { "" } else { t.invoice_not_cancellable };
    let page = super::cash::ConfirmPage {
        l: Layout::new(cur, t.t_cancel_invoice.replace("{ref}", &i.reference), "/invoices")
            .back_to(&format!("/invoices/{}/cancel", i.id)),
        action: format!("/invoices/{}/cancel", i.id),
        question: t.q_cancel_invoice.into(),
        facts: vec![
            (t.f_customer_name, i.customer_name.clone()),
            (t.col_amount, format::money(cur.lang, i.amount, i.currency)),
        ],
        error: error.into(),
        can_confirm: error.is_empty(),
        expected: String::new(),
        with_amount: false,
        amount: String::new(),
        amount_error: String::new(),
        amount_hint: String::new(),
        confirm: t.cancel_invoice,
        back: format!("/invoices/{}", i.id),
    };
    super::html(status, &page)
}

/// POST /invoices/{id}/cancel: the API's cancellation.
pub async fn cancel(State(st): State<AppState>, cur: Current, Path(id): Path<String>) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?;
    let i = st.store.cancel_invoice(merchant, &id).await?.ok_or(PageError::NotFound)?;
    if i.status != InvoiceStatus::Cancelled {
        return confirm_cancel(&cur, &i, StatusCode::CONFLICT);
    }
    Ok(Redirect::to(&format!("/invoices/{}?done=cancel-invoice", i.id)).into_response())
}
