//! Accounts from the command line: merchants and their API keys, operator keys, and
//! extranet users (passwords read from the terminal or stdin, never from arguments).

use super::{load_config, KeyAction, MerchantAction, OperatorAction, UserAction};
use crate::store::Store;
use std::path::PathBuf;

/// The database of `--database`, else of the configuration's `storage.database`.
async fn open_store(config: Option<PathBuf>, database: Option<String>) -> Result<Store, String> {
    let cfg = load_config(config)?;
    let url = database.unwrap_or(cfg.storage.database);
    Store::open(&url).await.map_err(|e| e.to_string())
}

pub(super) async fn merchant(
    action: MerchantAction,
    config: Option<PathBuf>,
    database: Option<String>,
) -> Result<(), String> {
    let store = open_store(config, database).await?;
    match action {
        MerchantAction::Create { name, phone, brands, capture_mode, capture_day, notification_url } => {
            let capture_mode = crate::payments::merchant::CaptureMode::parse(&capture_mode)
                .ok_or_else(|| format!("--capture-mode: '{capture_mode}' is not AUTHOR_CAPTURE or VALIDATION"))?;
            if capture_day > 6 {
                return Err(format!("--capture-day: {capture_day} is more than 6"));
            }
            if name.trim().is_empty() || phone.trim().is_empty() {
                return Err("--name and --phone must not be empty".into());
            }
            let brands: Vec<String> =
                brands.iter().map(|b| b.trim().to_ascii_uppercase()).filter(|b| !b.is_empty()).collect();
            let new = crate::payments::merchant::NewMerchant {
                name,
                accepted_brands: brands,
                capture_mode,
                capture_day,
                phone_number: phone,
                notification_url,
            };
            let (m, key) = store.create_merchant(&new).await.map_err(|e| e.to_string())?;
            println!("merchant_id={}", m.id);
            println!("key_id={}", key.id);
            println!("api_key={}", key.secret);
            if m.notification_url.is_some() {
                let secret = store.notification_secret(&m.id).await.map_err(|e| e.to_string())?.unwrap_or_default();
                println!("notification_secret={secret}");
            }
            eprintln!("Keep the API key now: only its hash is stored.");
        }
        MerchantAction::Key { action } => keys(&store, action).await?,
    }
    Ok(())
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

async fn keys(store: &crate::store::Store, action: KeyAction) -> Result<(), String> {
    let merchant_id = match &action {
        KeyAction::Create { merchant, .. } | KeyAction::List { merchant } | KeyAction::Revoke { merchant, .. } => {
            merchant.clone()
        }
    };
    if store.merchant(&merchant_id).await.map_err(|e| e.to_string())?.is_none() {
        return Err(format!("--merchant: no merchant '{merchant_id}'"));
    }
    match action {
        KeyAction::Create { label, .. } => {
            let key = store.issue_api_key(&merchant_id, label.trim()).await.map_err(|e| e.to_string())?;
            println!("key_id={}", key.id);
            println!("api_key={}", key.secret);
            eprintln!("Keep the API key now: only its hash is stored.");
        }
        KeyAction::List { .. } => {
            println!("{:<30} {:<14} {:<20} {:<22} revoked", "key_id", "prefix", "label", "created");
            for k in store.list_api_keys(&merchant_id).await.map_err(|e| e.to_string())? {
                let revoked = k.revoked_at.map(utc).unwrap_or_else(|| "-".into());
                let label = if k.label.is_empty() { "-" } else { &k.label };
                println!("{:<30} {:<14} {:<20} {:<22} {revoked}", k.id, k.prefix, label, utc(k.created_at));
            }
        }
        KeyAction::Revoke { key, .. } => {
            store.revoke_api_key_checked(&merchant_id, &key).await.map_err(|e| format!("--key: {e}"))?;
            println!("revoked {key}");
        }
    }
    Ok(())
}

pub(super) async fn operator(
    action: OperatorAction,
    config: Option<PathBuf>,
    database: Option<String>,
) -> Result<(), String> {
    let store = open_store(config, database).await?;
    match action {
        OperatorAction::KeyCreate { label } => {
            let key = store.issue_operator_key(&label).await.map_err(|e| e.to_string())?;
            println!("key_id={}", key.id);
            println!("operator_key={}", key.secret);
            eprintln!("Keep the key now: only its hash is stored.");
        }
        OperatorAction::KeyRevoke { id } => {
            if !store.revoke_operator_key(&id).await.map_err(|e| e.to_string())? {
                return Err(format!("no live operator key with id '{id}'"));
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

pub(super) async fn user(action: UserAction, config: Option<PathBuf>, database: Option<String>) -> Result<(), String> {
    use crate::secret_input::read_new_password;
    use crate::store::users::{NewUser, Role};
    let cfg = load_config(config)?;
    let store =
        crate::store::Store::open(&database.unwrap_or(cfg.storage.database)).await.map_err(|e| e.to_string())?;
    match action {
        UserAction::Create { email, role, merchant } => {
            let role =
                Role::parse(&role).ok_or_else(|| format!("--role: '{role}' is not admin, operator or merchant"))?;
            let password = read_new_password("Password").map_err(|e| e.to_string())?;
            let u = store
                .create_user(&NewUser { email, role, merchant_id: merchant, password })
                .await
                .map_err(|e| e.to_string())?;
            println!("user_id={}", u.id);
            println!("email={} role={}", u.email, u.role.as_str());
        }
        UserAction::Password { email } => {
            let u = store.user_by_email(&email).await.map_err(|e| e.to_string())?.ok_or(format!("no user {email}"))?;
            let password = read_new_password("New password").map_err(|e| e.to_string())?;
            store.set_user_password(&u.id, &password).await.map_err(|e| e.to_string())?;
            println!("password changed for {}; its sessions were ended", u.email);
        }
        UserAction::Disable { email, enable } => {
            let u = store.user_by_email(&email).await.map_err(|e| e.to_string())?.ok_or(format!("no user {email}"))?;
            store.set_user_disabled(&u.id, !enable).await.map_err(|e| e.to_string())?;
            println!("{} {}", u.email, if enable { "enabled" } else { "disabled; its sessions were ended" });
        }
    }
    Ok(())
}
