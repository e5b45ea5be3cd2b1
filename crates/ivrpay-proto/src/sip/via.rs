//! The Via grammar (RFC 3261 20.42 and 25.1), checked because a UAS copies every Via
//! into its responses (8.2.6.2): a malformed one, echoed back, is a malformed answer,
//! and a peer's stack may choke on it. A request with such a Via is refused with 400;
//! the 400 carries a repaired copy ([`sanitise`]) so the peer can still match it.
//!
//! Whitespace is allowed around the slashes of the sent-protocol (`SIP / 2.0 / UDP`)
//! and around `;` and `=`, as the grammar's SWS permits.

/// What is wrong with a Via value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ViaError {
    /// An empty element (`Via: a,,b`).
    #[error("empty Via value")]
    Empty,
    /// The sent-protocol is not `SIP/2.0/<transport>`.
    #[error("Via protocol is not SIP/2.0/<transport>")]
    BadProtocol,
    /// No host after the sent-protocol.
    #[error("Via has no sent-by host")]
    NoSentBy,
    /// `;;`: a parameter with no name.
    #[error("empty Via parameter")]
    EmptyParam,
    /// `;branch=` or `;branch`: a parameter whose value may not be empty.
    #[error("empty value for Via parameter {0}")]
    EmptyValue(String),
}

/// The parts of one via-parm that replies and transaction matching use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// The transport token (`UDP`, `TCP`, ...), as sent.
    pub transport: &'a str,
    /// `host[:port]`.
    pub sent_by: &'a str,
    /// Parameters in order; `None` for a flag such as `;rport`.
    pub params: Vec<(&'a str, Option<&'a str>)>,
}

/// Parameters that mean nothing without a value (RFC 3261 20.42: via-ttl, via-maddr,
/// via-received, via-branch).
const NEED_VALUE: &[&str] = &["branch", "received", "maddr", "ttl"];

/// Parses one via-parm (one element of a comma-separated Via), refusing what cannot be
/// echoed back faithfully.
pub fn parse(value: &str) -> Result<Via<'_>, ViaError> {
    let (transport, sent_by, params) = head(value)?;
    let mut out = Vec::new();
    for p in params {
        let p = p.trim();
        let (name, val) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (p, None),
        };
        if name.is_empty() {
            return Err(ViaError::EmptyParam);
        }
        let needs = NEED_VALUE.iter().any(|n| n.eq_ignore_ascii_case(name));
        if val == Some("") || (val.is_none() && needs) {
            return Err(ViaError::EmptyValue(name.to_string()));
        }
        out.push((name, val));
    }
    Ok(Via { transport, sent_by, params: out })
}

/// A Via fit to be copied into a response to a request that had a malformed one: the
/// value itself when it is well-formed; otherwise its protocol and sent-by with only
/// the well-formed parameters; None when not even a sent-by can be read.
pub fn sanitise(value: &str) -> Option<String> {
    if parse(value).is_ok() {
        return Some(value.trim().to_string());
    }
    let (transport, sent_by, params) = head(value).ok()?;
    let mut out = format!("SIP/2.0/{transport} {sent_by}");
    for p in params {
        let p = p.trim();
        let fine = parse(&format!("SIP/2.0/{transport} {sent_by};{p}")).is_ok();
        if fine {
            out.push(';');
            out.push_str(p);
        }
    }
    Some(out)
}

type Head<'a> = (&'a str, &'a str, Vec<&'a str>);

/// The transport, the sent-by and the raw parameter texts of a via-parm.
fn head(value: &str) -> Result<Head<'_>, ViaError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ViaError::Empty);
    }
    let mut parts = value.splitn(3, '/');
    let (name, version, rest) = match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(v), Some(r)) => (n.trim(), v.trim(), r.trim_start()),
        _ => return Err(ViaError::BadProtocol),
    };
    if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
        return Err(ViaError::BadProtocol);
    }
    let end = rest.find(|c: char| c.is_whitespace() || c == ';').unwrap_or(rest.len());
    let transport = &rest[..end];
    if transport.is_empty() || !transport.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)) {
        return Err(ViaError::BadProtocol);
    }
    let mut segments = split_params(&rest[end..]).into_iter();
    let sent_by = segments.next().unwrap_or("").trim();
    if sent_by.is_empty() || !rest[end..].starts_with(char::is_whitespace) {
        return Err(ViaError::NoSentBy);
    }
    Ok((transport, sent_by, segments.collect()))
}

/// Splits at `;` outside quoted strings (a gen-value may be a quoted-string).
fn split_params(s: &str) -> Vec<&str> {
    let (mut out, mut quoted, mut escaped, mut start) = (Vec::new(), false, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_vias_parse_with_odd_whitespace() {
        let v = parse("SIP / 2.0 / UDP  192.0.2.7:5070 ; branch = z9hG4bKa ;rport").unwrap();
        assert_eq!((v.transport, v.sent_by), ("UDP", "192.0.2.7:5070"));
        assert_eq!(v.params, vec![("branch", Some("z9hG4bKa")), ("rport", None)]);
        assert!(parse("SIP/2.0/TCP [2001:db8::9]:5060;branch=z9hG4bK1;x=\"a;b\"").is_ok());
    }

    #[test]
    fn malformed_vias_are_named() {
        assert_eq!(parse("SIP/2.0/UDP h;;branch=z9hG4bK1"), Err(ViaError::EmptyParam));
        assert_eq!(parse("SIP/2.0/UDP h;branch="), Err(ViaError::EmptyValue("branch".into())));
        assert_eq!(parse("SIP/2.0/UDP h;branch"), Err(ViaError::EmptyValue("branch".into())));
        assert_eq!(parse("SIP/2.0/UDP h;rport="), Err(ViaError::EmptyValue("rport".into())));
        assert_eq!(parse("SIP/2.0/UDP;branch=z9hG4bK1"), Err(ViaError::NoSentBy));
        assert_eq!(parse("SIP/7.0/UDP h;branch=z9hG4bK1"), Err(ViaError::BadProtocol));
        assert_eq!(parse("HTTP/1.1 h"), Err(ViaError::BadProtocol));
        assert_eq!(parse("  "), Err(ViaError::Empty));
    }

    #[test]
    fn a_malformed_via_is_repaired_before_it_is_echoed() {
        let ok = "SIP/2.0/UDP h:5070;branch=z9hG4bK1";
        assert_eq!(sanitise(ok).as_deref(), Some(ok), "a well-formed Via is copied verbatim");
        assert_eq!(sanitise("SIP/2.0/UDP h;;branch=z9hG4bK1;;").as_deref(), Some("SIP/2.0/UDP h;branch=z9hG4bK1"));
        assert_eq!(sanitise("SIP/2.0/UDP h;branch=;rport").as_deref(), Some("SIP/2.0/UDP h;rport"));
        assert_eq!(sanitise("SIP/2.0/UDP"), None);
    }
}
