//! Rewrites raw SIP text into the plain form rsip parses reliably.
//!
//! Real peers send what RFC 3261 allows and rsip 0.4 stumbles on: whitespace before the
//! colon (`Via : ...`), folded header lines (7.3.1), compact names (`i:`, `v:`, 20.x),
//! bare LF line ends, keep-alive CRLFs before the start line. This module unfolds,
//! trims, expands and re-emits every header as `Name: value`, and checks the body
//! against Content-Length (18.3): short on a datagram is a 400, long is truncated.

/// How the message arrived, which decides Content-Length rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// UDP: the datagram is the message; Content-Length may be absent.
    Datagram,
    /// TCP: the framer already cut the message by Content-Length.
    Stream,
}

/// What was wrong with the text; each variant has a short 400 reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NormaliseError {
    /// Nothing but whitespace.
    #[error("empty message")]
    Empty,
    /// No blank line between headers and body.
    #[error("no end of headers")]
    MissingEndOfHeaders,
    /// A header line without a colon (1-based line number).
    #[error("malformed header on line {line}")]
    MalformedHeader {
        /// 1-based line of the message.
        line: usize,
    },
    /// Header bytes are not UTF-8.
    #[error("headers are not UTF-8")]
    NotUtf8,
    /// The start line does not have three parts.
    #[error("malformed start line")]
    BadStartLine,
    /// Content-Length is not a number, or two differ.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// The body is shorter than Content-Length says.
    #[error("body shorter than Content-Length ({actual} < {declared})")]
    BodyTooShort {
        /// Content-Length as sent.
        declared: usize,
        /// Bytes of body actually received.
        actual: usize,
    },
    /// Over 65535 bytes.
    #[error("message too large")]
    TooLarge,
    /// Over 100 header lines.
    #[error("too many headers")]
    TooManyHeaders,
    /// The request line is not `Method SP Request-URI SP SIP-Version` with single spaces
    /// (RFC 3261 7.1): a doubled or trailing space makes it unreadable.
    #[error("request line is not three parts separated by single spaces")]
    BadRequestLine,
    /// A SIP version other than 2.0 (answered 505, RFC 3261 8.2.2 and 21.5.6).
    #[error("SIP version {0} not supported")]
    VersionNotSupported(String),
    /// A control character (NUL and the like) in a header line: not allowed by the
    /// grammar, and a classic way to smuggle a different reading past one parser.
    #[error("control character in line {line}")]
    ControlCharacter {
        /// 1-based line of the message.
        line: usize,
    },
    /// A quoted string that never ends (`To: "Bob <sip:bob@h>`): where the display
    /// name stops, and so which URI is meant, cannot be told.
    #[error("unterminated quoted string in {header}")]
    UnterminatedQuote {
        /// The header's name.
        header: String,
    },
}

impl NormaliseError {
    /// The status to answer with: 505 for another SIP version, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            NormaliseError::VersionNotSupported(_) => 505,
            _ => 400,
        }
    }

    /// The phrase put in brackets after "Bad Request" (for a 505, the reason itself).
    pub fn reason(&self) -> &'static str {
        match self {
            NormaliseError::Empty => "Empty Message",
            NormaliseError::MissingEndOfHeaders => "Missing End of Headers",
            NormaliseError::MalformedHeader { .. } => "Malformed Header",
            NormaliseError::NotUtf8 => "Headers Not UTF-8",
            NormaliseError::BadStartLine => "Malformed Start Line",
            NormaliseError::InvalidContentLength => "Bad Content-Length",
            NormaliseError::BodyTooShort { .. } => "Body Shorter Than Content-Length",
            NormaliseError::TooLarge => "Message Too Large",
            NormaliseError::TooManyHeaders => "Too Many Headers",
            NormaliseError::BadRequestLine => "Malformed Request Line",
            NormaliseError::VersionNotSupported(_) => "Version Not Supported",
            NormaliseError::ControlCharacter { .. } => "Control Character in Header",
            NormaliseError::UnterminatedQuote { .. } => "Unterminated Quoted String",
        }
    }
}

