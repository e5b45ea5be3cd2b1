//! The invoice extranet: the merchants' HTTP API (JSON, versioned under `/api/v1`,
//! authenticated by API key) and the server-rendered pages for merchants, operators and
//! admins (`pages`, signed in with a password). Served by the same process as the
//! phone line. It must not know SIP, calls' internals or the server's lifecycle: it
//! is given an `AppState` (store, gateway, operator handles) and calls the same payment
//! cores as the phone line.

mod auth;
pub mod error;
pub mod import;
pub mod invoices;
mod last_resort;
pub mod notifications;
pub mod operations;
pub mod operations_journal;
pub mod operator;
pub mod pages;
pub mod query;
pub mod serve;
pub mod transactions;

use crate::config::Config;
use crate::payments::gateway::Gateway;
use crate::store::Store;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The running phone line (flows, prompts, calls), when served by `ivrpay serve`.
    pub operator: Option<operator::Operator>,
    /// The payment platform: cash operations and duplicates go through it.
    pub gateway: Gateway,
    /// Sips `orderChannel` for duplicates (as for phone payments).
    pub order_channel: String,
    /// What the pages need from the configuration.
    pub pages: Arc<PagesConfig>,
}

/// The part of the configuration the pages use, copied once at start.
#[derive(Clone, Debug)]
pub struct PagesConfig {
    /// `[http] secure_cookies`: session cookies only over HTTPS.
    pub secure_cookies: bool,
    /// `[prompts] dir`: where operators' replacement recordings are written.
    pub prompts_dir: PathBuf,
    /// `[prompts] default_language`: the language whose recordings fill the gaps.
    pub default_prompt_language: String,
}

impl AppState {
    /// The state for a server running `config`.
    pub fn new(store: Store, config: &Config, gateway: Gateway, operator: Option<operator::Operator>) -> AppState {
        let pages = PagesConfig {
            secure_cookies: config.http.secure_cookies,
            prompts_dir: config.prompts.dir.clone(),
            default_prompt_language: config.prompts.default_language.clone(),
        };
        AppState {
            store,
            gateway,
            order_channel: config.payments.order_channel.clone(),
            operator,
            pages: Arc::new(pages),
        }
    }
}

/// Every route of the extranet.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/invoices", post(invoices::create).get(invoices::list))
        // The one API route taking a file; its body is read after the key is checked
        // (the key is the handler's first extractor).
        .route("/api/v1/invoices/import", post(import::import).layer(DefaultBodyLimit::max(pages::MAX_UPLOAD_BYTES)))
        .route("/api/v1/invoices/{id}", get(invoices::get))
        .route("/api/v1/invoices/{id}/cancel", post(invoices::cancel))
        .route("/api/v1/invoices/{id}/notifications", get(notifications::list_invoice))
        .route("/api/v1/invoices/{id}/notifications/{notice}/send-again", post(notifications::send_again_invoice))
        .route("/api/v1/transactions", get(transactions::list))
        .route("/api/v1/transactions/{reference}", get(transactions::get))
        .route("/api/v1/transactions/{reference}/duplicate", post(operations::duplicate))
        .route("/api/v1/transactions/{reference}/notifications", get(notifications::list))
        .route("/api/v1/transactions/{reference}/notifications/{id}/send-again", post(notifications::send_again))
        .route("/api/v1/transactions/{reference}/{operation}", post(operations::operate))
        .route("/api/v1/journal.csv", get(transactions::journal))
        .route("/api/v1/operations.csv", get(operations_journal::download))
        .route("/api/v1/operator/dialplans", get(operator::dialplans))
        .route("/api/v1/operator/dialplans/reload", post(operator::reload))
        .route("/api/v1/operator/calls", get(operator::calls))
        .route("/api/v1/operator/calls/live", get(operator::live))
        .route("/api/v1/openapi.json", get(openapi))
        // Any other API body is a small JSON document.
        .layer(DefaultBodyLimit::max(pages::MAX_FORM_BYTES))
        .merge(pages::router(state.clone()))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(last_resort::answer))
        .with_state(state)
}

/// Unknown paths: JSON under the API, a page elsewhere.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    if uri.path().starts_with("/api/") {
        axum::response::IntoResponse::into_response(error::ApiError::NotFound)
    } else {
        axum::response::IntoResponse::into_response(pages::PageError::NotFound)
    }
}

/// The OpenAPI description of the API, published for merchants' developers.
async fn openapi() -> axum::response::Response {
    axum::response::IntoResponse::into_response(([("content-type", "application/json")], OPENAPI))
}

/// The OpenAPI document (kept beside the code it describes).
pub const OPENAPI: &str = include_str!("openapi.json");

/// Binds the HTTP listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
