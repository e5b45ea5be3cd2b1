//! Audio from the caller: who may send it, symmetric-RTP latching, DTMF out of RFC 4733
//! events or in-band tones, and the activity clock behind the inactivity timeout.
//!
//! A call's RTP port is reachable by anyone, and its packets carry card digits. Until
//! the stream latches, a packet is accepted only from the address the caller signalled
//! from or the one its SDP named (a phone behind a proxy sends from its SDP address, one
//! behind a NAT from its signalling address); the first accepted packet latches the
//! stream to its exact source (address and port), and from then on only that source is
//! heard. Nothing re-latches the stream but a new offer ([`InboundMedia::update`], a
//! re-INVITE): a stranger with a fresh SSRC gets nothing, neither typed keys nor the
//! outgoing audio.
//!
//! [`InboundMedia`] is sans-IO; the call task's receive loop feeds it datagrams.
//! Digits are returned to the caller of `on_packet` and never logged here: during card
//! entry they are card data.

use super::codec::{Codec, SAMPLES_PER_FRAME};
use super::g711;
use super::inband::InbandDetector;
use super::rfc4733::Rfc4733Receiver;
use super::rtp;
use std::net::{IpAddr, SocketAddr};

/// What one datagram produced. Its `Debug` counts the digits without showing them.
#[derive(Default, PartialEq, Eq)]
pub struct InboundResult {
    /// Digits detected, in order (rarely more than one).
    pub digits: Vec<char>,
    /// Set when the stream should now be sent to this address (first packet from an
    /// address other than the SDP's: a NAT in between).
    pub latch: Option<SocketAddr>,
    /// True if this was a valid RTP packet of the call (counts as media activity).
    pub valid: bool,
    /// True if the packet came from a source the call does not hear (see the module
    /// documentation): dropped unread, counted by the call.
    pub rejected: bool,
}

impl std::fmt::Debug for InboundResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundResult")
            .field("digits", &self.digits.len())
            .field("latch", &self.latch)
            .field("valid", &self.valid)
            .field("rejected", &self.rejected)
            .finish()
    }
}

/// Per-call inbound media state.
pub struct InboundMedia {
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
    rfc4733: Rfc4733Receiver,
    inband: Option<InbandDetector>,
    sdp_dest: SocketAddr,
    signalling: IpAddr,
    latched: Option<SocketAddr>,
    pcm: [i16; SAMPLES_PER_FRAME],
}

impl InboundMedia {
    /// State for a call whose SDP gave `codec`/`payload_type`, optional telephone-event
    /// payload type, and the address the caller said it would use; `signalling` is the
    /// address its SIP came from (the other source heard before the stream latches).
    pub fn new(
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        sdp_dest: SocketAddr,
        signalling: IpAddr,
        inband: bool,
    ) -> Self {
        InboundMedia {
            codec,
            payload_type,
            telephone_event,
            rfc4733: Rfc4733Receiver::new(),
            inband: inband.then(InbandDetector::new),
            sdp_dest,
            signalling,
            latched: None,
            pcm: [0; SAMPLES_PER_FRAME],
        }
    }

    /// A re-INVITE changed the remote address or codec: the stream may latch afresh.
    pub fn update(&mut self, codec: Codec, payload_type: u8, telephone_event: Option<u8>, sdp_dest: SocketAddr) {
        self.codec = codec;
        self.payload_type = payload_type;
        self.telephone_event = telephone_event;
        self.sdp_dest = sdp_dest;
        self.latched = None;
    }

    /// Handles one datagram received on the call's RTP port.
    pub fn on_packet(&mut self, data: &[u8], from: SocketAddr) -> InboundResult {
        let mut out = InboundResult::default();
        if !self.hears(from) {
            out.rejected = true;
            return out;
        }
        let Some(pkt) = rtp::read(data) else { return out };
        let h = pkt.header;
        let known_pt = h.payload_type == self.payload_type || Some(h.payload_type) == self.telephone_event;
        if !known_pt {
            return out;
        }
        out.valid = true;
        // Latch on the first valid packet: its source is the caller's from now on.
        if self.latched.is_none() {
            self.latched = Some(from);
            if from != self.sdp_dest {
                out.latch = Some(from);
            }
        }
        if Some(h.payload_type) == self.telephone_event {
            // Once the caller uses RFC 4733, tones in its audio are echoes of the same
            // keys: stop listening to them to avoid double digits.
            self.inband = None;
            if let Some(d) = self.rfc4733.on_packet(h.timestamp, h.marker, pkt.payload) {
                out.digits.push(d);
            }
        } else if let Some(det) = self.inband.as_mut() {
            let n = pkt.payload.len().min(SAMPLES_PER_FRAME);
            g711::decode_frame(self.codec, &pkt.payload[..n], &mut self.pcm[..n]);
            det.push(&self.pcm[..n], |d| out.digits.push(d));
        }
        out
    }
}

impl InboundMedia {
    /// Whether a datagram from `from` is the caller's (see the module documentation).
    fn hears(&self, from: SocketAddr) -> bool {
        match self.latched {
            Some(source) => source == from,
            None => from.ip() == self.signalling || from.ip() == self.sdp_dest.ip(),
        }
    }

