//! The invoice extranet: the merchants' HTTP API (JSON, versioned under `/api/v1`,
//! authenticated by API key). Served by the same process as the phone line.

mod auth;
pub mod error;
pub mod import;
pub mod invoices;
pub mod operations;
pub mod operator;
pub mod transactions;

use crate::payments::gateway::Gateway;
use crate::store::Store;
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;

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
}

/// Every route of the extranet.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/invoices", post(invoices::create).get(invoices::list))
        .route("/api/v1/invoices/import", post(import::import))
        .route("/api/v1/invoices/{id}", get(invoices::get))
        .route("/api/v1/invoices/{id}/cancel", post(invoices::cancel))
        .route("/api/v1/transactions", get(transactions::list))
        .route("/api/v1/transactions/{reference}", get(transactions::get))
        .route("/api/v1/transactions/{reference}/duplicate", post(operations::duplicate))
        .route("/api/v1/transactions/{reference}/{operation}", post(operations::operate))
        .route("/api/v1/journal.csv", get(transactions::journal))
        .route("/api/v1/operator/dialplans", get(operator::dialplans))
        .route("/api/v1/operator/dialplans/reload", post(operator::reload))
        .route("/api/v1/operator/calls", get(operator::calls))
        .route("/api/v1/operator/calls/live", get(operator::live))
        .route("/api/v1/openapi.json", get(openapi))
        .fallback(|| async { error::ApiError::NotFound })
        .with_state(state)
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

/// Serves until `shutdown` turns true, then finishes requests in flight.
pub async fn serve(listener: TcpListener, state: AppState, mut shutdown: watch::Receiver<bool>) {
    let app = router(state);
    let stop = async move {
        let _ = shutdown.changed().await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
        tracing::error!(error = %e, "extranet HTTP server stopped");
    }
}
