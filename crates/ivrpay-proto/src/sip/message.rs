//! The project's own view of a SIP message, with `rsip` behind it.
//!
//! rsip 0.4 tokenises the start line, the URI and the header list well, but it is dated:
//! it trips on whitespace before a colon, folded lines and compact names, and it never
//! checks Content-Length. So every message goes through [`normalise`]
//! first, then rsip, and the rest of ivrpay only sees the types here: a [`Request`] or a
//! [`Response`] whose dialog-relevant fields (Call-ID, CSeq, tags, top Via branch) were
//! extracted once at parse time and checked to be present.

use super::headers::{self, Headers};
use super::normalise::{self, Framing, NormaliseError};
use super::via::{self, ViaError};
use std::fmt;

/// SIP methods ivrpay knows; anything else is kept by name so it can be refused with 501.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Starts a call (or changes its media, in a dialog: re-INVITE).
    Invite,
    /// Confirms a final answer to an INVITE; may carry the SDP answer of a late offer.
    Ack,
    /// Ends a call, from either side.
    Bye,
    /// Abandons an INVITE not yet answered (200 to it, 487 to the INVITE).
    Cancel,
    /// Capability query and keep-alive; answered in and out of dialogs.
    Options,
    /// Carries DTMF digits (application/dtmf-relay or application/dtmf) in a call.
    Info,
    /// Registration: we are not a registrar (405 with Allow).
    Register,
    /// Reliable provisional acknowledgement (RFC 3262), not supported.
    Prack,
    /// Session update before the answer (RFC 3311), not supported.
    Update,
    /// Call transfer (RFC 3515), not supported.
    Refer,
    /// Event notification (RFC 6665), not supported.
    Notify,
    /// Event subscription (RFC 6665), not supported.
    Subscribe,
    /// Instant message (RFC 3428), not supported.
    Message,
    /// Event state publication (RFC 3903), not supported.
    Publish,
    /// A token we do not implement (answered 501 Not Implemented, RFC 3261 8.2.1).
    Other(String),
}

impl Method {
    /// Parses a method token case-sensitively, as RFC 3261 7.1 requires.
    pub fn parse(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "REGISTER" => Method::Register,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_string()),
        }
    }

    /// The wire token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a datagram or stream frame could not become a message; each maps to a status