    /// True once the stream latched to the caller's source.
    pub fn is_latched(&self) -> bool {
        self.latched.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::inband;
    use crate::media::rfc4733::Rfc4733Sender;
    use crate::media::rtp::{Header, MAX_PACKET};

    fn packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut buf = [0u8; MAX_PACKET];
        let n = rtp::write(&mut buf, Header { payload_type: pt, marker, sequence: seq, timestamp: ts, ssrc }, payload)
            .unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn rfc4733_digit_once_and_latch_to_real_source() {
        let sdp: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let real: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let mut m = InboundMedia::new(Codec::Pcmu, 0, Some(101), sdp, real.ip(), true);
        let mut digits = Vec::new();
        let mut latches = Vec::new();
        for (i, p) in Rfc4733Sender::packets('7', 100, 10).unwrap().into_iter().enumerate() {
            let r = m.on_packet(&packet(101, p.marker, i as u16, 8000, 1, &p.payload), real);
            digits.extend(r.digits);
            latches.extend(r.latch);
        }
        assert_eq!(digits, vec!['7']);
        assert_eq!(latches, vec![real]);
        let spoof = m.on_packet(&packet(0, false, 99, 0, 1, &[0xff; 160]), "127.0.0.1:6666".parse().unwrap());
        assert_eq!(spoof.latch, None, "same SSRC from another address does not move the stream");
        assert!(spoof.rejected && !spoof.valid, "nor counts as the caller's audio");
        let stranger = m.on_packet(&packet(0, false, 1, 0, 77, &[0xff; 160]), "127.0.0.1:6666".parse().unwrap());
        assert!(stranger.rejected && stranger.latch.is_none(), "a new SSRC from elsewhere does not re-latch");
        assert!(!m.on_packet(&packet(18, false, 1, 0, 1, &[0; 20]), real).valid, "unknown payload type ignored");
    }

    #[test]
    fn inband_tone_in_pcma_audio_is_a_digit() {
        let sdp: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut m = InboundMedia::new(Codec::Pcma, 8, None, sdp, sdp.ip(), true);
        let mut audio = vec![0i16; 800];
        audio.extend(inband::tone('5', 100, 8000).unwrap());
        audio.extend(vec![0i16; 800]);
        let mut digits = Vec::new();
        for (i, chunk) in audio.chunks(160).enumerate() {
            let mut enc = vec![0u8; chunk.len()];
            g711::encode_frame(Codec::Pcma, chunk, &mut enc);
            digits.extend(m.on_packet(&packet(8, i == 0, i as u16, i as u32 * 160, 9, &enc), sdp).digits);
        }
        assert_eq!(digits, vec!['5']);
    }

    fn event_packets(digit: char, ssrc: u32, ts: u32) -> Vec<Vec<u8>> {
        let packets = Rfc4733Sender::packets(digit, 100, 10).unwrap().into_iter().enumerate();
        packets.map(|(i, p)| packet(101, p.marker, i as u16, ts, ssrc, &p.payload)).collect()
    }

    #[test]
    fn before_latching_only_the_signalling_and_sdp_addresses_are_heard() {
        let sdp: SocketAddr = "192.0.2.10:4000".parse().unwrap();
        let signalling: IpAddr = "198.51.100.7".parse().unwrap();
        let mut m = InboundMedia::new(Codec::Pcmu, 0, Some(101), sdp, signalling, false);
        for p in event_packets('5', 9, 800) {
            let r = m.on_packet(&p, "203.0.113.66:4000".parse().unwrap());
            assert!(r.rejected && r.digits.is_empty() && r.latch.is_none(), "a stranger types nothing");
        }
        assert!(!m.is_latched());
        // From the signalling address (a NAT): heard, and latched to that exact source.
        let nat: SocketAddr = "198.51.100.7:31000".parse().unwrap();
        let digits: Vec<char> = event_packets('3', 1, 1600).iter().flat_map(|p| m.on_packet(p, nat).digits).collect();
        assert_eq!((digits, m.is_latched()), (vec!['3'], true));
        // Same address, another port, new SSRC: not the caller's stream.
        let r = m.on_packet(&event_packets('4', 2, 2400)[0], "198.51.100.7:31002".parse().unwrap());
        assert!(r.rejected);
        // A re-INVITE names a new address: the stream may latch again, there.
        m.update(Codec::Pcmu, 0, Some(101), "192.0.2.20:5000".parse().unwrap());
        let moved: SocketAddr = "192.0.2.20:5000".parse().unwrap();
        let digits: Vec<char> = event_packets('8', 3, 3200).iter().flat_map(|p| m.on_packet(p, moved).digits).collect();
        assert_eq!(digits, vec!['8']);
    }

    #[test]
    fn a_caller_behind_a_proxy_is_heard_from_its_sdp_address() {
        let sdp: SocketAddr = "192.0.2.10:4000".parse().unwrap();
        let proxy: IpAddr = "198.51.100.1".parse().unwrap();
        let mut m = InboundMedia::new(Codec::Pcmu, 0, Some(101), sdp, proxy, false);
        let digits: Vec<char> = event_packets('1', 5, 800).iter().flat_map(|p| m.on_packet(p, sdp).digits).collect();
        assert_eq!(digits, vec!['1']);
    }
}
