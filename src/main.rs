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
        /// Keys to press; ',' pauses 500 ms.
        #[arg(long, default_value = "")]
        dtmf: String,
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
        /// Milliseconds before each answer.
        #[arg(long, default_value_t = 300)]
        latency_ms: u64,
    },
    /// Validate a configuration file and the prompts it names, then exit.
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
            Command::Simulator { listen, secret, latency_ms } => simulator(listen, secret, latency_ms).await,
            Command::Merchant { action, config, database } => merchant(action, config, database).await,
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
            println!("api_key={}", key.secret);
            if m.notification_url.is_some() {
                let secret = store.notification_secret(&m.id).await.map_err(|e| e.to_string())?.unwrap_or_default();
                println!("notification_secret={secret}");
            }
            eprintln!("Keep the API key now: only its hash is stored.");
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
    let lib = ivrpay::ivr::prompts::PromptLibrary::load(&cfg.prompts.dir, &cfg.prompts.default_language)
        .map_err(|e| e.to_string())?;
    let langs: Vec<&str> = lib.languages().collect();
    println!("configuration OK; prompts OK ({})", langs.join(", "));
    Ok(())
}

async fn serve(config: Option<PathBuf>, listen: Option<SocketAddr>) -> Result<(), String> {
    let mut cfg = load_config(config)?;
    if let Some(l) = listen {
        cfg.sip.listen = l;
    }
    let server = Server::start(cfg).await.map_err(|e| e.to_string())?;
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
