//! Header lists and the few header-value grammars ivrpay needs (parameters, CSeq, URIs in
//! name-addr form, comma-separated lists).
//!
//! Values are kept as text: a UAS needs to copy most headers verbatim, and parsing only
//! the parts it reads keeps it tolerant of the odd forms real phones send.

use super::message::Method;

/// Headers of one message, in order, with canonical names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Converts rsip's header list; rsip prints each as `Name: value`.
    pub fn from_rsip(hs: &rsip::Headers) -> Headers {
        Headers(
            hs.iter()
                .map(|h| {
                    let text = h.to_string();
                    match text.split_once(':') {
                        Some((n, v)) => (n.trim().to_string(), v.trim().to_string()),
                        None => (text, String::new()),
                    }
                })
                .collect(),
        )
    }

    /// First value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header, splitting comma-joined lists (Via, Route, Record-Route,
    /// Require, Supported, Allow), so `Via: a, b` and two Via lines read the same.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).flat_map(|(_, v)| split_list(v)).collect()
    }

    /// Every value of a header as it was sent, one per header line (a comma-joined
    /// list stays one value), for copying headers verbatim.
    pub fn lines<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Iterates over all (name, value) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Splits a header value at commas that are outside quotes and angle brackets, dropping
/// empty elements.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => depth += 1,
            b'>' if !quoted => depth -= 1,
            b',' if !quoted && depth == 0 => {
                // Empty elements (`a,,b`) are no values (RFC 3261 7.3.1 lists have
                // none); keeping them would copy empty Via lines into our responses.
                let item = value[start..i].trim();
                if !item.is_empty() {
                    out.push(item);
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = value[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// A header parameter (`;tag=abc`), looked up outside the `<...>` URI and quotes, so a
/// `;transport=tcp` inside the URI is not taken for a header parameter.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let params = header_params(value);
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The part of a header value where header parameters live (after the name-addr).
fn header_params(value: &str) -> &str {
    if let Some(close) = value.rfind('>') {
        let mut tail = &value[close + 1..];
        tail = tail.trim_start();
        // Keep a leading empty element so `split(';').skip(1)` works uniformly.
        return if tail.starts_with(';') { tail } else { "" };
    }
    // addr-spec without brackets: parameters after the URI belong to the header.
    match value.find(';') {
        Some(i) => &value[i..],
        None => "",
    }
}

/// Parses `CSeq: 314159 INVITE`.
pub fn parse_cseq(value: &str) -> Option<(u32, Method)> {
    let mut it = value.split_whitespace();
    let n = it.next()?.parse::<u32>().ok()?;
    let m = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some((n, Method::parse(m)))
}

/// The URI inside a name-addr (`"Bob" <sip:bob@host>;tag=1` gives `sip:bob@host`) or an
/// addr-spec without brackets.
pub fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if b > a => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// The user part of a SIP URI (`sip:1234@host` gives `1234`), used for the caller number.
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri.split_once(':')?.1;
    let (user, _) = rest.split_once('@')?;
    Some(user.split(';').next().unwrap_or(user))
}

/// Decodes `%HH` escapes (RFC 3261 19.1.2: `sip:%65cho@h` and `sip:echo@h` are the
/// same URI), so a service is found whichever way its number was written. None for a
/// `%` not followed by two hex digits; bytes that are not UTF-8 are replaced.
pub fn unescape(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Host and port of a SIP URI, for sending to a Contact or Route.
pub fn uri_host_port(uri: &str) -> Option<(String, Option<u16>)> {
    let rest = uri.split_once(':')?.1;
    let rest = rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest);
    let hostport = rest.split([';', '?']).next()?;
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), Some(p.parse().ok()?))),
        None => Some((hostport.to_string(), None)),
    }
}

/// True when a URI asks for TCP (`;transport=tcp`).
pub fn uri_wants_tcp(uri: &str) -> bool {
    uri.split(';').skip(1).any(|p| p.trim().eq_ignore_ascii_case("transport=tcp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_read_outside_the_uri() {
        let v = "\"Bob\" <sip:bob@example.com;transport=tcp>;tag=abc123";
        assert_eq!(param(v, "tag"), Some("abc123"));
        assert_eq!(param(v, "transport"), None);
        assert_eq!(param("sip:alice@h;tag=9", "tag"), Some("9"));
        assert_eq!(param("<sip:alice@h>", "tag"), None);
        let via = "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK776";
        assert_eq!(param(via, "branch"), Some("z9hG4bK776"));
        assert_eq!(param(via, "rport"), Some(""));
    }

    #[test]
    fn lists_split_outside_quotes_and_brackets() {
        assert_eq!(split_list("a, b ,c"), vec!["a", "b", "c"]);
        assert_eq!(split_list("\"x, y\" <sip:a@b>, <sip:c,d@e>"), vec!["\"x, y\" <sip:a@b>", "<sip:c,d@e>"]);
        assert_eq!(split_list(",a,, ,b,"), vec!["a", "b"]);
        assert!(split_list(" , ,").is_empty());
    }

    #[test]
    fn cseq_and_uris() {
        assert_eq!(parse_cseq("1 INVITE"), Some((1, Method::Invite)));
        assert_eq!(parse_cseq("x INVITE"), None);
        assert_eq!(parse_cseq("1 INVITE extra"), None);
        assert_eq!(uri_of("\"A\" <sip:a@h:5070>;tag=1"), "sip:a@h:5070");
        assert_eq!(uri_user("sip:echo@127.0.0.1"), Some("echo"));
        assert_eq!(uri_host_port("sip:a@127.0.0.1:5070;transport=tcp"), Some(("127.0.0.1".into(), Some(5070))));
        assert_eq!(uri_host_port("sip:[::1]:5080"), Some(("::1".into(), Some(5080))));
        assert_eq!(uri_host_port("sip:host.example"), Some(("host.example".into(), None)));
        assert!(uri_wants_tcp("sip:a@b;transport=TCP"));
    }

    #[test]
    fn escapes_are_decoded_and_broken_ones_refused() {
        assert_eq!(unescape("%65cho").as_deref(), Some("echo"));
        assert_eq!(unescape("%45%63%68%6F").as_deref(), Some("Echo"));
        assert_eq!(unescape("plain").as_deref(), Some("plain"));
        assert_eq!(unescape("a%2"), None);
        assert_eq!(unescape("a%zz"), None);
        assert_eq!(unescape("null-%00-null").as_deref(), Some("null-\0-null"));
    }
}
