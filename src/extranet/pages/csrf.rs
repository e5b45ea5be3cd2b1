//! CSRF protection for every page form, enforced in one place so no handler can forget
//! it: a POST to a page must carry a `csrf` field equal to its session's token (or, for
//! the sign-in form, to the pre-sign-in cookie: double-submit). The body is read here,
//! checked, and handed on unchanged, but only once the session (or the pre-sign-in
//! cookie) is known, and only up to the route's size: a small form limit everywhere, the
//! large upload limit on the two upload routes ([`body_limit`]). An unauthenticated
//! client cannot make the server buffer megabytes. The JSON API is not concerned: it authenticates
//! with a key in a header, which a browser never adds on its own.

use super::session::{self, PRELOGIN_COOKIE};
use super::{PageError, MAX_FORM_BYTES, MAX_LOGIN_BYTES, MAX_UPLOAD_BYTES};
use crate::extranet::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The form field carrying the token.
pub const FIELD: &str = "csrf";

/// Compares without stopping at the first difference, so timing tells nothing.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `name` in an urlencoded body.
pub fn form_value(body: &[u8], name: &str) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| url_decode(k) == name)
        .map(|(_, v)| url_decode(v))
}

/// The token a POST body carries, whatever its form encoding.
async fn token_in(content_type: &str, body: &Bytes) -> Option<String> {
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return form_value(body, FIELD);
    }
    if content_type.starts_with("multipart/form-data") {
        let req = Request::builder()
            .method(Method::POST)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.clone()))
            .ok()?;
        let mut form = Multipart::from_request(req, &()).await.ok()?;
        while let Ok(Some(field)) = form.next_field().await {
            if field.name() == Some(FIELD) {
                return field.text().await.ok();
            }
        }
    }
    None
}

/// The middleware.
pub async fn check(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD || req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    match checked(&st, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// The largest body a page POST to `path` may carry: the upload limit for a prompt
/// recording or an import file, the sign-in limit for `/login`, the form limit else.
pub fn body_limit(path: &str) -> usize {
    if path == "/import" || path.starts_with("/operator/prompts/") {
        MAX_UPLOAD_BYTES
    } else if path == "/login" {
        MAX_LOGIN_BYTES
    } else {
        MAX_FORM_BYTES
    }
}

async fn checked(st: &AppState, req: Request) -> Result<Request, PageError> {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    // Who is asking, from the headers alone, before a byte of the body is read.
    let expected = if path == "/login" {
        session::cookie(&parts.headers, PRELOGIN_COOKIE).ok_or(PageError::Csrf)?
    } else {
        let cur = session::resolve(st, &parts.headers).await?.ok_or(PageError::SignIn)?;
        let token = cur.session.csrf.clone();
        parts.extensions.insert(cur);
        token
    };
    let limit = body_limit(&path);
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| PageError::TooLarge(limit))?;
    let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let sent = token_in(&ct, &bytes).await.ok_or(PageError::Csrf)?;
    if !same(&sent, &expected) {
        if let Some(cur) = parts.extensions.get::<super::Current>() {
            tracing::warn!(user = %cur.session.user.email, %path, "form refused: wrong CSRF token");
        }
        return Err(PageError::Csrf);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        let body = b"a=1&csrf=ab%2Fc&name=Jeanne+Martin&empty";
        assert_eq!(form_value(body, "csrf").as_deref(), Some("ab/c"));
        assert_eq!(form_value(body, "name").as_deref(), Some("Jeanne Martin"));
        assert_eq!(form_value(body, "empty").as_deref(), Some(""));
        assert_eq!(form_value(body, "nope"), None);
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%C3%A9t%C3%A9"), "été");
    }

    #[test]
    fn comparison_needs_every_byte() {
        assert!(same("abcd", "abcd"));
        assert!(!same("abcd", "abce"));
        assert!(!same("abc", "abcd"));
    }
}
