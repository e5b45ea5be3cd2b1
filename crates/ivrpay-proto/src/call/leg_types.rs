//! The leg's vocabulary: why a call ended, what the leg asks its driver to do, the
//! facts about our side it is built with, and its guard limits.

use crate::sip::sdp::{LocalMedia, Negotiated};
use crate::sip::transaction::Timers;
use crate::sip::Flow;
use std::time::Duration;

/// Why a call ended; stored in call records and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The caller sent BYE.
    RemoteBye,
    /// The call flow hung up (we sent BYE).
    LocalHangup,
    /// The caller cancelled before the answer.
    Cancelled,
    /// Our 2xx was never acknowledged.
    NoAck,
    /// No RTP from the caller for too long.
    MediaTimeout,
    /// On hold (or inactive) for longer than the hold timeout.
    HoldTimeout,
    /// The call reached its maximum duration.
    MaxDuration,
    /// The server is shutting down.
    Shutdown,
    /// The late-offer ACK had no usable SDP answer.
    BadAnswer,
}

impl EndReason {
    /// Stored form, for call records.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::RemoteBye => "caller_bye",
            EndReason::LocalHangup => "flow_hangup",
            EndReason::Cancelled => "cancelled",
            EndReason::NoAck => "no_ack",
            EndReason::MediaTimeout => "media_timeout",
            EndReason::HoldTimeout => "hold_timeout",
            EndReason::MaxDuration => "max_duration",
            EndReason::Shutdown => "shutdown",
            EndReason::BadAnswer => "bad_answer",
        }
    }
}

/// What the call task must do. Its `Debug` never shows a DTMF key.
pub enum LegOutput {
    /// Send bytes over this flow (answers go back where the request came from).
    Send(Flow, Vec<u8>),
    /// Media parameters are known: start RTP.
    MediaStart(Negotiated),
    /// A re-INVITE changed the media (hold, resume, new address).
    MediaUpdate(Negotiated),
    /// The caller acknowledged our 2xx: its signalling address is real (it saw our
    /// tag), so media may be sent.
    Confirmed,
    /// A DTMF digit arrived by SIP INFO.
    Digit(char),
    /// The call is over for the caller; stop media. The leg may linger to absorb
    /// retransmissions until `is_finished`.
    Ended(EndReason),
}

impl std::fmt::Debug for LegOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LegOutput::Send(flow, bytes) => write!(f, "Send({flow:?}, {} bytes)", bytes.len()),
            LegOutput::MediaStart(n) => write!(f, "MediaStart({n:?})"),
            LegOutput::MediaUpdate(n) => write!(f, "MediaUpdate({n:?})"),
            LegOutput::Confirmed => f.write_str("Confirmed"),
            LegOutput::Digit(_) => f.write_str("Digit(<withheld>)"),
            LegOutput::Ended(r) => write!(f, "Ended({r:?})"),
        }
    }
}

/// Static facts about our side, decided by the server.
#[derive(Clone, Debug)]
pub struct LocalParty {
    /// `SIP/2.0/UDP host:port` for Via of requests we send.
    pub via: String,
    /// Our Contact header value.
    pub contact: String,
    /// Server header value.
    pub server: String,
    /// Our RTP address, port and codecs.
    pub media: LocalMedia,
}

/// Guard timers of a call.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Hang up after this long without RTP from the caller.
    pub media_inactivity: Duration,
    /// Hang up after this long on hold or inactive (counted from the hold).
    pub hold_timeout: Duration,
    /// Hang up after this long in any case.
    pub max_duration: Duration,
    /// Ring this long (180) before answering; zero answers at once.
    pub answer_delay: Duration,
    /// Transaction timers.
    pub timers: Timers,
}
