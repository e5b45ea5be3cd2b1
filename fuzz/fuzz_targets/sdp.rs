//! SDP offers and answers: `sdp::parse`, `check_offer`, `answer` with our media,
//! `reoffer` (a re-INVITE's body) and `negotiate_from_answer`.
//!
//! Beyond not panicking: an answer we produce parses, keeps the offer's m-line count
//! (RFC 3264 6), passes our own offer checks when read as an offer, and negotiates back
//! to the same codec and payload type when read as the answer to what we would offer.
#![no_main]

use ivrpay_proto::media::codec::Codec;
use ivrpay_proto::sip::sdp::{self, LocalMedia, ReOffer};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let local = LocalMedia {
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        port: 40000,
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        session_id: 42,
        session_version: 1,
    };
    let _ = sdp::reoffer(data, local.clone());
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(offer) = sdp::parse(text) else { return };
    let _ = sdp::has_usable_audio(&offer);
    let _ = sdp::negotiate_from_answer(&offer, &local);
    if sdp::check_offer(&offer).is_err() {
        return;
    }
    let Ok((negotiated, body)) = sdp::answer(&offer, &local) else { return };
    let reparsed = sdp::parse(&body).unwrap_or_else(|e| panic!("our answer does not parse ({e}):\n{body}"));
    assert_eq!(reparsed.media.len(), offer.media.len(), "answer changed the m-line count:\n{body}");
    let back = sdp::negotiate_from_answer(&reparsed, &local)
        .unwrap_or_else(|e| panic!("our answer does not negotiate ({e}):\n{body}"));
    assert_eq!((back.codec, back.payload_type), (negotiated.codec, negotiated.payload_type));
    assert!(matches!(sdp::reoffer(body.as_bytes(), local), ReOffer::Answered { .. }), "{body}");
});
