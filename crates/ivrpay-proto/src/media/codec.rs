//! The audio codecs ivrpay speaks on the wire.
//!
//! Only G.711 is offered: every carrier trunk, softphone and test harness supports it,
//! it needs no licence, and its 8 kHz narrowband audio is all a voice prompt needs.

/// A negotiated G.711 variant.
///
/// Kept separate from the encoder functions so SIP/SDP code can name a codec without
/// depending on sample-level code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law (North America, Japan), static RTP payload type 0.
    Pcmu,
    /// G.711 A-law (Europe and most of the world), static RTP payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type assigned by RFC 3551.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoding name used in SDP `a=rtpmap` lines.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Looks a codec up by its static payload type, for offers without rtpmap lines.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// Looks a codec up by its rtpmap encoding name (case-insensitive, as RFC 4855 says).
    pub fn from_encoding_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }
}

/// Samples per 20 ms frame at 8 kHz: the packet size every call uses.
pub const SAMPLES_PER_FRAME: usize = 160;
/// The G.711 clock rate.
pub const CLOCK_RATE: u32 = 8000;
