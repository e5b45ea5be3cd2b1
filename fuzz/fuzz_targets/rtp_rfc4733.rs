//! Inbound media: RTP datagrams through `media::rtp::read` and the per-call
//! `InboundMedia::on_packet` (source check, latching, RFC 4733 events, in-band tones
//! after G.711 decoding), then the RFC 4733 payload reader and receiver on their own.
//!
//! Beyond not panicking: an RTP packet we write reads back with the same header and
//! payload; an event payload written and re-read is the same event (volume cut to its
//! 6 bits); a stranger's datagram is rejected and never yields a digit; and the
//! receiver reports a key only for events 0-15.
#![no_main]

use ivrpay_proto::media::codec::Codec;
use ivrpay_proto::media::inbound::InboundMedia;
use ivrpay_proto::media::rfc4733::{event_to_digit, EventPayload, Rfc4733Receiver};
use ivrpay_proto::media::rtp;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    let caller: SocketAddr = "192.0.2.1:4000".parse().unwrap();
    let stranger: SocketAddr = "198.51.100.7:4000".parse().unwrap();
    let mut media = InboundMedia::new(Codec::Pcmu, 0, Some(101), caller, caller.ip(), true);
    // The input is a sequence of datagrams, each prefixed by its one-byte length.
    let mut rest = data;
    let mut receiver = Rfc4733Receiver::new();
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (dgram, tail) = tail.split_at(n);
        rest = tail;
        let heard = media.on_packet(dgram, caller);
        assert!(!heard.rejected);
        let ignored = media.on_packet(dgram, stranger);
        assert!(ignored.rejected && ignored.digits.is_empty() && !ignored.valid);
        if let Some(p) = rtp::read(dgram) {
            check_rtp_round_trip(&p);
            if let Some(d) = receiver.on_packet(p.header.timestamp, p.header.marker, p.payload) {
                let ev = EventPayload::parse(p.payload).expect("a digit from a short payload");
                assert_eq!(event_to_digit(ev.event), Some(d));
            }
        }
        if let Some(ev) = EventPayload::parse(dgram) {
            let again = EventPayload::parse(&ev.write()).unwrap();
            assert_eq!(again, ev, "event payload round trip");
        }
    }
});

fn check_rtp_round_trip(p: &rtp::Packet<'_>) {
    let mut buf = vec![0u8; 12 + p.payload.len()];
    let Some(n) = rtp::write(&mut buf, p.header, p.payload) else { return };
    // rtp::read refuses what looks like multiplexed RTCP; such a header is not ours.
    if let Some(back) = rtp::read(&buf[..n]) {
        assert_eq!(back.header, p.header);
        assert_eq!(back.payload, p.payload);
    }
}
