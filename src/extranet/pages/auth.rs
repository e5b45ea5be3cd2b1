//! Signing in and out, and the language switch. Sign-in is throttled per account and
//! per client address (see `store::login_throttle`): each attempt is counted before
//! its password is checked, and a locked account is refused without a check, so
//! guessing costs the attacker time, not us CPU, however many guesses run at once. The sign-in form is protected by a double-submit token (a cookie and a hidden
//! field that must match), as there is no session yet.

use super::session::{self, set_cookie, Current, LANG_COOKIE, PRELOGIN_COOKIE, SESSION_COOKIE};
use super::{html, texts::Texts, Lang, Layout, PageError};
use crate::extranet::AppState;
use crate::store::login_throttle::{Attempt, ThrottleKey};
use crate::store::sessions::{random_token, SESSION_TTL_MS};
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    email: String,
    error: String,
}

fn anonymous_layout(lang: Lang, csrf: &str) -> Layout {
    let t: &'static Texts = lang.texts();
    Layout { t, lang, title: t.t_login.into(), user: None, nav: Vec::new(), csrf: csrf.into(), here: "/login".into() }
}

/// `?lang=` on the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// GET /login
pub async fn login_form(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Result<Response, PageError> {
    if session::resolve(&st, &headers).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let chosen = q.lang.as_deref().and_then(Lang::parse);
    let lang = chosen.unwrap_or_else(|| session::request_lang(&headers));
    let token = session::cookie(&headers, PRELOGIN_COOKIE).unwrap_or_else(random_token);
    let page = LoginPage { l: anonymous_layout(lang, &token), email: String::new(), error: String::new() };
    let mut r = html(StatusCode::OK, &page)?;
    let secure = st.pages.secure_cookies;
    r.headers_mut().append(header::SET_COOKIE, set_cookie(PRELOGIN_COOKIE, &token, 3600, secure));
    if let Some(l) = chosen {
        r.headers_mut().append(header::SET_COOKIE, set_cookie(LANG_COOKIE, l.code(), 365 * 86_400, secure));
    }
    Ok(r)
}

/// Longest e-mail address a sign-in takes (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;
/// Longest password a sign-in takes, in bytes (argon2 would hash more, slowly).
const MAX_PASSWORD: usize = 1024;

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// POST /login (the CSRF middleware has checked the double-submit token).
pub async fn login(
    State(st): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, PageError> {
    let lang = session::request_lang(&headers);
    let t = lang.texts();
    let token = session::cookie(&headers, PRELOGIN_COOKIE).unwrap_or_default();
    let again = |status, error: String| {
        let page = LoginPage { l: anonymous_layout(lang, &token), email: f.email.clone(), error };
        html(status, &page)
    };
    // Bounded before anything is stored or logged: an address is at most 254 characters
    // (RFC 5321), a password 1,024 bytes, and neither carries control characters.
    if f.email.len() > MAX_EMAIL || f.password.len() > MAX_PASSWORD || f.email.chars().any(char::is_control) {
        let page = LoginPage { l: anonymous_layout(lang, &token), email: String::new(), error: t.login_failed.into() };
        return html(StatusCode::BAD_REQUEST, &page);
    }
    let address = peer.map(|Extension(ConnectInfo(a))| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
    let keys = [ThrottleKey::Account(f.email.clone()), ThrottleKey::Address(address.clone())];
    // Counted before the password is checked: parallel guesses cannot all pass.
    let attempt = match st.store.begin_login_attempt(&keys).await? {
        Attempt::Counted(a) => a,
        Attempt::Locked(wait_ms) => {
            let secs = (wait_ms + 999) / 1000;
            tracing::warn!(email = %f.email, %address, secs, "sign-in refused: throttled");
            let mut r = again(StatusCode::TOO_MANY_REQUESTS, t.login_throttled.replace("{n}", &secs.to_string()))?;
            r.headers_mut().insert(header::RETRY_AFTER, secs.into());
            return Ok(r);
        }
    };
    let Some(user) = st.store.check_credentials(&f.email, &f.password).await? else {
        tracing::info!(email = %f.email, %address, "sign-in failed");
        return again(StatusCode::UNAUTHORIZED, t.login_failed.into());
    };
    st.store.login_succeeded(&attempt).await?;
    let s = st.store.create_session(&user.id).await?;
    tracing::info!(email = %user.email, role = user.role.as_str(), "signed in");
    let secure = st.pages.secure_cookies;
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &s.token, SESSION_TTL_MS / 1000, secure));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(PRELOGIN_COOKIE, "", 0, secure));
    Ok(r)
}

/// POST /logout: the session ends in the database, not only in the browser.
pub async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    if let Some(token) = session::cookie(&headers, SESSION_COOKIE) {
        st.store.delete_session(&token).await?;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, st.pages.secure_cookies));
    Ok(r)
}

/// The language switch.
#[derive(Debug, Deserialize)]
pub struct LanguageForm {
    lang: String,
    #[serde(default)]
    next: String,
}

/// POST /account/language: remembered for the user, then back to the same page.
pub async fn language(
    State(st): State<AppState>,
    cur: Current,
    Form(f): Form<LanguageForm>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(&f.lang).ok_or_else(|| PageError::BadRequest("unknown language".into()))?;
    st.store.set_user_language(&cur.session.user.id, lang.code()).await?;
    // Only a path of this site: never an open redirect.
    let next = session::local_path(&f.next).unwrap_or("/");
    let mut r = Redirect::to(next).into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(LANG_COOKIE, lang.code(), 365 * 86_400, st.pages.secure_cookies));
    Ok(r)
}
