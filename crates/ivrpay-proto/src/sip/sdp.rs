//! SDP (RFC 4566) for an audio-only G.711 user agent, and the offer/answer rules of
//! RFC 3264: answer with one codec in the offer's order, echo telephone-event with the
//! caller's payload type, mirror the direction, keep the m-line count.

use crate::media::codec::Codec;
use std::net::{IpAddr, SocketAddr};

/// Why an SDP body is unusable.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    /// A line we must understand is malformed (1-based line number).
    #[error("line {line}: {what}")]
    Syntax {
        /// Where the peer's SDP is wrong, for the Warning header.
        line: usize,
        /// What is wrong with that line.
        what: &'static str,
    },
    /// No audio stream with PCMU or PCMA (488 Not Acceptable Here).
    #[error("no audio stream with PCMU or PCMA")]
    NoCommonCodec,
    /// No connection address for the audio stream.
    #[error("no connection address for audio")]
    NoConnection,
}

/// Media direction attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Both ways: a call in progress (the default when no attribute is given).
    SendRecv,
    /// The side that says it only sends (a phone putting the other on hold).
    SendOnly,
    /// The side that says it only receives.
    RecvOnly,
    /// Neither way: a call on hold at both ends.
    Inactive,
}

impl Direction {
    /// Our direction for an offer's direction (RFC 3264 6.1).
    pub fn answer_to(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// The attribute text.
    pub fn as_attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// An `a=rtpmap` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type it names (dynamic types, such as telephone-event, need one).
    pub pt: u8,
    /// Encoding name (PCMU, PCMA, telephone-event...), compared case-insensitively.
    pub encoding: String,
    /// Clock rate: G.711 and the events we accept are 8000 only.
    pub clock: u32,
}

/// One m= section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type: only `audio` streams are answered.
    pub media: String,
    /// Where the peer receives RTP; 0 means the stream is refused or disabled.
    pub port: u16,
    /// Transport profile: RTP/AVP or RTP/AVPF (no SRTP).
    pub proto: String,
    /// Formats as text (RTP payload types are numbers; other protocols may not be).
    pub formats: Vec<String>,
    /// Media-level c= address, overriding the session's.
    pub connection: Option<IpAddr>,
    /// Payload type mappings of this stream.
    pub rtpmaps: Vec<RtpMap>,
    /// Packet duration the peer asked for, in ms (we send 20 ms anyway).
    pub ptime: Option<u32>,
    /// Media-level direction, overriding the session's.
    pub direction: Option<Direction>,
}

/// The parts of a session description a UA needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDescription {
    /// Session-level c= address, used by streams without their own.
    pub connection: Option<IpAddr>,
    /// Session-level direction, used by streams without their own.
    pub direction: Option<Direction>,
    /// The m= sections in order (an answer keeps the same count and order).
    pub media: Vec<MediaDescription>,
}

/// Our side of the media.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address put in o= and c=: one the peer can reach.
    pub address: IpAddr,
    /// Our RTP port (RTCP on the next one).
    pub port: u16,
    /// Codecs we accept, in our preference order (used when we offer).
    pub codecs: Vec<Codec>,
    /// o= session id, random per call.
    pub session_id: u64,
    /// o= version, raised each time our SDP changes (RFC 3264 8).
    pub session_version: u64,
}

/// The outcome of a negotiation: what to send and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec we send and decode.
    pub codec: Codec,
    /// Its payload type as the peer numbered it.
    pub payload_type: u8,
    /// The peer's telephone-event payload type, when it sends RFC 4733 digits.
    pub telephone_event: Option<u8>,
    /// Where to send RTP (until symmetric RTP latches to the real source).
    pub remote_rtp: SocketAddr,
    /// Our direction.
    pub direction: Direction,
    /// Packet duration in ms.
    pub ptime: u32,
    /// The peer put the call on hold RFC 2543-style (c=0.0.0.0).
    pub hold: bool,
}

