use super::*;

const INVITE: &str = "INVITE sip:echo@127.0.0.1:5060 SIP/2.0\r\n\
v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\
f: \"Alice\" <sip:alice@127.0.0.1:5070>;tag=abc\r\n\
t :  <sip:echo@127.0.0.1:5060>\r\n\
i: call-1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Max-Forwards: 70\r\n\
Subject: a folded\r\n\
\x20subject line\r\n\
m: <sip:alice@127.0.0.1:5070>\r\n\
c: application/sdp\r\n\
l: 4\r\n\
\r\n\
v=0\n";

fn request(raw: &str) -> Request {
    match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Request(r) => r,
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn compact_forms_folding_and_space_before_colon_are_understood() {
    let r = request(INVITE);
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri_user.as_deref(), Some("echo"));
    assert_eq!(r.core.call_id, "call-1@127.0.0.1");
    assert_eq!((r.core.cseq, r.core.cseq_method.clone()), (1, Method::Invite));
    assert_eq!(r.core.from_tag.as_deref(), Some("abc"));
    assert_eq!(r.core.to_tag, None);
    assert_eq!(r.core.branch, "z9hG4bK-1");
    assert_eq!(r.headers.get("subject"), Some("a folded subject line"));
    assert_eq!(r.headers.get("Content-Type"), Some("application/sdp"));
    assert_eq!(r.body, b"v=0\n");
}

#[test]
fn short_body_and_missing_headers_are_refused_with_a_reason() {
    let short = INVITE.replace("l: 4", "l: 40");
    let e = parse(short.as_bytes(), Framing::Datagram).unwrap_err();
    assert!(e.reason_phrase().starts_with("Bad Request ("), "{}", e.reason_phrase());
    let no_call_id = INVITE.replace("i: call-1@127.0.0.1\r\n", "");
    let e = parse(no_call_id.as_bytes(), Framing::Datagram).unwrap_err();
    assert_eq!(e.reason_phrase(), "Bad Request (Missing or Invalid Call-ID)");
    let bad_cseq = INVITE.replace("CSeq: 1 INVITE", "CSeq: one INVITE");
    assert!(matches!(parse(bad_cseq.as_bytes(), Framing::Datagram), Err(ParseError::MissingHeader("CSeq"))));
}

#[test]
fn unknown_method_token_is_told_apart_from_garbage() {
    assert_eq!(request_method_token(b"FOO sip:a@b SIP/2.0\r\n"), Some("FOO"));
    assert_eq!(request_method_token(b"\r\nINVITE sip:a@b SIP/2.0\r\n"), Some("INVITE"));
    assert_eq!(request_method_token(b"garbage"), None);
    assert_eq!(request_method_token(b"SIP/2.0 200 OK\r\n"), None);
    // A multi-byte character across the version's fourth byte (once a panic).
    assert_eq!(request_method_token("OPTIONS sip:a@b SIP\u{c6}.0\r\n".as_bytes()), None);
    assert_eq!(request_method_token("OPTIONS sip:a@b S\u{c6}\u{c6}\r\n".as_bytes()), None);
}

#[test]
fn reply_copies_the_transaction_headers_and_round_trips() {
    let r = request(INVITE);
    let bytes = r
        .reply(200, "OK", Some("srv"))
        .header("Contact", "<sip:ivrpay@127.0.0.1>")
        .body("application/sdp", b"v=0\r\n".to_vec())
        .build();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
    match parse(&bytes, Framing::Datagram).unwrap() {
        SipMessage::Response(resp) => {
            assert_eq!(resp.status, 200);
            assert_eq!(resp.reason, "OK");
            assert_eq!(resp.core.call_id, r.core.call_id);
            assert_eq!(resp.core.to_tag.as_deref(), Some("srv"));
            assert_eq!(resp.core.branch, "z9hG4bK-1");
            assert_eq!(resp.body, b"v=0\r\n");
        }
        _ => panic!("expected a response"),
    }
    let trying = String::from_utf8(r.reply(100, "Trying", Some("srv")).build()).unwrap();
    assert!(!trying.contains("tag=srv"), "100 Trying carries no To tag");
}

#[test]
fn custom_reason_phrases_survive_printing() {
    let r = request(INVITE);
    let text = String::from_utf8(r.reply(404, "Not Found (No Such Service Number)", Some("x")).build()).unwrap();
    assert!(text.starts_with("SIP/2.0 404 Not Found (No Such Service Number)\r\n"));
    assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
}

/// Found by the sip_message fuzz target (fuzz/corpus/sip_message/crash-b91164c0...):
/// one Via line of commas, each comma once copied as an empty Via of its own, made a
/// reply over the 100-header limit that our own parser refused.
#[test]
fn a_via_list_is_copied_as_sent_and_the_reply_parses_back() {
    // The fuzzer's find: a Via line of commas made a reply of 150 empty Vias. Such a
    // line is now refused as malformed before any reply is built.
    let commas = format!(
        "INVITE sip:echo@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1, {}\r\n\
         f: <sip:alice@127.0.0.1>;tag=abc\r\nt: <sip:echo@127.0.0.1>\r\ni: call-1\r\nCSeq: 1 INVITE\r\n\r\n",
        ",".repeat(150)
    );
    assert!(matches!(parse(commas.as_bytes(), Framing::Datagram), Err(ParseError::MalformedVia(_))));
    {
        let vias = vec!["SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-9"; 150].join(", ");
        let raw = format!(
            "INVITE sip:echo@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1, {vias}\r\n\
             f: <sip:alice@127.0.0.1>;tag=abc\r\nt: <sip:echo@127.0.0.1>\r\ni: call-1\r\nCSeq: 1 INVITE\r\n\r\n"
        );
        let r = request(&raw);
        assert_eq!(r.core.branch, "z9hG4bK-1", "the top Via's branch, not the line's");
        let bytes = r.reply(200, "OK", Some("srv")).body("application/sdp", b"v=0\r\n".to_vec()).build();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(text.matches("\r\nVia: ").count(), 1, "{text}");
        match parse(&bytes, Framing::Stream).unwrap() {
            SipMessage::Response(resp) => assert_eq!(resp.core.branch, "z9hG4bK-1"),
            _ => panic!("expected a response"),
        }
    }
}

#[test]
fn a_to_with_a_stray_comma_is_refused_so_our_reply_never_carries_two() {
    for to in ["<sip:b@h>,", ",<sip:b@h>", "<sip:b@h>, ,"] {
        let raw = format!(
            "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bK-1\r\nFrom: <sip:a@h>;tag=1\r\nTo: {to}\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        assert!(matches!(parse(raw.as_bytes(), Framing::Datagram), Err(ParseError::DuplicateHeader("To"))), "{to}");
    }
    // A comma inside the quoted name or the brackets is no list.
    let raw = "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bK-1\r\nFrom: <sip:a@h>;tag=1\r\nTo: \"Martin, Jeanne\" <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    assert!(parse(raw.as_bytes(), Framing::Datagram).is_ok());
}