const MAX_MESSAGE: usize = 65_535;
const MAX_HEADERS: usize = 100;

/// Expands a compact header name (RFC 3261 7.3.3 and later RFCs).
pub fn expand_compact(name: &str) -> Option<&'static str> {
    if name.len() != 1 {
        return None;
    }
    Some(match name.as_bytes()[0].to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'f' => "From",
        b't' => "To",
        b'v' => "Via",
        b'm' => "Contact",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'k' => "Supported",
        b's' => "Subject",
        b'e' => "Content-Encoding",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'u' => "Allow-Events",
        b'a' => "Accept-Contact",
        b'b' => "Referred-By",
        b'j' => "Reject-Contact",
        b'd' => "Request-Disposition",
        b'x' => "Session-Expires",
        b'y' => "Identity",
        _ => return None,
    })
}

/// Finds the end of the header section: the index of the body start, and the index of
/// the blank line, accepting CRLFCRLF or LFLF.
pub fn split_head(raw: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\n' {
            if raw.get(i + 1) == Some(&b'\n') {
                return Some((i, i + 2));
            }
            if raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n') {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

/// Returns the canonical form of a message (see the module documentation).
pub fn normalise(raw: &[u8], framing: Framing) -> Result<Vec<u8>, NormaliseError> {
    if raw.len() > MAX_MESSAGE {
        return Err(NormaliseError::TooLarge);
    }
    let start = raw.iter().position(|&b| b != b'\r' && b != b'\n').ok_or(NormaliseError::Empty)?;
    let raw = &raw[start..];
    let (head_end, body_start) = split_head(raw).ok_or(NormaliseError::MissingEndOfHeaders)?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| NormaliseError::NotUtf8)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = start_line(lines.next().ok_or(NormaliseError::Empty)?)?;
    let headers = unfold(lines)?;
    check_quotes(&headers)?;
    let body = body_of(&headers, &raw[body_start..], framing)?;
    let mut out = Vec::with_capacity(raw.len() + 32);
    out.extend_from_slice(start_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value, _) in headers.iter().filter(|(n, _, _)| !n.eq_ignore_ascii_case("Content-Length")) {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// True for the bytes the header grammar never allows (CTL except HTAB, RFC 3261 25.1).
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Checks the start line and returns it with the version in its canonical case. A
/// request line must be exactly `Method SP Request-URI SP SIP/2.0` (RFC 3261 7.1); a
/// status line may have an empty reason phrase (`SIP/2.0 100 `, RFC 3261 25.1).
fn start_line(line: &str) -> Result<String, NormaliseError> {
    if line.bytes().any(is_control) {
        return Err(NormaliseError::ControlCharacter { line: 1 });
    }
    if line.split(' ').next().unwrap_or("").contains('/') {
        let mut parts = line.splitn(3, ' ');
        let (version, code, reason) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next());
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NormaliseError::BadStartLine);
        }
        check_version(version)?;
        return Ok(format!("SIP/2.0 {code} {}", reason.unwrap_or("")));
    }
    if line.split_whitespace().count() < 3 {
        return Err(NormaliseError::BadStartLine);
    }
    let parts: Vec<&str> = line.split(' ').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(NormaliseError::BadRequestLine);
    }
    check_version(parts[2])?;
    Ok(format!("{} {} SIP/2.0", parts[0], parts[1]))
}

/// Whether `token` is a `SIP/x` version in any case (the start line check and the
/// 501-or-400 decision share it). Compared as bytes, not a str slice: "SIPÆ/2.0" must
/// not panic (found twice by the sip_message fuzz target).
pub fn is_sip_version(token: &str) -> bool {
    token.len() > 4 && token.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/")
}

