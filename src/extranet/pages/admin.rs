//! Admin pages: users (create with a role and, for merchant users, their merchant;
//! disable and enable again) and merchants (create, with the API key shown once).
//! Admins see no merchant's invoices: that is the merchant users' business.

use super::forms::FieldErrors;
use super::{html, ok, Current, Layout, PageError};
use crate::extranet::AppState;
use crate::payments::merchant::{CaptureMode, Merchant, MerchantError, NewMerchant};
use crate::store::users::{check_password, normalise_email, NewUser, Role, UserError};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

/// A line of the users table.
pub struct UserRow {
    /// The user's id, for the enable/disable form.
    pub id: String,
    /// The sign-in name.
    pub email: String,
    /// The role, in the page's language.
    pub role: &'static str,
    /// The merchant's name for a merchant user, else empty.
    pub merchant: String,
    /// Enabled or disabled, in the page's language.
    pub state: &'static str,
    /// `disable` or `enable`.
    pub action: &'static str,
    /// The action's button text.
    pub action_label: &'static str,
    /// An admin cannot lock itself out.
    pub is_self: bool,
}

/// The new-user form, as typed (the password is never sent back).
#[derive(Debug, Default, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    merchant: String,
    #[serde(default)]
    password: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    l: Layout,
    notice: String,
    users: Vec<UserRow>,
    roles: Vec<(&'static str, &'static str)>,
    merchants: Vec<(String, String)>,
    v: UserForm,
    errors: FieldErrors,
}

fn role_label(cur: &Current, r: Role) -> &'static str {
    let t = cur.lang.texts();
    match r {
        Role::Admin => t.role_admin,
        Role::Operator => t.role_operator,
        Role::Merchant => t.role_merchant,
    }
}

async fn users_page(
    st: &AppState,
    cur: &Current,
    notice: String,
    v: UserForm,
    errors: FieldErrors,
) -> Result<UsersPage, PageError> {
    let t = cur.lang.texts();
    let merchants = st.store.list_merchants().await?;
    let name = |id: &Option<String>| {
        id.as_ref()
            .map(|id| merchants.iter().find(|m| &m.id == id).map(|m| m.name.clone()).unwrap_or_else(|| id.clone()))
            .unwrap_or_default()
    };
    let users = st
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            role: role_label(cur, u.role),
            merchant: name(&u.merchant_id),
            state: if u.disabled { t.user_disabled } else { t.user_active },
            action: if u.disabled { "enable" } else { "disable" },
            action_label: if u.disabled { t.user_enable } else { t.user_disable },
            is_self: u.id == cur.session.user.id,
            email: u.email,
            id: u.id,
        })
        .collect();
    Ok(UsersPage {
        l: Layout::new(cur, t.t_users, "/admin/users"),
        notice,
        users,
        roles: [Role::Merchant, Role::Operator, Role::Admin].map(|r| (r.as_str(), role_label(cur, r))).to_vec(),
        merchants: merchants.iter().map(|m| (m.id.clone(), format!("{} ({})", m.name, m.id))).collect(),
        v,
        errors,
    })
}

/// `?done=` after a change.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    created: String,
    #[serde(default)]
    changed: String,
}

/// GET /admin/users
pub async fn users(State(st): State<AppState>, cur: Current, Query(n): Query<Notice>) -> Result<Response, PageError> {
    cur.require(Role::Admin)?;
    let t = cur.lang.texts();
    let notice = match (n.created.is_empty(), n.changed.is_empty()) {
        (false, _) => t.user_created.replace("{email}", &n.created),
        (_, false) => t.user_changed.replace("{email}", &n.changed),
        _ => String::new(),
    };
    ok(&users_page(
        &st,
        &cur,
        notice,
        UserForm { role: "merchant".into(), ..UserForm::default() },
        FieldErrors::default(),
    )
    .await?)
}

/// POST /admin/users
pub async fn create_user(
    State(st): State<AppState>,
    cur: Current,
    Form(v): Form<UserForm>,
) -> Result<Response, PageError> {
    cur.require(Role::Admin)?;
    let t = cur.lang.texts();
    let mut errors = FieldErrors::default();
    let role = Role::parse(&v.role).ok_or_else(|| PageError::BadRequest("unknown role".into()))?;
    let new = NewUser {
        email: v.email.clone(),
        role,
        merchant_id: Some(v.merchant.trim().to_string()).filter(|m| !m.is_empty()),
        password: v.password.clone(),
    };
    // Every problem at once, not only the first the store would find.
    if normalise_email(&new.email).is_err() {
        errors.add("email", t.bad_email);
    }
    if check_password(&new.password).is_err() {
        errors.add("password", t.weak_password);
    }
    if (role == Role::Merchant) != new.merchant_id.is_some() {
        errors.add("merchant", t.merchant_mismatch);
    }
    if errors.is_empty() {
        match st.store.create_user(&new).await {
            Ok(u) => {
                tracing::info!(by = %cur.session.user.email, email = %u.email, role = u.role.as_str(), "user created");
                return Ok(Redirect::to(&format!("/admin/users?created={}", super::format::url_encode(&u.email)))
                    .into_response());
            }
            Err(UserError::BadEmail(_)) => errors.add("email", t.bad_email),
            Err(UserError::EmailTaken(_)) => errors.add("email", t.email_taken),
            Err(UserError::WeakPassword) => errors.add("password", t.weak_password),
            Err(UserError::MerchantMismatch | UserError::UnknownMerchant(_)) => {
                errors.add("merchant", t.merchant_mismatch)
            }
            Err(UserError::Hash(e)) => return Err(PageError::BadRequest(e)),
            Err(UserError::Store(e)) => return Err(e.into()),
        }
    }
    let page = users_page(&st, &cur, String::new(), UserForm { password: String::new(), ..v }, errors).await?;
    html(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// POST /admin/users/{id}/{disable|enable}
pub async fn user_action(
    State(st): State<AppState>,
    cur: Current,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    cur.require(Role::Admin)?;
    let disable = match action.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(PageError::NotFound),
    };
    if id == cur.session.user.id {
        return Err(PageError::Forbidden);
    }
    let user = st.store.user(&id).await?.ok_or(PageError::NotFound)?;
    st.store.set_user_disabled(&id, disable).await?;
    tracing::info!(by = %cur.session.user.email, email = %user.email, disable, "user changed");
    Ok(Redirect::to(&format!("/admin/users?changed={}", super::format::url_encode(&user.email))).into_response())
}

/// The new-merchant form, as typed.
#[derive(Debug, Deserialize)]
pub struct MerchantForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    capture_mode: String,
    #[serde(default)]
    capture_day: String,
    #[serde(default)]
    brands: String,
    #[serde(default)]
    notification_url: String,
}

