//! The `ivrpay` command line: every subcommand's arguments, and [`run`], which carries
//! one out. `src/main.rs` only parses, sets up logging and the runtime, and prints the
//! error a failed command returns (exiting non-zero). It parses and delegates: no
//! protocol, payment or storage rule is decided here.

mod admin;
mod run;

use crate::caller::{self, CallOptions, DtmfMode};
use crate::config::Config;
use crate::sip::Transport;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The command line as typed.
#[derive(Parser)]
#[command(name = "ivrpay", version, about = "Pay invoices over the phone: SIP IVR, payments core and invoice extranet")]
pub struct Cli {
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `ivrpay=debug`.
    #[arg(long, global = true, env = "IVRPAY_LOG", default_value = "info")]
    pub log: String,
    /// What to do; each subcommand carries its own options (only `--log` is global).
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
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
        /// Use this Call-ID instead of a random one (to test a server against a reused
        /// Call-ID).
        #[arg(long)]
        call_id: Option<String>,
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
        /// create or key; the database options below apply to either.
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
        /// create, password or disable; the database options below apply to each.
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
        /// PEM certificate chain: serve HTTPS instead of HTTP (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Prompt recordings: list what the manifests describe but nobody recorded, and
    /// generate stand-ins for them with espeak-ng.
    Prompts {
        /// missing (list) or generate (synthesize); neither needs the database.
        #[command(subcommand)]
        action: PromptsAction,
    },
    /// Operator API keys (dialplan reload, calls in progress, call records).
    Operator {
        /// create or revoke; the database options below apply to either.
        #[command(subcommand)]
        action: OperatorAction,
        /// Configuration file, for `storage.database`.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// Database URL, overriding the configuration.
        #[arg(long, global = true)]
        database: Option<String>,
    },
    /// Validate a configuration file, its prompts and its dialplans, then exit: each
    /// problem is printed with its file and line, and any problem exits non-zero.
    Check {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

/// `ivrpay merchant ...`
#[derive(Subcommand)]
pub enum MerchantAction {
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
        /// create, list or revoke, for one merchant.
        #[command(subcommand)]
        action: KeyAction,
    },
}

/// `ivrpay merchant key ...`
#[derive(Subcommand)]
pub enum KeyAction {
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

/// `ivrpay prompts ...`
#[derive(Subcommand)]
pub enum PromptsAction {
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
        #[arg(long, env = "IVRPAY_ESPEAK", default_value = crate::ivr::generate::DEFAULT_ESPEAK)]
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

/// `ivrpay operator ...`
#[derive(Subcommand)]
pub enum OperatorAction {
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

/// `ivrpay user ...`
#[derive(Subcommand)]
pub enum UserAction {
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

/// `--transport` of `ivrpay call`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TransportArg {
    /// UDP (the default).
    Udp,
    /// TCP, framed by Content-Length.
    Tcp,
}

/// Carries out one command; the error is a sentence for the terminal.
pub async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve { config, listen } => run::serve(config, listen).await,
        Command::Check { config } => run::check(config),
        Command::Prompts { action } => run::prompts(action),
        Command::Simulator { listen, secret, latency_ms, tls_cert, tls_key } => {
            run::simulator(listen, secret, latency_ms, tls_cert.zip(tls_key)).await
        }
        Command::Merchant { action, config, database } => admin::merchant(action, config, database).await,
        Command::Operator { action, config, database } => admin::operator(action, config, database).await,
        Command::User { action, config, database } => admin::user(action, config, database).await,
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
            call_id,
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
                call_id,
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
}

fn load_config(path: Option<PathBuf>) -> Result<Config, String> {
    match path {
        Some(p) => Config::load(&p).map_err(|e| e.to_string()),
        None => Ok(Config::default()),
    }
}
