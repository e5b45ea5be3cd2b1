//! The extranet pages: server-rendered HTML (askama templates in `templates/`), one
//! small embedded stylesheet, no JavaScript. Merchants create and follow invoices and
//! payments; operators manage the phone line; admins manage users and merchants. Every
//! page is in French and English, works at phone and desktop widths, and every form
//! carries the session's CSRF token, checked before any handler runs.
//!
//! Operators have three pages: the voice prompts (listen, replace, see what is left to
//! record per language), the dialplans (the flows in force, each file with its problems
//! by line, validate, reload) and the calls (in progress with their step; records with
//! filters). Their logic is the operator API's (`extranet::operator`), shared, not copied.
//! Pages must not hold business rules of their own: they render and call the cores.

mod admin;
mod auth;
mod calls;
mod cash;
mod csrf;
mod dashboard;
mod deliveries;
mod dialplans;
mod format;
mod forms;
pub mod i18n;
mod import;
mod invoices;
mod journal;
mod prompts;
mod session;
mod texts;
mod to_record;

use super::AppState;
use crate::store::users::Role;
use askama::Template;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
pub use i18n::Lang;
pub use session::Current;
use texts::Texts;

/// Largest request body of the upload pages (a prompt recording, an import file),
/// read only once the session is checked.
pub const MAX_UPLOAD_BYTES: usize = 12 * 1024 * 1024;
/// Largest body of any other page form (a few fields).
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Largest sign-in form (an e-mail of 254 characters, a password of 1,024 bytes, the
/// token, URL-encoded), the one form anyone may send.
pub const MAX_LOGIN_BYTES: usize = 8 * 1024;

/// Every page route, behind the CSRF check and the security headers.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/ivrpay.css", get(stylesheet))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/account/language", post(auth::language))
        .route("/dashboard", get(dashboard::show))
        .route("/invoices", get(invoices::list))
        .route("/invoices/new", get(invoices::new_form).post(invoices::create))
        .route("/invoices/{id}", get(invoices::show))
        .route("/invoices/{id}/created", get(invoices::created))
        .route("/invoices/{id}/cancel", get(invoices::cancel_form).post(invoices::cancel))
        .route("/invoices/{id}/notifications/{notice}/send-again", post(deliveries::send_again_invoice))
        .route("/transactions/{reference}/{operation}", get(cash::confirm).post(cash::apply))
        .route("/transactions/{reference}/notifications/{id}/send-again", post(deliveries::send_again))
        .route("/import", get(import::form).post(import::upload))
        .route("/import/valid-rows", post(import::valid_rows))
        .route("/journal", get(journal::show))
        .route("/journal.csv", get(journal::download))
        .route("/operations.csv", get(journal::download_operations))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}/{action}", post(admin::user_action))
        .route("/admin/merchants", get(admin::merchants).post(admin::create_merchant))
        .route("/operator/prompts", get(prompts::list))
        .route("/operator/prompts/{lang}/{file}", get(prompts::audio).post(prompts::upload))
        .route("/operator/dialplans", get(dialplans::list))
        .route("/operator/dialplans/validate", get(dialplans::validate))
        .route("/operator/dialplans/reload", post(dialplans::reload))
        .route("/operator/dialplans/files/{file}", get(dialplans::file))
        .route("/operator/calls", get(calls::list))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::check))
        .layer(middleware::from_fn_with_state(state, error_language))
        .layer(middleware::map_response(security_headers))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
}

/// Headers on every page: no framing, no sniffing, nothing but our own resources (the
/// pages have no scripts at all), and no caching of pages that show payments.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// The one stylesheet, embedded in the binary.
const CSS: &str = include_str!("../../../static/ivrpay.css");

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], CSS).into_response()
}

/// `/`: each role's first page.
async fn home(cur: Current) -> Redirect {
    Redirect::to(match cur.session.user.role {
        Role::Merchant => "/dashboard",
        Role::Operator => "/operator/prompts",
        Role::Admin => "/admin/users",
    })
}

/// A menu entry.
pub struct NavItem {
    /// Where it leads.
    pub href: &'static str,
    /// Its text in the page's language.
    pub label: &'static str,
    /// Whether the page belongs to this entry (marked `aria-current`).
    pub current: bool,
}

/// What the common frame of every page shows (`templates/base.html`).
pub struct Layout {
    /// Texts in the page's language.
    pub t: &'static Texts,
    /// The page's language (`<html lang>`, the switch's pressed button).
    pub lang: Lang,
    /// The `<title>` and the main heading.
    pub title: String,
    /// Signed-in user's e-mail, if any.
    pub user: Option<String>,
    /// The menu of the user's role.
    pub nav: Vec<NavItem>,
    /// The token every form of the page carries.
    pub csrf: String,
    /// Where the language switch comes back to: this page with its query (filters,
    /// page of a list), a path of this site only.
    pub here: String,
}

