//! Operators' dialplans: the flows in force (name, numbers, file, version, steps), each
//! file's text with its problems beside their line, a validation of the files on disk
//! that changes nothing, and the reload. Validation and reload are the operator API's
//! (`extranet::operator::Operator`), which load the directory exactly as the phone line
//! does, against the prompts in force; a refused reload leaves the old versions serving
//! and says so, with every problem's file and line.

use super::{html, ok, Current, Layout, PageError};
use crate::extranet::operator::{FlowSummary, Operator};
use crate::extranet::AppState;
use crate::ivr::dialplan::parse::version_of;
use crate::ivr::dialplan::DialplanError;
use crate::store::users::Role;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::path::Path as FsPath;

/// A flow of the list.
pub struct FlowRow {
    /// The flow's name.
    pub name: String,
    /// What the flow is for, from its file.
    pub description: String,
    /// The numbers it answers, comma-separated.
    pub numbers: String,
    /// File name inside the dialplans directory.
    pub file: String,
    /// The version in force (or that a reload would put in force).
    pub version: String,
    /// How many steps the flow has.
    pub steps: usize,
    /// For a validation: whether a reload would change this flow ("" in the list in force).
    pub change: &'static str,
}

/// One problem of a validation or a refused reload.
pub struct ProblemRow {
    /// `invoice-payment.toml:12` (or the path alone when it could not be read).
    pub location: String,
    /// The file page at the line, when the file is one of the directory's.
    pub href: String,
    /// What is wrong.
    pub message: String,
}

/// A validation's or a refused reload's outcome.
pub struct Report {
    /// The section's heading.
    pub heading: &'static str,
    /// Valid, or how many problems.
    pub summary: String,
    /// Whether a reload would be accepted.
    pub valid: bool,
    /// What a reload would put in force (when valid).
    pub flows: Vec<FlowRow>,
    /// What makes it refused (when not valid).
    pub problems: Vec<ProblemRow>,
}

#[derive(Template)]
#[template(path = "dialplans.html")]
struct DialplansPage {
    l: Layout,
    hint: String,
    notice: String,
    flows: Vec<FlowRow>,
    report: Option<Report>,
}

fn operator(st: &AppState, cur: &Current) -> Result<Operator, PageError> {
    cur.require(Role::Operator)?;
    st.operator.clone().ok_or(PageError::NotFound)
}

fn file_name(path: &str) -> String {
    FsPath::new(path).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| path.to_string())
}

fn rows(flows: Vec<FlowSummary>, in_force: Option<&[FlowSummary]>, cur: &Current) -> Vec<FlowRow> {
    let t = cur.lang.texts();
    flows
        .into_iter()
        .map(|f| {
            let change = match in_force {
                None => "",
                Some(now) if now.iter().any(|n| n.name == f.name && n.version == f.version) => t.dialplan_unchanged,
                Some(_) => t.dialplan_new_version,
            };
            FlowRow {
                file: file_name(&f.file),
                numbers: f.numbers.join(", "),
                name: f.name,
                description: f.description,
                version: f.version,
                steps: f.steps,
                change,
            }
        })
        .collect()
}

/// Every problem of a refused set, each with its file and line.
fn problems(op: &Operator, e: &DialplanError) -> Vec<ProblemRow> {
    e.problems()
        .into_iter()
        .map(|p| {
            let (path, line) = p.location();
            let in_dir = path.parent() == Some(op.dialplans.dir());
            let name = if in_dir { file_name(&path.display().to_string()) } else { path.display().to_string() };
            let location = if line > 0 { format!("{name}:{line}") } else { name.clone() };
            let href = match (in_dir, line) {
                (false, _) => String::new(),
                (true, 0) => format!("/operator/dialplans/files/{name}"),
                (true, n) => format!("/operator/dialplans/files/{name}#L{n}"),
            };
            ProblemRow { location, href, message: p.message() }
        })
        .collect()
}

fn page(op: &Operator, cur: &Current, notice: String, report: Option<Report>) -> DialplansPage {
    let t = cur.lang.texts();
    DialplansPage {
        l: Layout::new(cur, t.t_dialplans, "/operator/dialplans"),
        hint: t.dialplans_hint.replace("{dir}", &op.dialplans.dir().display().to_string()),
        notice,
        flows: rows(op.flows(), None, cur),
        report,
    }
}

/// `?reloaded=1` after a reload.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    reloaded: String,
}

/// GET /operator/dialplans
pub async fn list(State(st): State<AppState>, cur: Current, Query(q): Query<ListQuery>) -> Result<Response, PageError> {
    let op = operator(&st, &cur)?;
    let notice = if q.reloaded.is_empty() { String::new() } else { cur.lang.texts().dialplans_reloaded.to_string() };
    ok(&page(&op, &cur, notice, None))
}

