//! Operators' view of the phone line: the calls in progress with the step each caller
//! is in (`call::live`), and the call records (`store::calls`) filtered by outcome,
//! number called and dates, newest first. The filters are read by the operator API's
//! own `call_filter`, so the page and `GET /api/v1/operator/calls` select the same calls.

use super::forms::FieldErrors;
use super::{format, Current, Layout, PageError};
use crate::extranet::error::ApiError;
use crate::extranet::operator::{call_filter, CallsQuery};
use crate::extranet::AppState;
use crate::store::users::Role;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

/// Records shown at first; "show more" adds as many again.
pub const PAGE_SIZE: u32 = 50;
/// The most records one page shows (the store's own limit).
pub const MAX_SHOWN: u32 = 1000;

/// The outcomes a record can have, in the order the filter offers them.
const OUTCOMES: [&str; 6] = ["paid", "refused", "abandoned", "invalid_invoice", "platform_error", "completed"];

/// The filters as typed (kept to fill the form again).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    service: String,
    /// YYYY-MM-DD, from midnight UTC.
    #[serde(default)]
    from: String,
    /// YYYY-MM-DD, included.
    #[serde(default)]
    to: String,
    #[serde(default)]
    limit: String,
}

/// A call in progress.
pub struct LiveRow {
    /// Who is calling (the From number).
    pub caller: String,
    /// The number called.
    pub service: String,
    /// When the call started.
    pub since: String,
    /// How long it has lasted so far.
    pub elapsed: String,
    /// The dialplan step the caller is in now.
    pub step: String,
}

/// A call record.
pub struct RecordRow {
    /// SIP Call-ID, to find the call in the logs.
    pub call_id: String,
    /// When the call started.
    pub start: String,
    /// How long it lasted.
    pub duration: String,
    /// Who called (the From number).
    pub caller: String,
    /// The number called.
    pub service: String,
    /// The flow and version that answered, or a dash.
    pub flow: String,
    /// The language the call ended in.
    pub language: String,
    /// The outcome in the page's language.
    pub outcome: &'static str,
    /// The outcome's code, for its colour and the tests.
    pub outcome_code: String,
    /// The invoice the caller paid or tried to, if any.
    pub invoice: String,
    /// The transaction the call made, if any.
    pub transaction: String,
    /// "N step(s)", the summary of the steps' list.
    pub steps_count: String,
    /// The steps entered, in order.
    pub steps: String,
}

#[derive(Template)]
#[template(path = "calls.html")]
struct CallsPage {
    l: Layout,
    f: Filters,
    errors: FieldErrors,
    outcomes: Vec<(&'static str, &'static str)>,
    live_hint: String,
    live: Vec<LiveRow>,
    shown: String,
    records: Vec<RecordRow>,
    more_href: String,
}

/// The API's query for the page's filters: empty fields are no filter, and the `to`
/// day is included (the API's `to` is the instant calls started before).
fn api_query(f: &Filters, limit: u32) -> CallsQuery {
    let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let to = given(&f.to).map(|to| match chrono::NaiveDate::parse_from_str(&to, "%Y-%m-%d") {
        Ok(d) => d.succ_opt().map(|n| n.to_string()).unwrap_or(to),
        Err(_) => to,
    });
    CallsQuery { outcome: given(&f.outcome), service: given(&f.service), from: given(&f.from), to, limit: Some(limit) }
}

/// GET /operator/calls?outcome=&service=&from=&to=&limit=
pub async fn list(State(st): State<AppState>, cur: Current, Query(f): Query<Filters>) -> Result<Response, PageError> {
    cur.require(Role::Operator)?;
    let op = st.operator.as_ref().ok_or(PageError::NotFound)?;
    let t = cur.lang.texts();
    let now = st.store.now_ms();
    let live = op
        .live
        .snapshot()
        .into_iter()
        .map(|c| LiveRow {
            since: format::datetime_s(c.started_at),
            elapsed: format::duration(now - c.started_at),
            step: if c.step.is_empty() { "—".to_string() } else { c.step },
            caller: c.caller,
            service: c.service,
        })
        .collect();
    let limit = f.limit.trim().parse::<u32>().unwrap_or(PAGE_SIZE).clamp(1, MAX_SHOWN);
    let q = api_query(&f, limit);
    let (errors, mut found) = match call_filter(&q) {
        Ok(filter) => (FieldErrors::default(), st.store.list_calls(&filter, limit + 1).await?),
        Err(ApiError::Invalid(errs)) => (FieldErrors::from_core(cur.lang, &errs), Vec::new()),
        Err(e) => return Err(PageError::BadRequest(e.to_string())),
    };
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let dash = || "—".to_string();
    let records: Vec<RecordRow> = found
        .into_iter()
        .map(|c| RecordRow {
            start: format::datetime_s(c.started_at),
            duration: c.ended_at.map(|e| format::duration(e - c.started_at)).unwrap_or_else(dash),
            flow: match (&c.flow, &c.flow_version) {
                (Some(f), Some(v)) => format!("{f} · {v}"),
                (Some(f), None) => f.clone(),
                _ => dash(),
            },
            language: c.language.clone().filter(|l| !l.is_empty()).unwrap_or_else(dash),
            outcome: format::outcome(cur.lang, c.outcome.as_deref()),
            outcome_code: c.outcome.clone().unwrap_or_else(|| "none".into()),
            invoice: c.invoice_id.clone().unwrap_or_else(dash),
            transaction: c.transaction_reference.clone().unwrap_or_else(dash),
            steps_count: t.steps_count.replace("{n}", &c.steps.len().to_string()),
            steps: c.steps.join(" → "),
            call_id: c.call_id,
            caller: c.caller,
            service: c.service,
        })
        .collect();
    let more_href = if more && limit < MAX_SHOWN {
        let next = (limit + PAGE_SIZE).min(MAX_SHOWN).to_string();
        let pairs = [
            ("outcome", f.outcome.as_str()),
            ("service", f.service.as_str()),
            ("from", f.from.as_str()),
            ("to", f.to.as_str()),
            ("limit", next.as_str()),
        ];
        format!("/operator/calls{}", format::query(&pairs))
    } else {
        String::new()
    };
    let page = CallsPage {
        l: Layout::new(&cur, t.t_calls, "/operator/calls"),
        outcomes: OUTCOMES.iter().map(|o| (*o, format::outcome(cur.lang, Some(o)))).collect(),
        live_hint: t.calls_live_hint.replace("{at}", &format::datetime_s(now)),
        live,
        shown: t.calls_shown.replace("{n}", &records.len().to_string()),
        records,
        more_href,
        errors,
        f,
    };
    let status =
        if page.errors.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    super::html(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extranet::pages::Lang;
    use crate::ivr::app::CallOutcome;

    #[test]
    fn every_outcome_is_offered_and_named_in_both_languages() {
        for o in OUTCOMES {
            assert!(CallOutcome::parse(o).is_some(), "{o}");
            for lang in Lang::ALL {
                assert_ne!(format::outcome(lang, Some(o)), "?", "{o}");
            }
        }
    }

    #[test]
    fn the_to_day_is_included_and_empty_fields_filter_nothing() {
        let f = Filters { to: "2026-12-31".into(), outcome: " ".into(), ..Filters::default() };
        let q = api_query(&f, 50);
        assert_eq!((q.to.as_deref(), q.outcome, q.from), (Some("2027-01-01"), None, None));
        let bad = api_query(&Filters { to: "31/12".into(), ..Filters::default() }, 50);
        assert_eq!(bad.to.as_deref(), Some("31/12"), "left for the API's check to name");
    }
}
