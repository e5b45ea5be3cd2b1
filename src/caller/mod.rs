//! `ivrpay call`: a small SIP user agent client that dials a URI, sends DTMF (RFC 4733,
//! SIP INFO or in-band tones) with human-like timing, records what it hears, hangs up
//! and summarises the call on one line. Tests use it as a real peer over loopback;
//! operators use it to check a deployment. It is a client only: it must not know the
//! server's calls, payments or store, so what it proves is what any phone would see.

pub mod media;
mod uac;

use crate::sip::Transport;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use uac::{run, run_owned};

/// How digits are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DtmfMode {
    /// RFC 4733 telephone-events in the RTP stream.
    Rfc4733,
    /// SIP INFO with application/dtmf-relay.
    Info,
    /// Dual tones in the audio.
    Inband,
}

/// What to dial and how to behave.
#[derive(Clone, Debug)]
pub struct CallOptions {
    /// `sip:user@host[:port]`.
    pub target: String,
    /// Keys to press (`,` pauses 500 ms; `;` waits for the server's prompt to end).
    pub dtmf: String,
    /// DTMF method.
    pub mode: DtmfMode,
    /// SIP transport.
    pub transport: Transport,
    /// Write what was heard here.
    pub record: Option<PathBuf>,
    /// Wait after the answer before the first key.
    pub wait: Duration,
    /// How long each key is held.
    pub digit: Duration,
    /// Gap between keys.
    pub gap: Duration,
    /// Stay on the line this long after the last key, then hang up.
    pub hangup_after: Duration,
    /// Wait for the server to hang up instead (bounded by `max_duration`).
    pub wait_for_bye: bool,
    /// Give up on the whole call after this long.
    pub max_duration: Duration,
    /// Our user name in From.
    pub from_user: String,
    /// Send RTP (silence between keys); off simulates a caller whose audio is lost.
    pub send_audio: bool,
    /// How long the server must have been silent for `;` to count its prompt as over.
    pub silence: Duration,
    /// SIP transaction timers (T1...): a slow link may want a larger T1.
    pub timers: crate::sip::transaction::Timers,
    /// Use this Call-ID instead of drawing one (a test of a server's handling of a
    /// reused Call-ID).
    pub call_id: Option<String>,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            target: String::new(),
            dtmf: String::new(),
            mode: DtmfMode::Rfc4733,
            transport: Transport::Udp,
            record: None,
            wait: Duration::from_millis(1500),
            digit: Duration::from_millis(120),
            gap: Duration::from_millis(250),
            hangup_after: Duration::from_millis(2000),
            wait_for_bye: false,
            max_duration: Duration::from_secs(120),
            from_user: "ivrpay-caller".into(),
            send_audio: true,
            silence: Duration::from_millis(700),
            timers: crate::sip::transaction::Timers::default(),
            call_id: None,
        }
    }
}

/// Who ended the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndedBy {
    /// We sent BYE.
    Caller,
    /// The server sent BYE.
    Server,
    /// The call was never answered.
    NotAnswered,
    /// We gave up (max duration) waiting for the server's BYE.
    Timeout,
}

/// The outcome, printed as one line.
#[derive(Clone, Debug)]
pub struct CallSummary {
    /// Call-ID used.
    pub call_id: String,
    /// Final status of the INVITE (0 if none came).
    pub status: u16,
    /// Codec negotiated.
    pub codec: Option<crate::media::codec::Codec>,
    /// Keys sent.
    pub digits_sent: usize,
    /// Audio packets received.
    pub rtp_received: u64,
    /// Talkspurts heard (marker bits).
    pub talkspurts: u64,
    /// Packets sent.
    pub rtp_sent: u64,
    /// Audio heard, in ms.
    pub heard_ms: u64,
    /// Who hung up.
    pub ended_by: EndedBy,
    /// Status of our BYE (0 if none).
    pub bye_status: u16,
    /// Call duration from INVITE to end, in ms.
    pub duration_ms: u64,
}

impl fmt::Display for CallSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = self.codec.map(|c| c.encoding_name()).unwrap_or("-");
        write!(
            f,
            "call-id={} status={} codec={} digits_sent={} rtp_in={} talkspurts={} rtp_out={} heard_ms={} ended_by={:?} bye_status={} duration_ms={}",
            self.call_id,
            self.status,
            codec,
            self.digits_sent,
            self.rtp_received,
            self.talkspurts,
            self.rtp_sent,
            self.heard_ms,
            self.ended_by,
            self.bye_status,
            self.duration_ms
        )
    }
}

/// Why the call could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The target is not a usable SIP URI.
    #[error("bad target URI '{0}': expected sip:user@host[:port] with an IP address or localhost")]
    BadTarget(String),
    /// A key that cannot be sent.
    #[error("cannot send key '{0}': use 0-9, *, #, A-D, ',' for a pause or ';' to wait for the prompt to end")]
    BadDigit(char),
    /// Socket trouble.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    /// No answer at all (Timer B).
    #[error("no response to INVITE from {0}")]
    NoResponse(String),
    /// It rang (1xx) but no final answer came within the call's maximum duration.
    #[error("{0} answered 1xx but never a final response within --max-seconds")]
    NoFinalAnswer(String),
    /// The answer's SDP was unusable.
    #[error("unusable SDP answer: {0}")]
    BadAnswer(String),
    /// The recording could not be written.
    #[error("cannot write recording {path}: {reason}")]
    Record {
        /// The `--record` file.
        path: PathBuf,
        /// Why it could not be written.
        reason: String,
    },
}
