use super::*;

fn local() -> LocalMedia {
    LocalMedia {
        address: "192.0.2.10".parse().unwrap(),
        port: 20000,
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        session_id: 7,
        session_version: 1,
    }
}

const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn answer_of(offer: &str) -> Result<(Negotiated, String), SdpError> {
    answer(&parse(offer).unwrap(), &local())
}

#[test]
fn sipp_default_offer() {
    let (n, text) = answer_of(SIPP).unwrap();
    assert_eq!((n.codec, n.payload_type, n.telephone_event), (Codec::Pcmu, 0, None));
    assert_eq!(n.remote_rtp, "127.0.0.1:6000".parse().unwrap());
    assert_eq!(n.direction, Direction::SendRecv);
    assert!(
        text.contains("m=audio 20000 RTP/AVP 0\r\n")
            && text.contains("c=IN IP4 192.0.2.10\r\n")
            && text.contains("a=ptime:20"),
        "{text}"
    );
}

#[test]
fn offer_order_wins_and_static_types_need_no_rtpmap() {
    let (n, _) = answer_of("v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 8 0\n").unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
    let (n, _) = answer_of("v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 18 0 8\n").unwrap();
    assert_eq!(n.codec, Codec::Pcmu);
}

#[test]
fn g729_only_is_refused() {
    assert_eq!(
        answer_of("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n").unwrap_err(),
        SdpError::NoCommonCodec
    );
    assert!(!has_usable_audio(&parse("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\n").unwrap()));
    assert!(!has_usable_audio(&parse("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 0\r\n").unwrap()));
    assert!(has_usable_audio(&parse(SIPP).unwrap()));
}

#[test]
fn telephone_event_is_answered_with_the_callers_type() {
    for pt in [96u8, 101] {
        let offer = format!("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0 {pt}\r\na=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n");
        let (n, text) = answer_of(&offer).unwrap();
        assert_eq!(n.telephone_event, Some(pt));
        assert!(
            text.contains(&format!("m=audio 20000 RTP/AVP 0 {pt}\r\n")) && text.contains(&format!("a=fmtp:{pt} 0-15")),
            "{text}"
        );
    }
}

#[test]
fn direction_is_mirrored_and_old_style_hold_recognised() {
    let (n, text) = answer_of(&format!("{SIPP}a=sendonly\r\n")).unwrap();
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(text.contains("a=recvonly"));
    let (n, _) = answer_of(&SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")).unwrap();
    assert!(n.hold);
    let session_level = "v=0\r\nc=IN IP4 10.0.0.1\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(answer_of(session_level).unwrap().0.direction, Direction::Inactive);
}

#[test]
fn other_streams_are_rejected_in_place() {
    let offer =
        "v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 4000 RTP/AVP 0\r\n";
    let (n, text) = answer_of(offer).unwrap();
    assert_eq!(n.remote_rtp.port(), 4000);
    let m: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(m, ["m=video 0 RTP/AVP 96", "m=audio 20000 RTP/AVP 0"]);
}

#[test]
fn media_level_connection_and_ipv6() {
    let (n, _) = answer_of("v=0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP6 ::1\r\n").unwrap();
    assert_eq!(n.remote_rtp, "[::1]:4000".parse().unwrap());
    assert_eq!(answer_of("v=0\r\nm=audio 4000 RTP/AVP 0\r\n").unwrap_err(), SdpError::NoConnection);
    assert!(matches!(parse("v=0\r\nc=IN IP4 nonsense\r\n"), Err(SdpError::Syntax { line: 2, .. })));
    assert!(matches!(parse("v=0\r\nm=audio x RTP/AVP 0\r\n"), Err(SdpError::Syntax { line: 2, .. })));
}

#[test]
fn offer_and_answer_round_trip_between_two_agents() {
    let ours = LocalMedia { codecs: vec![Codec::Pcmu, Codec::Pcma], ..local() };
    let text = offer(&ours, Direction::SendRecv);
    assert!(text.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"), "{text}");
    let theirs = LocalMedia {
        address: "192.0.2.20".parse().unwrap(),
        port: 30000,
        codecs: vec![Codec::Pcma],
        session_id: 1,
        session_version: 1,
    };
    let (n_theirs, ans) = answer(&parse(&text).unwrap(), &theirs).unwrap();
    assert_eq!(n_theirs.codec, Codec::Pcma);
    let n_ours = negotiate_from_answer(&parse(&ans).unwrap(), &ours).unwrap();
    assert_eq!((n_ours.codec, n_ours.payload_type, n_ours.telephone_event), (Codec::Pcma, 8, Some(101)));
    assert_eq!(n_ours.remote_rtp, "192.0.2.20:30000".parse().unwrap());
}