impl Default for MerchantForm {
    fn default() -> Self {
        MerchantForm {
            name: String::new(),
            phone: String::new(),
            capture_mode: "AUTHOR_CAPTURE".into(),
            capture_day: "0".into(),
            brands: "CB,VISA,MASTERCARD".into(),
            notification_url: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_merchants.html")]
struct MerchantsPage {
    l: Layout,
    merchants: Vec<Merchant>,
    new_id: String,
    api_key: String,
    notification_secret: String,
    v: MerchantForm,
    errors: FieldErrors,
}

async fn merchants_page(
    st: &AppState,
    cur: &Current,
    v: MerchantForm,
    errors: FieldErrors,
    created: Option<(String, String)>,
) -> Result<MerchantsPage, PageError> {
    let (new_id, api_key) = created.unwrap_or_default();
    let notification_secret = match new_id.as_str() {
        "" => String::new(),
        id => st.store.notification_secret(id).await?.unwrap_or_default(),
    };
    Ok(MerchantsPage {
        l: Layout::new(cur, cur.lang.texts().t_merchants, "/admin/merchants"),
        merchants: st.store.list_merchants().await?,
        new_id,
        api_key,
        notification_secret,
        v,
        errors,
    })
}

/// GET /admin/merchants
pub async fn merchants(State(st): State<AppState>, cur: Current) -> Result<Response, PageError> {
    cur.require(Role::Admin)?;
    ok(&merchants_page(&st, &cur, MerchantForm::default(), FieldErrors::default(), None).await?)
}

/// POST /admin/merchants: the same creation as `ivrpay merchant create`.
pub async fn create_merchant(
    State(st): State<AppState>,
    cur: Current,
    Form(v): Form<MerchantForm>,
) -> Result<Response, PageError> {
    cur.require(Role::Admin)?;
    let t = cur.lang.texts();
    let mut errors = FieldErrors::default();
    if v.name.trim().is_empty() {
        errors.add("name", t.required);
    }
    if v.phone.trim().is_empty() {
        errors.add("phone", t.required);
    }
    let capture_mode =
        CaptureMode::parse(&v.capture_mode).ok_or_else(|| PageError::BadRequest("capture mode".into()))?;
    let capture_day = v.capture_day.trim().parse::<u8>().ok().filter(|d| *d <= 6);
    if capture_day.is_none() {
        errors.add("capture_day", t.bad_capture_day);
    }
    let brands: Vec<String> =
        v.brands.split(',').map(|b| b.trim().to_ascii_uppercase()).filter(|b| !b.is_empty()).collect();
    if brands.is_empty() {
        errors.add("brands", t.required);
    }
    let url = v.notification_url.trim();
    let new = NewMerchant {
        name: v.name.trim().to_string(),
        accepted_brands: brands,
        capture_mode,
        capture_day: capture_day.unwrap_or(0),
        phone_number: v.phone.trim().to_string(),
        notification_url: (!url.is_empty()).then(|| url.to_string()),
    };
    // The store's own checks (known brands, an absolute http(s) URL), beside their field.
    for problem in new.problems() {
        let (field, text) = match problem {
            MerchantError::UnknownBrand(_) => ("brands", t.unknown_brand),
            MerchantError::NotificationUrl(_) => ("notification_url", t.bad_notification_url),
            MerchantError::CaptureDay(_) => ("capture_day", t.bad_capture_day),
            MerchantError::NoName => ("name", t.required),
            MerchantError::NoPhone => ("phone", t.required),
            MerchantError::NoBrand => ("brands", t.required),
        };
        if errors.get(field).is_empty() {
            errors.add(field, text);
        }
    }
    if !errors.is_empty() {
        return html(StatusCode::UNPROCESSABLE_ENTITY, &merchants_page(&st, &cur, v, errors, None).await?);
    }
    let (m, key) = st.store.create_merchant(&new).await?;
    tracing::info!(by = %cur.session.user.email, merchant = %m.id, "merchant created");
    // Shown in this answer only; a reload shows the list without it.
    let page =
        merchants_page(&st, &cur, MerchantForm::default(), FieldErrors::default(), Some((m.id, key.secret))).await?;
    ok(&page)
}