/// ([`ParseError::status`]: 400 mostly) and a reason phrase naming what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The raw text could not be normalised (framing, Content-Length, header syntax).
    #[error("{0}")]
    Normalise(#[from] NormaliseError),
    /// rsip refused the normalised text.
    #[error("malformed message: {0}")]
    Syntax(String),
    /// A header every request and response must carry is absent or unusable.
    #[error("missing or invalid {0} header")]
    MissingHeader(&'static str),
    /// A header that must appear once appears twice, or holds a list (RFC 3261 7.3.1
    /// allows repeats only for comma-list headers): which value counts cannot be told.
    #[error("more than one {0} header")]
    DuplicateHeader(&'static str),
    /// The CSeq method is not the request's method (RFC 3261 8.1.1.5, 20.16).
    #[error("CSeq method {cseq} does not match request method {method}")]
    CSeqMismatch {
        /// Method of the request line.
        method: String,
        /// Method in CSeq.
        cseq: String,
    },
    /// A Request-URI scheme other than sip or sips (answered 416, RFC 3261 8.2.2.1).
    #[error("unsupported Request-URI scheme {0}")]
    UnsupportedScheme(String),
    /// A Request-URI user with a broken `%` escape (RFC 3261 25.1 escaped).
    #[error("malformed escape in the Request-URI user")]
    BadEscape,
    /// A Via that cannot be copied back faithfully (empty parameters, no host).
    #[error("malformed Via: {0}")]
    MalformedVia(#[from] ViaError),
}

impl ParseError {
    /// The status to answer a request with: 505 for another SIP version, 416 for a
    /// Request-URI scheme we do not serve, 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            ParseError::Normalise(e) => e.status(),
            ParseError::UnsupportedScheme(_) => 416,
            _ => 400,
        }
    }

    /// A short reason phrase for the answer, so the peer's logs say what was wrong.
    pub fn reason_phrase(&self) -> String {
        match self {
            ParseError::Normalise(NormaliseError::VersionNotSupported(_)) => "Version Not Supported".to_string(),
            ParseError::UnsupportedScheme(_) => "Unsupported URI Scheme".to_string(),
            ParseError::Normalise(e) => format!("Bad Request ({})", e.reason()),
            ParseError::Syntax(_) => "Bad Request (Malformed Message)".to_string(),
            ParseError::MissingHeader(h) => format!("Bad Request (Missing or Invalid {h})"),
            ParseError::DuplicateHeader(h) => format!("Bad Request (Multiple {h} Values)"),
            ParseError::CSeqMismatch { .. } => "Bad Request (CSeq Method Does Not Match)".to_string(),
            ParseError::BadEscape => "Bad Request (Malformed Escape in Request-URI)".to_string(),
            ParseError::MalformedVia(_) => "Bad Request (Malformed Via)".to_string(),
        }
    }
}

/// Fields every transaction and dialog lookup needs, extracted once at parse time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Core {
    /// Call-ID, the dialog's first key.
    pub call_id: String,
    /// CSeq sequence number.
    pub cseq: u32,
    /// CSeq method (for a response: the request it answers).
    pub cseq_method: Method,
    /// From tag (the caller's side of the dialog id).
    pub from_tag: Option<String>,
    /// To tag (ours once the dialog exists).
    pub to_tag: Option<String>,
    /// Branch of the top Via: the transaction id (RFC 3261 17.2.3).
    pub branch: String,
}

/// A parsed SIP request.
#[derive(Clone, Debug)]
pub struct Request {
    /// Method from the start line.
    pub method: Method,
    /// Request-URI as sent.
    pub uri: String,
    /// User part of the Request-URI: the service number dialled.
    pub uri_user: Option<String>,
    /// All headers in order, names canonicalised.
    pub headers: Headers,
    /// Message body (SDP, DTMF relay).
    pub body: Vec<u8>,
    /// Extracted dialog/transaction fields.
    pub core: Core,
}

/// A parsed SIP response.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// All headers in order.
    pub headers: Headers,
    /// Message body.
    pub body: Vec<u8>,
    /// Extracted dialog/transaction fields.
    pub core: Core,
}

/// Either kind of message, as it comes off a transport.
#[derive(Clone, Debug)]
pub enum SipMessage {
    /// A request: routed to its call or to admission.
    Request(Request),
    /// A response: routed to the call whose transaction (our BYE) it answers.
    Response(Response),
}

/// Normalises, parses with rsip and checks the mandatory headers.
pub fn parse(raw: &[u8], framing: Framing) -> Result<SipMessage, ParseError> {
    // The rewritten text may hold an INFO body's digit: wiped when parsing is done.
    let canonical = zeroize::Zeroizing::new(normalise::normalise(raw, framing)?);
    check_request_uri_scheme(&canonical)?;
    let msg = rsip::SipMessage::try_from(canonical.as_slice())
        .map_err(|e| ParseError::Syntax(truncate(&e.to_string(), 120)))?;
    match msg {
        rsip::SipMessage::Request(r) => {
            let headers = Headers::from_rsip(&r.headers);
            let method = Method::parse(&r.method.to_string());
            let core = extract_core(&headers)?;
            if core.cseq_method != method {
                let (method, cseq) = (method.to_string(), core.cseq_method.to_string());
                return Err(ParseError::CSeqMismatch { method, cseq });
            }
            let uri_user = match r.uri.user() {
                Some(u) => Some(headers::unescape(u).ok_or(ParseError::BadEscape)?),
                None => None,
            };
            Ok(SipMessage::Request(Request { method, uri: r.uri.to_string(), uri_user, headers, body: r.body, core }))
        }
        rsip::SipMessage::Response(r) => {
            let headers = Headers::from_rsip(&r.headers);
            let core = extract_core(&headers)?;
            let status = u16::from(r.status_code.clone());
            // The phrase as sent (rsip gives its own for the codes it knows).
            let line = canonical.split(|&b| b == b'\r').next().unwrap_or_default();
            let reason = String::from_utf8_lossy(line).splitn(3, ' ').nth(2).unwrap_or("").to_string();
            Ok(SipMessage::Response(Response { status, reason, headers, body: r.body, core }))
        }
    }
}