/// GET /operator/dialplans/validate: what a reload would do, without doing it.
pub async fn validate(State(st): State<AppState>, cur: Current) -> Result<Response, PageError> {
    let op = operator(&st, &cur)?;
    let t = cur.lang.texts();
    let op2 = op.clone();
    let result =
        tokio::task::spawn_blocking(move || op2.validate()).await.map_err(|e| PageError::BadRequest(e.to_string()))?;
    let report = match result {
        Ok(flows) => Report {
            heading: t.dialplans_validation,
            summary: t.dialplans_valid.to_string(),
            valid: true,
            flows: rows(flows, Some(&op.flows()), &cur),
            problems: Vec::new(),
        },
        Err(e) => {
            let problems = problems(&op, &e);
            Report {
                heading: t.dialplans_validation,
                summary: t.dialplans_invalid.replace("{n}", &problems.len().to_string()),
                valid: false,
                flows: Vec::new(),
                problems,
            }
        }
    };
    ok(&page(&op, &cur, String::new(), Some(report)))
}

/// POST /operator/dialplans/reload: new calls get the new versions; a refused set is
/// shown with its problems while the versions in force keep serving.
pub async fn reload(State(st): State<AppState>, cur: Current) -> Result<Response, PageError> {
    let op = operator(&st, &cur)?;
    let t = cur.lang.texts();
    let op2 = op.clone();
    let result =
        tokio::task::spawn_blocking(move || op2.reload()).await.map_err(|e| PageError::BadRequest(e.to_string()))?;
    match result {
        Ok(flows) => {
            let versions: Vec<String> = flows.iter().map(|f| format!("{} {}", f.name, f.version)).collect();
            tracing::info!(user = %cur.session.user.email, ?versions, "dialplans reloaded from the operator pages");
            Ok(Redirect::to("/operator/dialplans?reloaded=1").into_response())
        }
        Err(e) => {
            tracing::warn!(user = %cur.session.user.email, error = %e, "dialplan reload refused (operator pages)");
            let problems = problems(&op, &e);
            let report = Report {
                heading: t.dialplans_reload,
                summary: t.dialplans_refused.replace("{n}", &problems.len().to_string()),
                valid: false,
                flows: Vec::new(),
                problems,
            };
            html(StatusCode::UNPROCESSABLE_ENTITY, &page(&op, &cur, String::new(), Some(report)))
        }
    }
}

/// A line of a file, with the problems found on it.
pub struct SourceLine {
    /// Its number, from 1 (the anchor `#L<n>`).
    pub n: usize,
    /// Its text.
    pub text: String,
    /// The problems found on it.
    pub problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "dialplan_file.html")]
struct FilePage {
    l: Layout,
    file: String,
    in_force: String,
    on_disk: String,
    edited: bool,
    /// Problems not tied to a line of this file (it could not be read, say).
    general: Vec<String>,
    problem_count: usize,
    lines: Vec<SourceLine>,
}

/// GET /operator/dialplans/files/{file}: the file as it is on disk, each problem a
/// validation finds shown under its line.
pub async fn file(State(st): State<AppState>, cur: Current, Path(file): Path<String>) -> Result<Response, PageError> {
    let op = operator(&st, &cur)?;
    let t = cur.lang.texts();
    let dir = op.dialplans.dir().to_path_buf();
    // Only a `*.toml` file listed in the directory: never a path of the caller's making.
    let listed = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_str() == Some(file.as_str()) && e.path().is_file());
    if !listed || !file.ends_with(".toml") {
        return Err(PageError::NotFound);
    }
    let path = dir.join(&file);
    let text = std::fs::read_to_string(&path).map_err(|_| PageError::NotFound)?;
    let in_force = op.flows().into_iter().find(|f| FsPath::new(&f.file) == path).map(|f| f.version);
    let on_disk = version_of(&text);
    let op2 = op.clone();
    let checked =
        tokio::task::spawn_blocking(move || op2.validate()).await.map_err(|e| PageError::BadRequest(e.to_string()))?;
    let mut lines: Vec<SourceLine> = text
        .lines()
        .enumerate()
        .map(|(i, l)| SourceLine { n: i + 1, text: l.to_string(), problems: Vec::new() })
        .collect();
    let mut general = Vec::new();
    let mut problem_count = 0;
    if let Err(e) = checked {
        for p in e.problems().into_iter().filter(|p| p.location().0 == path) {
            problem_count += 1;
            match lines.get_mut(p.location().1.wrapping_sub(1)) {
                Some(line) => line.problems.push(p.message()),
                None => general.push(p.message()),
            }
        }
    }
    let page = FilePage {
        l: Layout::new(&cur, t.t_dialplan_file.replace("{file}", &file), &format!("/operator/dialplans/files/{file}")),
        edited: in_force.as_deref().is_some_and(|v| v != on_disk),
        in_force: in_force.unwrap_or_else(|| t.dialplan_not_in_force.to_string()),
        on_disk,
        file,
        general,
        problem_count,
        lines,
    };
    ok(&page)
}
