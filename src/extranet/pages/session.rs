//! Who is asking: the session cookie resolved to a user, the page language, and the
//! role checks every handler makes. Cookies are `HttpOnly` (no script can read them),
//! `SameSite=Strict` (never sent by another site's form or link) and `Secure` unless
//! `[http] secure_cookies = false` for plain-HTTP local use.

use super::i18n::Lang;
use super::PageError;
use crate::extranet::AppState;
use crate::store::sessions::Session;
use crate::store::users::Role;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};

/// The session cookie.
pub const SESSION_COOKIE: &str = "ivrpay_session";
/// The token of the sign-in form, before there is a session (double-submit).
pub const PRELOGIN_COOKIE: &str = "ivrpay_prelogin";
/// The language chosen before signing in.
pub const LANG_COOKIE: &str = "ivrpay_lang";

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value with the attributes every extranet cookie gets. `max_age` of
/// zero deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The signed-in user making the request, and the language to answer in.
#[derive(Clone, Debug)]
pub struct Current {
    /// The signed-in session and its user.
    pub session: Session,
    /// The language pages are shown in: the user's choice, else the browser's.
    pub lang: Lang,
    /// The page asked for (path and query) when it was a GET, for the language switch
    /// to come back to; None for a form's POST, whose address shows no page.
    pub here: Option<String>,
}

impl Current {
    /// The merchant whose data a merchant user sees; other roles are refused.
    pub fn merchant_id(&self) -> Result<&str, PageError> {
        match (&self.session.user.role, &self.session.user.merchant_id) {
            (Role::Merchant, Some(m)) => Ok(m),
            _ => Err(PageError::Forbidden),
        }
    }

    /// Refuses users without `role`.
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        if self.session.user.role == role {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// Who made a change, for transaction histories.
    pub fn actor(&self) -> String {
        format!("extranet:{}", self.session.user.email)
    }
}

/// `path` if it is a path of this site that is safe to redirect to, else None: it starts
/// with one `/` (not `//` nor `/\`, which browsers read as another host), and has no
/// backslash, control character (browsers drop tabs and line breaks, so `/\t/evil`
/// would become `//evil`) or white space.
pub fn local_path(path: &str) -> Option<&str> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
        && path.len() <= 2048;
    ok.then_some(path)
}

/// The language of a request without a user preference: the cookie, else the browser's.
pub fn request_lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c)).unwrap_or_else(|| {
        Lang::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""))
    })
}

/// Resolves the session cookie (once per request: the CSRF check may already have).
pub async fn resolve(st: &AppState, headers: &HeaderMap) -> Result<Option<Current>, PageError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    let Some(session) = st.store.session(&token).await? else { return Ok(None) };
    let lang = session.user.language.as_deref().and_then(Lang::parse).unwrap_or_else(|| request_lang(headers));
    Ok(Some(Current { session, lang, here: None }))
}

impl FromRequestParts<AppState> for Current {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let mut cur = match parts.extensions.get::<Current>() {
            Some(c) => c.clone(),
            None => {
                let c = resolve(st, &parts.headers).await?.ok_or(PageError::SignIn)?;
                parts.extensions.insert(c.clone());
                c
            }
        };
        if parts.method == axum::http::Method::GET {
            cur.here = parts.uri.path_and_query().map(|p| p.as_str().to_string()).filter(|p| local_path(p).is_some());
        }
        Ok(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_and_written_with_their_attributes() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; ivrpay_session=abc ; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        let c = set_cookie(SESSION_COOKIE, "tok", 60, true);
        assert_eq!(c, "ivrpay_session=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure");
        assert!(!set_cookie(SESSION_COOKIE, "tok", 60, false).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn only_paths_of_this_site_are_return_addresses() {
        for good in ["/", "/invoices?status=PAID&reference=A-1", "/invoices/inv_1", "/journal?from=2026-01-01"] {
            assert_eq!(local_path(good), Some(good));
        }
        for bad in [
            "",
            "invoices",
            "//evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "https://evil.example/",
            "/a\\b",
            "\\\\evil.example",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(3000))), None, "too long");
    }
}