/// A request for a `tel:`, `mailto:` or unknown-scheme URI is refused with 416 before
/// rsip sees it (which would refuse it as malformed): we only serve SIP URIs.
fn check_request_uri_scheme(canonical: &[u8]) -> Result<(), ParseError> {
    let line_end = canonical.iter().position(|&b| b == b'\r').unwrap_or(canonical.len());
    let line = String::from_utf8_lossy(&canonical[..line_end]);
    let mut parts = line.split(' ');
    let (first, uri) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if first.contains('/') {
        return Ok(()); // a status line
    }
    let scheme = uri.split_once(':').map(|x| x.0).unwrap_or(uri);
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        return Ok(());
    }
    Err(ParseError::UnsupportedScheme(truncate(scheme, 32)))
}

/// Tells apart "a method rsip does not know" from a truly malformed start line, so the
/// former gets 501 rather than 400, and finds the method of a request line too broken to
/// parse (doubled spaces, another SIP version) so it can still be answered. None for a
/// status line or garbage.
pub fn request_method_token(raw: &[u8]) -> Option<&str> {
    let start = raw.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let line_end = raw[start..].iter().position(|&b| b == b'\r' || b == b'\n')? + start;
    let line = std::str::from_utf8(&raw[start..line_end]).ok()?;
    let parts: Vec<&str> = line.split_whitespace().collect();
    let (method, version) = (parts.first()?, parts.last()?);
    let is_token =
        !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
    (is_token && normalise::is_sip_version(version) && parts.len() >= 3).then_some(method)
}

/// Headers that must appear exactly once (RFC 3261 20: none of them is a list).
const SINGLE: &[&str] = &["Call-ID", "From", "To", "CSeq", "Max-Forwards"];

fn extract_core(headers: &Headers) -> Result<Core, ParseError> {
    for name in SINGLE {
        let values: Vec<&str> = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|x| x.1).collect();
        // From and To are one address: a list, or a stray comma outside the address
        // ("<sip:a@b>,"), is refused; kept, it would turn our reply's To (with its tag
        // after the comma) into two values (found by the sip_message fuzz target).
        let listed = matches!(*name, "From" | "To")
            && values.first().is_some_and(|v| headers::split_list(v).len() > 1 || headers::split_list(v) != [v.trim()]);
        if values.len() > 1 || listed {
            return Err(ParseError::DuplicateHeader(name));
        }
    }
    let call_id =
        headers.get("Call-ID").filter(|v| !v.is_empty()).ok_or(ParseError::MissingHeader("Call-ID"))?.to_string();
    let (cseq, cseq_method) =
        headers.get("CSeq").and_then(headers::parse_cseq).ok_or(ParseError::MissingHeader("CSeq"))?;
    let from = headers.get("From").ok_or(ParseError::MissingHeader("From"))?;
    let to = headers.get("To").ok_or(ParseError::MissingHeader("To"))?;
    // The top via-parm, also when the first Via line lists several.
    let via = headers.get_all("Via").into_iter().next().ok_or(ParseError::MissingHeader("Via"))?;
    check_vias(headers)?;
    // RFC 3261 branches start with the magic cookie; older (RFC 2543) peers omit the
    // branch, so fall back to a key built from what identifies the request.
    let branch = headers::param(via, "branch")
        .map(str::to_string)
        .unwrap_or_else(|| format!("rfc2543-{}-{}-{}", call_id, cseq, headers::param(from, "tag").unwrap_or("")));
    Ok(Core {
        from_tag: headers::param(from, "tag").map(str::to_string),
        to_tag: headers::param(to, "tag").map(str::to_string),
        call_id,
        cseq,
        cseq_method,
        branch,
    })
}