impl Layout {
    /// The frame for a signed-in user, with the menu of its role; `section` is the menu
    /// entry the page belongs to, and the language switch's return address when the
    /// request was not a GET (see [`Layout::back_to`] for pages that know better).
    pub fn new(cur: &Current, title: impl Into<String>, section: &str) -> Layout {
        let t = cur.lang.texts();
        let items: &[(&'static str, &'static str)] = match cur.session.user.role {
            Role::Merchant => &[
                ("/dashboard", t.nav_dashboard),
                ("/invoices", t.nav_invoices),
                ("/invoices/new", t.nav_new_invoice),
                ("/import", t.nav_import),
                ("/journal", t.nav_journal),
            ],
            Role::Operator => &[
                ("/operator/prompts", t.nav_prompts),
                ("/operator/dialplans", t.nav_dialplans),
                ("/operator/calls", t.nav_calls),
            ],
            Role::Admin => &[("/admin/users", t.nav_users), ("/admin/merchants", t.nav_merchants)],
        };
        let nav = items.iter().map(|&(href, label)| NavItem { href, label, current: section == href }).collect();
        Layout {
            t,
            lang: cur.lang,
            title: title.into(),
            user: Some(cur.session.user.email.clone()),
            nav,
            csrf: cur.session.csrf.clone(),
            here: cur.here.clone().unwrap_or_else(|| section.to_string()),
        }
    }

    /// Sets the language switch's return address (a page shown in answer to a POST
    /// that has a GET address of its own), if it is a path of this site.
    pub fn back_to(mut self, here: &str) -> Layout {
        if let Some(p) = session::local_path(here) {
            self.here = p.to_string();
        }
        self
    }
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Not signed in (or the session expired): go to the sign-in page.
    #[error("sign-in required")]
    SignIn,
    /// Signed in, but the role does not allow this page.
    #[error("forbidden")]
    Forbidden,
    /// Nothing here (also for another merchant's data: not even its existence shows).
    #[error("not found")]
    NotFound,
    /// A form arrived without its session's token: forged, or from an old page.
    #[error("missing or wrong CSRF token")]
    Csrf,
    /// The request itself is malformed (not a form the pages produce).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The body is over the route's limit (the limit, in bytes).
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// The database failed; details go to the log only.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The ledger failed under a cash operation; details go to the log only.
    #[error(transparent)]
    Ledger(#[from] crate::payments::ledger::LedgerError),
    /// A template failed to render.
    #[error("template: {0}")]
    Render(#[from] askama::Error),
}

/// The error page: in the request's language, the other one below it, since an error
/// can come before we know the user's (see [`error_language`]).
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    lang: &'static str,
    main: &'static str,
    home: &'static str,
    other_lang: &'static str,
    other: &'static str,
    other_home: &'static str,
}

/// An error page's texts, kept on its response so that it can be shown again in the
/// language of the request, which `into_response` does not see.
#[derive(Clone, Copy, Debug)]
struct ErrorTexts {
    status: StatusCode,
    fr: &'static str,
    en: &'static str,
}

impl ErrorTexts {
    fn render(self, lang: Lang) -> Response {
        let (fr, en) = ((self.fr, "fr", "Accueil"), (self.en, "en", "Home"));
        let ((main, code, home), (other, other_lang, other_home)) = if lang == Lang::En { (en, fr) } else { (fr, en) };
        let page = ErrorPage { status: self.status.as_u16(), lang: code, main, home, other_lang, other, other_home };
        let mut r = match page.render() {
            Ok(html) => (self.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
            Err(_) => (self.status, self.en).into_response(),
        };
        r.extensions_mut().insert(self);
        r
    }
}

/// Shows error pages in the request's language: the user's choice when signed in, else
/// the language cookie or the browser's.
async fn error_language(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let headers = req.headers().clone();
    let r = next.run(req).await;
    let Some(e) = r.extensions().get::<ErrorTexts>().copied() else { return r };
    let lang = match session::resolve(&st, &headers).await {
        Ok(Some(cur)) => cur.lang,
        _ => session::request_lang(&headers),
    };
    if lang == Lang::Fr {
        return r;
    }
    e.render(lang)
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, fr, en) = match &self {
            PageError::SignIn => return Redirect::to("/login").into_response(),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Votre compte n'a pas accès à cette page.",
                "Your account does not have access to this page.",
            ),
            PageError::NotFound => (StatusCode::NOT_FOUND, "Cette page n'existe pas.", "This page does not exist."),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "Ce formulaire a expiré ou ne vient pas de l'extranet. Rechargez la page et recommencez.",
                "This form has expired or did not come from the extranet. Reload the page and try again.",
            ),
            PageError::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, "La requête est incorrecte.", "The request is malformed.")
            }
            PageError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Le formulaire envoyé est trop volumineux.",
                "The form sent is too large.",
            ),
            PageError::Store(_) | PageError::Ledger(_) | PageError::Render(_) => {
                tracing::error!(error = %self, "extranet page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Une erreur interne est survenue ; réessayez plus tard.",
                    "An internal error occurred; try again later.",
                )
            }
        };
        ErrorTexts { status, fr, en }.render(Lang::Fr)
    }
}

/// Renders a page as HTML with a status.
pub fn html<T: Template>(status: StatusCode, page: &T) -> Result<Response, PageError> {
    let body = page.render()?;
    Ok((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
}

/// Renders a page as `200 OK`.
pub fn ok<T: Template>(page: &T) -> Result<Response, PageError> {
    html(StatusCode::OK, page)
}
