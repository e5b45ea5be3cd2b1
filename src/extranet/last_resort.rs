//! The answers of last resort, made in one layer around every route. A handler that
//! panics is answered 500 (JSON under `/api/`, a page elsewhere) and the server keeps
//! serving: without this layer hyper drops the connection and the client gets an empty
//! reply, with nothing saying why. The panic's message is written by the panic hook to
//! the log; no extranet handler takes card numbers, so it holds none. And a body over
//! the size limit, which axum refuses with a plain-text 413, is answered in JSON under
//! `/api/`, naming the body, like every other API error.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

/// The layer's function (see the module documentation).
pub async fn answer(req: Request, next: Next) -> Response {
    let (api, path) = (req.uri().path().starts_with("/api/"), req.uri().path().to_string());
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) if api && response.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message = "the request body is larger than this endpoint accepts";
            let body = serde_json::json!({"error": {"code": "too_large", "field": "body", "message": message}});
            (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
        }
        Ok(response) => response,
        Err(_) => {
            tracing::error!(%path, "extranet handler panicked; answered 500");
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            if api {
                let body = serde_json::json!({"error": {"code": "internal", "message": "internal error; retry later"}});
                (status, axum::Json(body)).into_response()
            } else {
                let page = "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>Erreur / Error</title>\
                            <p>Une erreur interne est survenue ; réessayez plus tard.</p>\
                            <p lang=\"en\">An internal error occurred; try again later.</p></html>";
                (status, Html(page)).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("a handler bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_json_under_the_api_and_a_page_elsewhere() {
        let app = axum::Router::new()
            .route("/api/v1/boom", get(boom))
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(answer));
        for (path, kind) in [("/api/v1/boom", "application/json"), ("/boom", "text/html")] {
            let r = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert!(ct.starts_with(kind), "{path}: {ct}");
        }
        let r = app.oneshot(Request::get("/fine").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "and the next request is served");
    }
}
