//! `/api/v1/operator`: what operators script against: the flows in force and their
//! reload, the calls in progress with their current step, and call records. Only
//! operator keys reach it.

use super::auth::ApiOperator;
use super::error::ApiError;
use super::query::ApiQuery;
use super::AppState;
use crate::call::live::LiveCalls;
use crate::ivr::dialplan::registry::{DialplanRegistry, Dialplans};
use crate::ivr::dialplan::DialplanError;
use crate::ivr::prompt_store::PromptStore;
use crate::store::calls::CallFilter;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// Handles on the running phone line.
#[derive(Clone)]
pub struct Operator {
    /// The flows in force.
    pub dialplans: Arc<DialplanRegistry>,
    /// The prompts in force (a reload checks flows against them).
    pub prompts: Arc<PromptStore>,
    /// Calls in progress.
    pub live: Arc<LiveCalls>,
}

/// A flow as operators see it in the list of flows (API and pages alike).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowSummary {
    /// Short name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Content hash of the file it was loaded from.
    pub version: String,
    /// The file, as configured (`dialplans/invoice-payment.toml`).
    pub file: String,
    /// Service numbers it answers.
    pub numbers: Vec<String>,
    /// How many steps it has.
    pub steps: usize,
}

impl FlowSummary {
    fn of(set: &Dialplans) -> Vec<FlowSummary> {
        set.plans()
            .iter()
            .map(|p| FlowSummary {
                name: p.name.clone(),
                description: p.description.clone(),
                version: p.version.clone(),
                file: p.path.display().to_string(),
                numbers: p.numbers.clone(),
                steps: p.steps.len(),
            })
            .collect()
    }
}

impl Operator {
    /// The flows serving new calls, by file name.
    pub fn flows(&self) -> Vec<FlowSummary> {
        FlowSummary::of(&self.dialplans.current())
    }

    /// What a reload would put in force now, checked against the prompts in force,
    /// without switching: the flows it would load, or every problem with its file and line.
    pub fn validate(&self) -> Result<Vec<FlowSummary>, DialplanError> {
        self.dialplans.validate(&self.prompts.current()).map(|set| FlowSummary::of(&set))
    }

    /// Reads the flows again for new calls; on error the flows in force keep serving.
    pub fn reload(&self) -> Result<Vec<FlowSummary>, DialplanError> {
        self.dialplans.reload(&self.prompts.current())?;
        Ok(self.flows())
    }
}

fn operator(state: &AppState) -> Result<&Operator, ApiError> {
    state.operator.as_ref().ok_or(ApiError::NotFound)
}

/// The flows serving new calls.
pub async fn dialplans(_: ApiOperator, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "flows": operator(&state)?.flows() })))
}

/// Reads `dialplans/` again; new calls take the new versions. A bad file is a 422
/// naming the file and line, and the flows in force keep serving.
pub async fn reload(_: ApiOperator, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let op = operator(&state)?;
    match op.reload() {
        Ok(flows) => Ok(Json(json!({ "flows": flows }))),
        Err(e) => {
            let (file, line) = e.location();
            let file = file.display().to_string();
            Err(ApiError::Unprocessable {
                code: "invalid_dialplan",
                field: "file",
                message: e.to_string(),
                details: json!({ "file": file, "line": line }),
            })
        }
    }
}

/// Calls in progress with the step each caller is in.
pub async fn live(_: ApiOperator, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "calls": operator(&state)?.live.snapshot() })))
}

/// Query of `GET /api/v1/operator/calls` (the operator's calls page builds one too).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsQuery {
    /// One of [`CallOutcome`](crate::ivr::app::CallOutcome)'s stored names.
    pub outcome: Option<String>,
    /// Service number called.
    pub service: Option<String>,
    /// Started at or after: RFC 3339 or YYYY-MM-DD (UTC midnight).
    pub from: Option<String>,
    /// Started before: RFC 3339 or YYYY-MM-DD (UTC midnight).
    pub to: Option<String>,
    /// How many records at most (100 by default, 1000 at most).
    pub limit: Option<u32>,
}

/// The store's filter for a query, or the fields at fault (shared with the pages, which
/// show them beside their field).
pub fn call_filter(q: &CallsQuery) -> Result<CallFilter, ApiError> {
    if let Some(o) = &q.outcome {
        if crate::ivr::app::CallOutcome::parse(o).is_none() {
            return Err(ApiError::Invalid(vec![crate::payments::invoice::FieldError::new(
                "outcome",
                "use paid, refused, abandoned, invalid_invoice, platform_error or completed",
            )]));
        }
    }
    Ok(CallFilter {
        outcome: q.outcome.clone(),
        service: q.service.clone(),
        from: instant("from", &q.from)?,
        to: instant("to", &q.to)?,
    })
}

fn instant(field: &'static str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.timestamp_millis()));
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Some(t.and_utc().timestamp_millis()))
        .ok_or_else(|| {
            ApiError::Invalid(vec![crate::payments::invoice::FieldError::new(field, "use YYYY-MM-DD or RFC 3339")])
        })
}

/// Call records, newest first, filtered by outcome, service number and start time.
pub async fn calls(
    _: ApiOperator,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CallsQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = call_filter(&q)?;
    let calls = state.store.list_calls(&filter, q.limit.unwrap_or(100)).await?;
    Ok(Json(json!({ "calls": calls })))
}
