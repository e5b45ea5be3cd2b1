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
}

impl NormaliseError {
    /// The phrase put in brackets after "Bad Request".
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
    let mut body = &raw[body_start..];
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = lines.next().ok_or(NormaliseError::Empty)?.trim();
    if start_line.split(' ').filter(|p| !p.is_empty()).count() < 3 {
        return Err(NormaliseError::BadStartLine);
    }
    // Unfold: a line starting with space or tab continues the previous header.
    let mut headers: Vec<(String, String, usize)> = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
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
    let mut declared: Option<usize> = None;
    for (name, value, _) in headers.iter().filter(|(n, _, _)| n.eq_ignore_ascii_case("Content-Length")) {
        let _ = name;
        let n: usize = value.parse().map_err(|_| NormaliseError::InvalidContentLength)?;
        if declared.is_some_and(|d| d != n) {
            return Err(NormaliseError::InvalidContentLength);
        }
        declared = Some(n);
    }
    match (declared, framing) {
        (Some(d), _) if body.len() < d => return Err(NormaliseError::BodyTooShort { declared: d, actual: body.len() }),
        (Some(d), _) => body = &body[..d],
        (None, Framing::Datagram) => {}
        (None, Framing::Stream) => {}
    }
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
