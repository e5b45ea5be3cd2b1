//! API authentication: `Authorization: Bearer <key>` (or `X-Api-Key: <key>`), resolved
//! to the merchant that owns the key. Every handler that takes [`ApiMerchant`] sees only
//! that merchant's data.

use super::error::ApiError;
use super::AppState;
use crate::payments::merchant::Merchant;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The merchant making the request.
pub struct ApiMerchant(pub Merchant);

/// The key presented with a request, if any.
fn presented_key(parts: &Parts) -> Option<&str> {
    let h = &parts.headers;
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .or_else(|| h.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

impl FromRequestParts<AppState> for ApiMerchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = presented_key(parts).ok_or(ApiError::Unauthorized)?;
        state.store.merchant_by_api_key(key).await?.map(ApiMerchant).ok_or(ApiError::Unauthorized)
    }
}

/// A request made with an operator key (`ivrpay operator key-create`). Merchant keys
/// never pass: operators see every merchant's calls.
pub struct ApiOperator;

impl FromRequestParts<AppState> for ApiOperator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = presented_key(parts).ok_or(ApiError::Unauthorized)?;
        if state.store.is_operator_key(key).await? {
            Ok(ApiOperator)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}
