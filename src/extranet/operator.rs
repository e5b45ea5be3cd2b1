//! `/api/v1/operator`: what operators script against: the flows in force and their
//! reload, the calls in progress with their current step, and call records. Only
//! operator keys reach it.

use super::auth::ApiOperator;
use super::error::ApiError;
use super::AppState;
use crate::call::live::LiveCalls;
use crate::ivr::dialplan::registry::DialplanRegistry;
use crate::ivr::prompt_store::PromptStore;
use crate::store::calls::CallFilter;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
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

fn operator(state: &AppState) -> Result<&Operator, ApiError> {
    state.operator.as_ref().ok_or(ApiError::NotFound)
}

fn flows_json(reg: &DialplanRegistry) -> Value {
    let set = reg.current();
    let flows: Vec<Value> = set
        .plans()
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "description": p.description,
                "version": p.version,
                "file": p.path.display().to_string(),
                "numbers": p.numbers,
                "steps": p.steps.len(),
            })
        })
        .collect();
    json!({ "flows": flows })
}

/// The flows serving new calls.
pub async fn dialplans(_: ApiOperator, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(flows_json(&operator(&state)?.dialplans)))
}

/// Reads `dialplans/` again; new calls take the new versions. A bad file is a 422
/// naming the file and line, and the flows in force keep serving.
pub async fn reload(_: ApiOperator, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let op = operator(&state)?;
    match op.dialplans.reload(&op.prompts.current()) {
        Ok(_) => Ok(Json(flows_json(&op.dialplans))),
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

/// Query of `GET /api/v1/operator/calls`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsQuery {
    outcome: Option<String>,
    service: Option<String>,
    /// RFC 3339 or YYYY-MM-DD (UTC).
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
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
    q: Result<Query<CallsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadBody(e.body_text()))?;
    if let Some(o) = &q.outcome {
        if crate::ivr::app::CallOutcome::parse(o).is_none() {
            return Err(ApiError::Invalid(vec![crate::payments::invoice::FieldError::new(
                "outcome",
                "use paid, refused, abandoned, invalid_invoice, platform_error or completed",
            )]));
        }
    }
    let filter = CallFilter {
        outcome: q.outcome.clone(),
        service: q.service.clone(),
        from: instant("from", &q.from)?,
        to: instant("to", &q.to)?,
    };
    let calls = state.store.list_calls(&filter, q.limit.unwrap_or(100)).await?;
    Ok(Json(json!({ "calls": calls })))
}
