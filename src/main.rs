//! The `ivrpay` command: wiring only. Each subcommand parses its arguments, calls into
//! the library, prints what happened and exits non-zero with a clear message on error.

use clap::{Parser, Subcommand};
use ivrpay::caller::{self, CallOptions, DtmfMode};
use ivrpay::config::Config;
use ivrpay::server::Server;
use ivrpay::sip::Transport;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "ivrpay", version, about = "Pay invoices over the phone: SIP IVR, payments core and invoice extranet")]
struct Cli {
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `ivrpay=debug`.
    #[arg(long, global = true, env = "IVRPAY_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (SIP, media) until SIGINT/SIGTERM.
    Serve {
        /// Configuration file (TOML); every key has a default.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Override `sip.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Place a test call: dial, send digits, record what is heard, hang up.
    Call {
        /// SIP URI to dial, e.g. sip:echo@127.0.0.1:5060
        uri: String,
        /// Keys to press; ',' pauses 500 ms; ';' waits until the server's prompt has ended
        /// (it spoke, then stayed silent for --silence-ms).
        #[arg(long, default_value = "")]
        dtmf: String,
        /// Silence after which ';' considers the server's prompt over.
        #[arg(long, default_value_t = 700)]
        silence_ms: u64,
        /// How to send the keys.
        #[arg(long, value_enum, default_value = "rfc4733")]
        dtmf_mode: DtmfMode,
        /// SIP transport.
        #[arg(long, value_enum, default_value = "udp")]
        transport: TransportArg,
        /// Write the audio heard to this WAV file (8 kHz mono).
        #[arg(long)]
        record: Option<PathBuf>,
        /// Milliseconds to wait after the answer before the first key.
        #[arg(long, default_value_t = 1500)]
        wait_ms: u64,
        /// Milliseconds each key is held.
        #[arg(long, default_value_t = 120)]
        digit_ms: u64,
        /// Milliseconds between keys.
        #[arg(long, default_value_t = 250)]
        gap_ms: u64,
        /// Milliseconds to stay after the last key before hanging up.
        #[arg(long, default_value_t = 2000)]
        hangup_after_ms: u64,
        /// Wait for the server to hang up instead of hanging up ourselves.
        #[arg(long)]
        wait_for_bye: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        max_seconds: u64,
    },
    /// Manage merchants (prints the API key once, at creation).
    Merchant {
        #[command(subcommand)]
        action: MerchantAction,
        /// Configuration file, for `storage.database`.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// Database URL, overriding the configuration.
        #[arg(long, global = true)]
        database: Option<String>,
    },
    /// Manage extranet users (the password is read from the terminal or stdin, never
    /// from an argument; there is no default account).
    User {
        #[command(subcommand)]
        action: UserAction,
        /// Configuration file, for `storage.database`.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// Database URL, overriding the configuration.
        #[arg(long, global = true)]
        database: Option<String>,
    },
    /// Run the payment simulator as an HTTP server speaking Sips Office JSON.
    Simulator {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
        /// Secret key requests are sealed with (and answers sealed with).
        #[arg(long, env = "IVRPAY_SIPS_SECRET")]
        secret: String,
        /// Milliseconds before each authorization answer (cardOrder, duplicate); cash
        /// operations and diagnostics are answered from the books at once.
        #[arg(long, default_value_t = 300)]
        latency_ms: u64,
    },
    /// Prompt recordings: list what the manifests describe but nobody recorded, and
    /// generate stand-ins for them with espeak-ng.
    Prompts {
        #[command(subcommand)]
        action: PromptsAction,
    },
    /// Operator API keys (dialplan reload, calls in progress, call records).
    Operator {
        #[command(subcommand)]
        action: OperatorAction,
        /// Configuration file, for `storage.database`.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// Database URL, overriding the configuration.
        #[arg(long, global = true)]
        database: Option<String>,
    },
    /// Validate a configuration file, its prompts and its dialplans, then exit.
    Check {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum MerchantAction {
    /// Create a merchant and its first API key.
    Create {
        /// Trading name.
        #[arg(long)]
        name: String,
        /// The number its customers call to pay.
        #[arg(long)]
        phone: String,
        /// Accepted card brands (Sips names).
        #[arg(long, value_delimiter = ',', default_value = "CB,VISA,MASTERCARD")]
        brands: Vec<String>,
        /// AUTHOR_CAPTURE or VALIDATION.
        #[arg(long, default_value = "AUTHOR_CAPTURE")]
        capture_mode: String,
        /// Days before capture, 0 to 6.
        #[arg(long, default_value_t = 0)]
        capture_day: u8,
        /// Where transaction notices are POSTed (http://...).
        #[arg(long)]
        notification_url: Option<String>,
    },
    /// Manage a merchant's API keys: create (printed once), list, revoke.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Issue another key (printed once; only its hash is stored).
    Create {
        /// Merchant id (mer_...).
        #[arg(long)]
        merchant: String,
        /// What the key is for, to recognise it in the list.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a merchant's keys: id, prefix, label, created, revoked.
    List {
        /// Merchant id (mer_...).
        #[arg(long)]
        merchant: String,
    },
    /// Revoke a key: it stops working at once (401 on the API).
    Revoke {
        /// Merchant id (mer_...).
        #[arg(long)]
        merchant: String,
        /// Key id (key_..., from `key list`).
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
enum PromptsAction {
    /// Synthesize every manifest prompt that has no WAV (8 kHz mono, trimmed, normalised).
    Generate {
        /// Prompts directory (`<dir>/<lang>/manifest.toml`).
        #[arg(long, default_value = "prompts")]
        dir: PathBuf,
        /// A language code, or `all` for every language with a manifest.
        #[arg(long, default_value = "all")]
        lang: String,
        /// Regenerate prompts that already have a recording, replacing them.
        #[arg(long)]
        force: bool,
        /// The espeak-ng program.
        #[arg(long, env = "IVRPAY_ESPEAK", default_value = ivrpay::ivr::generate::DEFAULT_ESPEAK)]
        espeak: PathBuf,
    },
    /// List, per language, the manifest prompts with no recording in that language.
    Missing {
        /// Prompts directory.
        #[arg(long, default_value = "prompts")]
        dir: PathBuf,
        /// A language code, or `all`.
        #[arg(long, default_value = "all")]
        lang: String,
    },
}

#[derive(Subcommand)]
enum OperatorAction {
    /// Issue an operator API key (printed once).
    KeyCreate {
        /// What the key is for.
        #[arg(long, default_value = "operator")]
        label: String,
    },
    /// Revoke an operator API key by id.
    KeyRevoke {
        /// The key id printed at creation (opk_...).
        id: String,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user; the password is prompted for (twice) or read from stdin.
    Create {
        /// Sign-in e-mail address.
        #[arg(long)]
        email: String,
        /// admin, operator or merchant.
        #[arg(long)]
        role: String,
        /// The merchant a merchant user belongs to (merchant_id=... from `merchant create`).
        #[arg(long)]
        merchant: Option<String>,
    },
    /// Set a new password (ends the user's sessions); read like `create`.
    Password {
        /// Sign-in e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Disable a user (ends its sessions) or, with --enable, enable it again.
    Disable {
        /// Sign-in e-mail address.
        #[arg(long)]
        email: String,
        /// Enable instead.
        #[arg(long)]
        enable: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TransportArg {
    Udp,
    Tcp,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve { config, listen } => serve(config, listen).await,
            Command::Check { config } => check(config),
            Command::Prompts { action } => prompts(action),
            Command::Simulator { listen, secret, latency_ms } => simulator(listen, secret, latency_ms).await,
            Command::Merchant { action, config, database } => merchant(action, config, database).await,
            Command::Operator { action, config, database } => operator(action, config, database).await,
            Command::User { action, config, database } => user(action, config, database).await,
            Command::Call {
                uri,
                dtmf,
                dtmf_mode,
                transport,
                record,
                wait_ms,
                digit_ms,
                gap_ms,
                hangup_after_ms,
                wait_for_bye,
                max_seconds,
                silence_ms,
            } => {
                let opts = CallOptions {
                    target: uri,
                    dtmf,
                    mode: dtmf_mode,
                    transport: match transport {
                        TransportArg::Udp => Transport::Udp,
                        TransportArg::Tcp => Transport::Tcp,
                    },
                    record,
                    wait: Duration::from_millis(wait_ms),
                    digit: Duration::from_millis(digit_ms),
                    gap: Duration::from_millis(gap_ms),
                    hangup_after: Duration::from_millis(hangup_after_ms),
                    wait_for_bye,
                    max_duration: Duration::from_secs(max_seconds),
                    silence: Duration::from_millis(silence_ms),
                    ..CallOptions::default()
                };
                match caller::run(&opts).await {
                    Ok(summary) => {
                        println!("{summary}");
                        if summary.status >= 300 || summary.status == 0 {
                            Err(format!("call not answered: {}", summary.status))
                        } else {
                            Ok(())
                        }
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<PathBuf>) -> Result<Config, String> {
    match path {
        Some(p) => Config::load(&p).map_err(|e| e.to_string()),
        None => Ok(Config::default()),
    }
}

async fn simulator(listen: SocketAddr, secret: String, latency_ms: u64) -> Result<(), String> {
    use ivrpay::payments::{gateway::Simulator, sips_sim};
    let sim = Simulator::new(Duration::from_millis(latency_ms), Duration::from_secs(60));
    let state = sips_sim::SimServer { simulator: sim, secret: secret.clone(), answer_secret: secret };
    let l = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!("payment simulator (Sips Office JSON) on http://{listen}/rs-services/v2/");
    axum::serve(l, sips_sim::router(state)).with_graceful_shutdown(wait_for_signal()).await.map_err(|e| e.to_string())
}

async fn merchant(action: MerchantAction, config: Option<PathBuf>, database: Option<String>) -> Result<(), String> {
    let cfg = load_config(config)?;
    let url = database.unwrap_or(cfg.storage.database);
    let store = ivrpay::store::Store::open(&url).await.map_err(|e| e.to_string())?;
    match action {
        MerchantAction::Create { name, phone, brands, capture_mode, capture_day, notification_url } => {
            let capture_mode = ivrpay::store::merchants::CaptureMode::parse(&capture_mode)
                .ok_or_else(|| format!("--capture-mode: '{capture_mode}' is not AUTHOR_CAPTURE or VALIDATION"))?;
            if capture_day > 6 {
                return Err(format!("--capture-day: {capture_day} is more than 6"));
            }
            if name.trim().is_empty() || phone.trim().is_empty() {
                return Err("--name and --phone must not be empty".into());
            }
            let brands: Vec<String> =
                brands.iter().map(|b| b.trim().to_ascii_uppercase()).filter(|b| !b.is_empty()).collect();
            let new = ivrpay::store::merchants::NewMerchant {
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

async fn keys(store: &ivrpay::store::Store, action: KeyAction) -> Result<(), String> {
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

async fn operator(action: OperatorAction, config: Option<PathBuf>, database: Option<String>) -> Result<(), String> {
    let cfg = load_config(config)?;
    let url = database.unwrap_or(cfg.storage.database);
    let store = ivrpay::store::Store::open(&url).await.map_err(|e| e.to_string())?;
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

async fn user(action: UserAction, config: Option<PathBuf>, database: Option<String>) -> Result<(), String> {
    use ivrpay::secret_input::read_new_password;
    use ivrpay::store::users::{NewUser, Role};
    let cfg = load_config(config)?;
    let store =
        ivrpay::store::Store::open(&database.unwrap_or(cfg.storage.database)).await.map_err(|e| e.to_string())?;
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

fn check(config: Option<PathBuf>) -> Result<(), String> {
    let cfg = load_config(config)?;
    let report = ivrpay::ivr::check::check(&cfg).map_err(|e| e.to_string())?;
    print!("{report}");
    Ok(())
}

fn prompts(action: PromptsAction) -> Result<(), String> {
    use ivrpay::ivr::{generate, manifest};
    let languages = |lang: String| if lang == "all" { Vec::new() } else { vec![lang] };
    match action {
        PromptsAction::Generate { dir, lang, force, espeak } => {
            let opts = generate::Options { dir, languages: languages(lang), force, espeak };
            let summaries = generate::generate(&opts, |g| {
                println!("generated {} ({} ms): {}", g.path.display(), g.duration_ms, g.text);
            })
            .map_err(|e| e.to_string())?;
            for s in &summaries {
                println!("{}: {} generated, {} already recorded", s.language, s.generated, s.kept);
            }
        }
        PromptsAction::Missing { dir, lang } => {
            let mut langs = languages(lang);
            if langs.is_empty() {
                langs = manifest::languages(&dir).map_err(|e| e.to_string())?;
            }
            for lang in langs {
                let m = manifest::Manifest::load(&dir, &lang).map_err(|e| e.to_string())?;
                let missing = m.missing_in(&dir).map_err(|e| e.to_string())?;
                for e in &missing {
                    println!("{lang} {} ({}:{}): {}", e.name, m.path.display(), e.line, e.text);
                }
                println!("{lang}: {} of {} prompts missing", missing.len(), m.entries.len());
            }
        }
    }
    Ok(())
}

async fn serve(config: Option<PathBuf>, listen: Option<SocketAddr>) -> Result<(), String> {
    let mut cfg = load_config(config)?;
    if let Some(l) = listen {
        cfg.sip.listen = l;
    }
    let server = Server::start(cfg).await.map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        let ctx = server.ctx().clone();
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    // Errors are logged by reload_dialplans; the flows in force keep serving.
                    let _ = ctx.reload_dialplans();
                }
            });
        }
    }
    wait_for_signal().await;
    server.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