/// Every Via element must be well-formed, since a response copies them all.
fn check_vias(headers: &Headers) -> Result<(), ParseError> {
    for value in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("Via")).map(|x| x.1) {
        let elements = headers::split_list(value);
        if elements.is_empty() || value.trim_end().ends_with(',') {
            return Err(ViaError::Empty.into());
        }
        for element in elements {
            via::parse(element)?;
        }
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl Request {
    /// Starts a response that copies what RFC 3261 8.2.6.2 says a response must copy
    /// (Via, From, To, Call-ID, CSeq), adding our To tag when one is given.
    pub fn reply(&self, status: u16, reason: &str, to_tag: Option<&str>) -> MessageBuilder {
        let mut b = MessageBuilder::response(status, reason);
        // Copied line for line as they came (RFC 3261 8.2.6.2 wants the same values, in
        // either form): split at their commas, one request line of a hundred Vias would
        // become a response of a hundred lines, over the header limit (ours included).
        for via in self.headers.lines("Via") {
            b = b.header("Via", via);
        }
        if status > 100 && status < 300 {
            // Record-Route is copied into dialog-forming responses (RFC 3261 12.1.1).
            for rr in self.headers.lines("Record-Route") {
                b = b.header("Record-Route", rr);
            }
        }
        let from = self.headers.get("From").unwrap_or_default();
        let to = self.headers.get("To").unwrap_or_default();
        let to = match (to_tag, &self.core.to_tag) {
            (Some(tag), None) if status > 100 => format!("{to};tag={tag}"),
            _ => to.to_string(),
        };
        b.header("From", from)
            .header("To", &to)
            .header("Call-ID", &self.core.call_id)
            .header("CSeq", &format!("{} {}", self.core.cseq, self.core.cseq_method))
    }
}

/// Writes outgoing requests and responses; the finished bytes come from rsip's printer.
#[derive(Clone, Debug)]
pub struct MessageBuilder {
    start: Start,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_type: Option<String>,
}

#[derive(Clone, Debug)]
enum Start {
    Request(Method, String),
    Response(u16, String),
}

impl MessageBuilder {
    /// A response with an explicit reason phrase (ours carry a hint of what was wrong).
    pub fn response(status: u16, reason: &str) -> Self {
        MessageBuilder {
            start: Start::Response(status, reason.to_string()),
            headers: Vec::new(),
            body: Vec::new(),
            content_type: None,
        }
    }

    /// A request to `uri`.
    pub fn request(method: Method, uri: &str) -> Self {
        MessageBuilder {
            start: Start::Request(method, uri.to_string()),
            headers: Vec::new(),
            body: Vec::new(),
            content_type: None,
        }
    }

    /// Appends a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.content_type = Some(content_type.to_string());
        self.body = body;
        self
    }

    /// Prints the message with a correct Content-Length. rsip prints the header block;
    /// the start line and body are written here so an arbitrary Request-URI or a binary
    /// body go out byte for byte.
    pub fn build(self) -> Vec<u8> {
        let mut hs: Vec<rsip::Header> = self.headers.into_iter().map(|(n, v)| rsip::Header::Other(n, v)).collect();
        if let Some(ct) = self.content_type {
            hs.push(rsip::Header::Other("Content-Type".into(), ct));
        }
        hs.push(rsip::Header::Other("Content-Length".into(), self.body.len().to_string()));
        let start = match self.start {
            Start::Response(status, reason) => format!("SIP/2.0 {status} {reason}"),
            Start::Request(method, uri) => format!("{method} {uri} SIP/2.0"),
        };
        let headers = rsip::Headers::from(hs).to_string();
        let mut out = Vec::with_capacity(start.len() + headers.len() + self.body.len() + 4);
        out.extend_from_slice(start.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(headers.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