/// `SIP/2.0` in any case is fine (RFC 3261 7.1); another `SIP/x` is a version we do not
/// speak (505); anything else is not a SIP start line.
fn check_version(version: &str) -> Result<(), NormaliseError> {
    let is_sip = is_sip_version(version);
    match version {
        v if v.eq_ignore_ascii_case("SIP/2.0") => Ok(()),
        v if is_sip => Err(NormaliseError::VersionNotSupported(v.chars().take(16).collect())),
        _ => Err(NormaliseError::BadRequestLine),
    }
}

type HeaderLine = (String, String, usize);

/// Unfolds continuation lines (RFC 3261 7.3.1), expands compact names and refuses
/// control characters, returning (name, value, line number) in order.
fn unfold<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Vec<HeaderLine>, NormaliseError> {
    let mut headers: Vec<HeaderLine> = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        if line.bytes().any(is_control) {
            return Err(NormaliseError::ControlCharacter { line: line_no });
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = headers.last_mut().ok_or(NormaliseError::MalformedHeader { line: line_no })?;
            let cont = line.trim();
            if !cont.is_empty() {
                if !last.1.is_empty() {
                    last.1.push(' ');
                }
                last.1.push_str(cont);
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(NormaliseError::MalformedHeader { line: line_no })?;
        let name = name.trim();
        if name.is_empty() || name.contains(' ') {
            return Err(NormaliseError::MalformedHeader { line: line_no });
        }
        let name = expand_compact(name).map(str::to_string).unwrap_or_else(|| name.to_string());
        headers.push((name, value.trim().to_string(), line_no));
        if headers.len() > MAX_HEADERS {
            return Err(NormaliseError::TooManyHeaders);
        }
    }
    Ok(headers)
}

/// Headers whose grammar uses quoted strings (display names, parameter values), where
/// an unbalanced quote changes what the rest of the value means. Free-text headers
/// (Subject, User-Agent) may hold a lone quote and are not checked.
const QUOTED: &[&str] = &[
    "From",
    "To",
    "Contact",
    "Route",
    "Record-Route",
    "Reply-To",
    "Via",
    "Content-Type",
    "Warning",
    "P-Asserted-Identity",
    "Referred-By",
    "Refer-To",
];

/// Refuses a quoted string left open at the end of a value (RFC 3261 25.1 quoted-string,
/// with `\` escapes).
fn check_quotes(headers: &[HeaderLine]) -> Result<(), NormaliseError> {
    for (name, value, _) in headers.iter().filter(|(n, _, _)| QUOTED.iter().any(|q| q.eq_ignore_ascii_case(n))) {
        let (mut quoted, mut escaped) = (false, false);
        for b in value.bytes() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                _ => {}
            }
        }
        if quoted {
            return Err(NormaliseError::UnterminatedQuote { header: name.clone() });
        }
    }
    Ok(())
}

/// The body as Content-Length delimits it (RFC 3261 18.3): every Content-Length must
/// agree, a short body is refused, a long one cut.
fn body_of<'a>(headers: &[HeaderLine], body: &'a [u8], _framing: Framing) -> Result<&'a [u8], NormaliseError> {
    let mut declared: Option<usize> = None;
    for (_, value, _) in headers.iter().filter(|(n, _, _)| n.eq_ignore_ascii_case("Content-Length")) {
        let n: usize = value.parse().map_err(|_| NormaliseError::InvalidContentLength)?;
        if declared.is_some_and(|d| d != n) {
            return Err(NormaliseError::InvalidContentLength);
        }
        declared = Some(n);
    }
    match declared {
        Some(d) if body.len() < d => Err(NormaliseError::BodyTooShort { declared: d, actual: body.len() }),
        Some(d) => Ok(&body[..d]),
        None => Ok(body),
    }
}

/// The first value of a header in normalised bytes (full name, case-insensitive).
pub fn header_value<'a>(canonical: &'a [u8], name: &str) -> Option<&'a str> {
    let (head_end, _) = split_head(canonical)?;
    let head = std::str::from_utf8(&canonical[..head_end]).ok()?;
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[cfg(test)]
#[path = "normalise_tests.rs"]
mod tests;
