use super::*;

fn norm(s: &str) -> Result<String, NormaliseError> {
    normalise(s.as_bytes(), Framing::Datagram).map(|b| String::from_utf8(b).unwrap())
}

const BASE: &str = "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: x\r\n";

#[test]
fn whitespace_around_the_colon_is_removed() {
    let out = norm(&format!("{BASE}Max-Forwards   :   70\r\nTo\t: <sip:a@h>\r\n\r\n")).unwrap();
    assert!(out.contains("\r\nMax-Forwards: 70\r\n") && out.contains("\r\nTo: <sip:a@h>\r\n"), "{out}");
}

#[test]
fn folded_lines_are_joined() {
    let out = norm(&format!("{BASE}Subject: one\r\n two\r\n\tthree\r\n\r\n")).unwrap();
    assert!(out.contains("Subject: one two three\r\n"), "{out}");
    assert_eq!(norm(" folded first\r\n\r\n").unwrap_err(), NormaliseError::BadStartLine);
}

#[test]
fn every_compact_form_is_expanded() {
    let table = [
        ("i", "Call-ID"),
        ("f", "From"),
        ("t", "To"),
        ("v", "Via"),
        ("m", "Contact"),
        ("c", "Content-Type"),
        ("k", "Supported"),
        ("s", "Subject"),
        ("e", "Content-Encoding"),
        ("o", "Event"),
        ("r", "Refer-To"),
        ("u", "Allow-Events"),
        ("I", "Call-ID"),
    ];
    for (short, long) in table {
        let out = norm(&format!("OPTIONS sip:a@h SIP/2.0\r\n{short}: value\r\n\r\n")).unwrap();
        assert!(out.contains(&format!("\r\n{long}: value\r\n")), "{short} -> {out}");
    }
    let out = norm("OPTIONS sip:a@h SIP/2.0\r\nl: 3\r\n\r\nabcdef").unwrap();
    assert!(out.ends_with("Content-Length: 3\r\n\r\nabc"), "{out}");
}

#[test]
fn bare_lf_and_leading_keepalives_are_accepted() {
    let out = norm("\r\n\r\nOPTIONS sip:a@h SIP/2.0\nCall-ID: x\n\nbody").unwrap();
    assert!(out.starts_with("OPTIONS sip:a@h SIP/2.0\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\nbody"), "{out}");
}

#[test]
fn content_length_rules() {
    let e = norm(&format!("{BASE}Content-Length: 10\r\n\r\nshort")).unwrap_err();
    assert_eq!(e, NormaliseError::BodyTooShort { declared: 10, actual: 5 });
    assert_eq!(e.reason(), "Body Shorter Than Content-Length");
    let out = norm(&format!("{BASE}Content-Length: 2\r\n\r\nlonger")).unwrap();
    assert!(out.ends_with("Content-Length: 2\r\n\r\nlo"));
    let out = norm(&format!("{BASE}\r\nno length")).unwrap();
    assert!(out.ends_with("Content-Length: 9\r\n\r\nno length"));
    assert_eq!(norm(&format!("{BASE}Content-Length: x\r\n\r\n")).unwrap_err(), NormaliseError::InvalidContentLength);
    assert_eq!(
        norm(&format!("{BASE}Content-Length: 1\r\nl: 2\r\n\r\nab")).unwrap_err(),
        NormaliseError::InvalidContentLength
    );
}

#[test]
fn structural_errors_name_the_problem() {
    assert_eq!(norm("\r\n\r\n").unwrap_err(), NormaliseError::Empty);
    assert_eq!(norm(&format!("{BASE}no terminator")).unwrap_err(), NormaliseError::MissingEndOfHeaders);
    assert_eq!(
        norm(&format!("{BASE}Broken header line\r\n\r\n")).unwrap_err(),
        NormaliseError::MalformedHeader { line: 4 }
    );
    assert_eq!(norm("INVITE\r\n\r\n").unwrap_err(), NormaliseError::BadStartLine);
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(norm(&format!("{BASE}{many}\r\n")).unwrap_err(), NormaliseError::TooManyHeaders);
    assert_eq!(normalise(&vec![b'a'; 70_000], Framing::Datagram).unwrap_err(), NormaliseError::TooLarge);
    assert_eq!(
        normalise(b"OPTIONS sip:a@h SIP/2.0\r\nX: \xff\r\n\r\n", Framing::Datagram).unwrap_err(),
        NormaliseError::NotUtf8
    );
}

#[test]
fn header_value_reads_normalised_text() {
    let out = normalise(format!("{BASE}v : second\r\n\r\n").as_bytes(), Framing::Datagram).unwrap();
    assert_eq!(header_value(&out, "call-id"), Some("x"));
    assert_eq!(header_value(&out, "Via"), Some("SIP/2.0/UDP h;branch=z9hG4bK1"));
    assert_eq!(header_value(&out, "Missing"), None);
}

#[test]
fn a_version_with_a_multi_byte_character_is_refused_not_a_panic() {
    for line in ["INVITE sip:a@b SIP\u{c6}/2.0", "INVITE sip:a@b SI\u{c6}2.0", "INVITE sip:a@b \u{c6}\u{c6}\u{c6}"] {
        assert!(
            matches!(check_version(line.rsplit(' ').next().unwrap()), Err(NormaliseError::BadRequestLine)),
            "{line}"
        );
    }
    assert!(matches!(check_version("SIP/3.\u{c6}"), Err(NormaliseError::VersionNotSupported(_))));
}
