//! `/api/v1/invoices`: create, read, list and cancel a merchant's invoices. The answer
//! to a creation carries what the customer needs to pay: the payment code and the
//! number to call.

use super::auth::ApiMerchant;
use super::error::ApiError;
use super::query::ApiQuery;
use super::AppState;
use crate::payments::invoice::Invoice;
use crate::payments::invoice::{FieldError, InvoiceInput, InvoiceStatus};
use crate::payments::merchant::Merchant;
use crate::payments::money::Money;
use crate::store::invoices::{Created, InvoiceFilter};
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Fields accepted in a creation body.
const FIELDS: [&str; 8] =
    ["reference", "amount", "currency", "due_date", "expiry_date", "customer_name", "customer_contact", "description"];

/// The names accepted in a creation body (the OpenAPI test checks they are documented).
pub fn input_fields() -> &'static [&'static str] {
    &FIELDS
}

/// Reads a JSON object into [`InvoiceInput`], naming any field of the wrong type or
/// unknown, rather than failing on the first serde error.
pub fn input_from_json(body: &[u8]) -> Result<InvoiceInput, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadBody(format!("not valid JSON: {e}")))?;
    let Value::Object(obj) = v else { return Err(ApiError::BadBody("expected a JSON object".into())) };
    let mut errs = Vec::new();
    for k in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        let field = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(k)).copied().unwrap_or("body");
        errs.push(FieldError::new(field, format!("unknown field '{k}'")));
    }
    let text = |obj: &Map<String, Value>, f: &'static str, errs: &mut Vec<FieldError>| match obj.get(f) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errs.push(FieldError::new(f, "must be a string"));
            None
        }
    };
    let amount = match obj.get("amount") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(_) => {
            errs.push(FieldError::new("amount", "must be an integer number of minor units (12345 for 123.45)"));
            None
        }
    };
    let input = InvoiceInput {
        reference: text(&obj, "reference", &mut errs),
        amount,
        currency: text(&obj, "currency", &mut errs),
        due_date: text(&obj, "due_date", &mut errs),
        expiry_date: text(&obj, "expiry_date", &mut errs),
        customer_name: text(&obj, "customer_name", &mut errs),
        customer_contact: text(&obj, "customer_contact", &mut errs),
        description: text(&obj, "description", &mut errs),
    };
    if errs.is_empty() {
        Ok(input)
    } else {
        Err(ApiError::Invalid(errs))
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The JSON form of an invoice, with what to send the customer.
pub fn invoice_json(i: &Invoice, m: &Merchant) -> Value {
    json!({
        "id": i.id,
        "reference": i.reference,
        "amount": i.amount,
        "currency": i.currency.code(),
        "amount_display": Money { minor: i.amount, currency: i.currency }.to_string(),
        "due_date": i.due_date.to_string(),
        "expires_at": rfc3339(i.expires_at),
        "customer_name": i.customer_name,
        "customer_contact": i.customer_contact,
        "description": i.description,
        "status": i.status,
        "payment_code": i.payment_code,
        "phone_number": m.phone_number,
        "created_at": rfc3339(i.created_at),
        "updated_at": rfc3339(i.updated_at),
    })
}

/// POST /api/v1/invoices
pub async fn create(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let input = input_from_json(&body)?;
    let new = input.validate(chrono::Utc::now().date_naive()).map_err(ApiError::Invalid)?;
    match st.store.create_invoice(&m.id, &new).await {
        Ok(Created::New(i)) => Ok((StatusCode::CREATED, Json(invoice_json(&i, &m)))),
        Ok(Created::Existing(i)) => Ok((StatusCode::OK, Json(invoice_json(&i, &m)))),
        Err(StoreError::Conflict(message)) => Err(ApiError::Conflict { field: Some("reference"), message }),
        Err(e) => Err(e.into()),
    }
}

/// GET /api/v1/invoices/{id}
pub async fn get(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let i = st.store.invoice(&m.id, &id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(invoice_json(&i, &m)))
}

/// Query parameters of the listing (an unknown one is refused, so a misspelt filter
/// does not silently list everything).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    reference: Option<String>,
    created_from: Option<String>,
    created_to: Option<String>,
    min_amount: Option<i64>,
    max_amount: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn day_start(field: &'static str, s: &str) -> Result<i64, FieldError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis())
        .map_err(|_| FieldError::new(field, "use the format YYYY-MM-DD"))
}

/// GET /api/v1/invoices?status=&reference=&created_from=&created_to=&min_amount=&max_amount=&limit=&cursor=
pub async fn list(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let cursor = super::query::page_cursor(q.cursor.as_deref())?;
    let mut errs = Vec::new();
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => {
            let st = InvoiceStatus::parse(&s.to_ascii_uppercase());
            if st.is_none() {
                errs.push(FieldError::new("status", "use PAYABLE, PAID, CANCELLED or EXPIRED"));
            }
            st
        }
    };
    let mut date = |f: &'static str, v: &Option<String>| {
        v.as_deref().filter(|s| !s.is_empty()).and_then(|s| day_start(f, s).map_err(|e| errs.push(e)).ok())
    };
    let created_from = date("created_from", &q.created_from);
    let created_to = date("created_to", &q.created_to).map(|t| t + 86_400_000);
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        errs.push(FieldError::new("limit", "between 1 and 500"));
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let filter = InvoiceFilter {
        status,
        reference: q.reference.filter(|r| !r.is_empty()),
        created_from,
        created_to,
        min_amount: q.min_amount,
        max_amount: q.max_amount,
    };
    let page = st.store.list_invoices(&m.id, &filter, limit, cursor).await?;
    let items: Vec<Value> = page.items.iter().map(|i| invoice_json(i, &m)).collect();
    Ok(Json(json!({"items": items, "next_cursor": page.next})))
}

/// POST /api/v1/invoices/{id}/cancel
pub async fn cancel(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let i = st.store.cancel_invoice(&m.id, &id).await?.ok_or(ApiError::NotFound)?;
    if i.status != InvoiceStatus::Cancelled {
        return Err(ApiError::Conflict {
            field: Some("status"),
            message: format!("invoice is {}, only PAYABLE invoices can be cancelled", i.status.as_str()),
        });
    }
    Ok(Json(invoice_json(&i, &m)))
}