/// Parses an SDP body, liberal in what it ignores, strict where it matters.
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let mut sd = SessionDescription { connection: None, direction: None, media: Vec::new() };
    let mut seen_v = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches(['\r', ' ', '\t']);
        if line.is_empty() {
            continue;
        }
        let (kind, value) =
            line.split_once('=').ok_or(SdpError::Syntax { line: line_no, what: "expected <type>=<value>" })?;
        match kind {
            "v" => seen_v = true,
            "c" => {
                let addr = parse_connection(value).ok_or(SdpError::Syntax { line: line_no, what: "bad c= line" })?;
                match sd.media.last_mut() {
                    Some(m) => m.connection = Some(addr),
                    None => sd.connection = Some(addr),
                }
            }
            "m" => {
                let mut it = value.split_whitespace();
                let bad = SdpError::Syntax { line: line_no, what: "bad m= line" };
                let media = it.next().ok_or(bad.clone())?.to_string();
                let port_part = it.next().ok_or(bad.clone())?;
                let port = port_part.split('/').next().and_then(|p| p.parse().ok()).ok_or(bad.clone())?;
                let proto = it.next().ok_or(bad)?.to_string();
                let formats = it.map(str::to_string).collect();
                sd.media.push(MediaDescription {
                    media,
                    port,
                    proto,
                    formats,
                    connection: None,
                    rtpmaps: Vec::new(),
                    ptime: None,
                    direction: None,
                });
            }
            "a" => {
                let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                if let Some(dir) = Direction::parse(name) {
                    match sd.media.last_mut() {
                        Some(m) => m.direction = Some(dir),
                        None => sd.direction = Some(dir),
                    }
                } else if let Some(m) = sd.media.last_mut() {
                    match name {
                        "rtpmap" => {
                            let bad = SdpError::Syntax { line: line_no, what: "bad rtpmap" };
                            let (pt, enc) = arg.split_once(' ').ok_or(bad.clone())?;
                            let pt = pt.trim().parse().map_err(|_| bad.clone())?;
                            let mut parts = enc.trim().split('/');
                            let encoding = parts.next().ok_or(bad.clone())?.to_string();
                            let clock = parts.next().and_then(|c| c.parse().ok()).ok_or(bad)?;
                            m.rtpmaps.push(RtpMap { pt, encoding, clock });
                        }
                        "ptime" => m.ptime = arg.trim().parse().ok(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if !seen_v {
        return Err(SdpError::Syntax { line: 1, what: "missing v= line" });
    }
    Ok(sd)
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut it = value.split_whitespace();
    if it.next()? != "IN" {
        return None;
    }
    let family = it.next()?;
    let addr = it.next()?.split('/').next()?;
    let ip: IpAddr = addr.parse().ok()?;
    match (family, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

/// The codec a payload type stands for in this m= section.
fn codec_of(m: &MediaDescription, pt: u8) -> Option<Codec> {
    match m.rtpmaps.iter().find(|r| r.pt == pt) {
        Some(r) if r.clock == 8000 => Codec::from_encoding_name(&r.encoding),
        Some(_) => None,
        None => Codec::from_payload_type(pt),
    }
}

fn telephone_event(m: &MediaDescription) -> Option<u8> {
    m.rtpmaps
        .iter()
        .find(|r| {
            r.encoding.eq_ignore_ascii_case("telephone-event")
                && r.clock == 8000
                && m.formats.iter().any(|f| f == &r.pt.to_string())
        })
        .map(|r| r.pt)
}

fn usable(m: &MediaDescription) -> bool {
    m.media == "audio" && m.port != 0 && (m.proto == "RTP/AVP" || m.proto == "RTP/AVPF")
}

/// Checks that [`answer`] can answer this offer, so admission refuses with 488 before a
/// call is created rather than the call answering 488 later: the stream `answer` picks
/// (the first RTP audio stream with a G.711 format) must exist and have a connection
/// address, at media or session level.
pub fn check_offer(sd: &SessionDescription) -> Result<(), SdpError> {
    let m = sd
        .media
        .iter()
        .filter(|m| usable(m))
        .find(|m| m.formats.iter().filter_map(|f| f.parse().ok()).any(|pt| codec_of(m, pt).is_some()))
        .ok_or(SdpError::NoCommonCodec)?;
    m.connection.or(sd.connection).map(|_| ()).ok_or(SdpError::NoConnection)
}

/// True when the description has an audio stream we can answer (see [`check_offer`]).
pub fn has_usable_audio(sd: &SessionDescription) -> bool {
    check_offer(sd).is_ok()
}

/// Answers an offer: picks the first G.711 format of the first usable audio stream,
/// rejects the other streams with port 0, and returns the answer text.
pub fn answer(offer: &SessionDescription, local: &LocalMedia) -> Result<(Negotiated, String), SdpError> {
    let mut chosen: Option<(usize, Negotiated)> = None;
    for (i, m) in offer.media.iter().enumerate() {
        if chosen.is_some() || !usable(m) {
            continue;
        }
        let pick = m
            .formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .find_map(|pt| codec_of(m, pt).filter(|c| local.codecs.contains(c)).map(|c| (c, pt)));
        let Some((codec, pt)) = pick else { continue };
        let addr = m.connection.or(offer.connection).ok_or(SdpError::NoConnection)?;
        let hold = addr.is_unspecified();
        let offered = m.direction.or(offer.direction).unwrap_or(Direction::SendRecv);
        let direction = if hold && offered == Direction::SendRecv { Direction::RecvOnly } else { offered.answer_to() };
        chosen = Some((
            i,
            Negotiated {
                codec,
                payload_type: pt,
                telephone_event: telephone_event(m),
                remote_rtp: SocketAddr::new(addr, m.port),
                direction,
                ptime: 20,
                hold,
            },
        ));
    }
    let (index, neg) = chosen.ok_or(SdpError::NoCommonCodec)?;
    let mut text = session_header(local);
    for (i, m) in offer.media.iter().enumerate() {
        if i == index {
            text.push_str(&audio_section(
                local.port,
                &[(neg.codec, neg.payload_type)],
                neg.telephone_event,
                neg.direction,
            ));
        } else {
            text.push_str(&format!(
                "m={} 0 {} {}\r\n",
                m.media,
                m.proto,
                m.formats.first().map(String::as_str).unwrap_or("0")
            ));
        }
    }
    Ok((neg, text))
}

/// An offer (late offer in our 200 OK, or the test caller's INVITE): our codecs in
/// preference order plus telephone-event as payload type 101.
pub fn offer(local: &LocalMedia, direction: Direction) -> String {
    let codecs: Vec<(Codec, u8)> = local.codecs.iter().map(|c| (*c, c.payload_type())).collect();
    let mut text = session_header(local);
    text.push_str(&audio_section(local.port, &codecs, Some(101), direction));
    text
}

/// Reads the answer to an offer we made: the first codec of the answer that we offered.
pub fn negotiate_from_answer(answer: &SessionDescription, ours: &LocalMedia) -> Result<Negotiated, SdpError> {
    let m = answer.media.iter().find(|m| usable(m)).ok_or(SdpError::NoCommonCodec)?;
    let (codec, pt) = m
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .find_map(|pt| codec_of(m, pt).filter(|c| ours.codecs.contains(c)).map(|c| (c, pt)))
        .ok_or(SdpError::NoCommonCodec)?;
    let addr = m.connection.or(answer.connection).ok_or(SdpError::NoConnection)?;
    let theirs = m.direction.or(answer.direction).unwrap_or(Direction::SendRecv);
    Ok(Negotiated {
        codec,
        payload_type: pt,
        telephone_event: telephone_event(m),
        remote_rtp: SocketAddr::new(addr, m.port),
        direction: theirs.answer_to(),
        ptime: m.ptime.unwrap_or(20),
        hold: addr.is_unspecified(),
    })
}

fn session_header(local: &LocalMedia) -> String {
    let fam = if local.address.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=ivrpay {} {} IN {fam} {addr}\r\ns=ivrpay\r\nc=IN {fam} {addr}\r\nt=0 0\r\n",
        local.session_id,
        local.session_version,
        addr = local.address
    )
}

fn audio_section(port: u16, codecs: &[(Codec, u8)], te: Option<u8>, direction: Direction) -> String {
    let mut fmts: Vec<String> = codecs.iter().map(|(_, pt)| pt.to_string()).collect();
    fmts.extend(te.map(|t| t.to_string()));
    let mut s = format!("m=audio {port} RTP/AVP {}\r\n", fmts.join(" "));
    for (c, pt) in codecs {
        s.push_str(&format!("a=rtpmap:{pt} {}/8000\r\n", c.encoding_name()));
    }
    if let Some(t) = te {
        s.push_str(&format!("a=rtpmap:{t} telephone-event/8000\r\na=fmtp:{t} 0-15\r\n"));
    }
    s.push_str(&format!("a=ptime:20\r\na={}\r\n", direction.as_attr()));
    s
}

/// What a re-INVITE's body asks of us (RFC 3264 section 8), the same for both ends of a
/// call.
#[derive(Debug)]
pub enum ReOffer {
    /// No body (late offer): we offer `body`, and the answer comes in the ACK.
    WeOffer {
        /// Our offer.
        body: String,
        /// What we offered, to match the answer against.
        offered: LocalMedia,
    },
    /// An offer we can answer with `body`; the media becomes `negotiated`.
    Answered {
        /// The media both ends now use.
        negotiated: Negotiated,
        /// Our answer.
        body: String,
    },
    /// An offer we cannot use: answer 488 and keep the session as it was (RFC 3261 14.2).
    Unusable,
}

/// Our side of a re-INVITE carrying `body`, with `media` as our new version.
pub fn reoffer(body: &[u8], media: LocalMedia) -> ReOffer {
    if body.is_empty() {
        return ReOffer::WeOffer { body: offer(&media, Direction::SendRecv), offered: media };
    }
    let parsed = std::str::from_utf8(body).ok().and_then(|t| parse(t).ok());
    match parsed.map(|o| answer(&o, &media)) {
        Some(Ok((negotiated, body))) => ReOffer::Answered { negotiated, body },
        _ => ReOffer::Unusable,
    }
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
