//! Audio from the caller: symmetric-RTP latching, DTMF out of RFC 4733 events or
//! in-band tones, and the activity clock behind the inactivity timeout.
//!
//! [`InboundMedia`] is sans-IO; the call task's receive loop feeds it datagrams.
//! Digits are returned to the caller of `on_packet` and never logged here: during card
//! entry they are card data.

use super::codec::{Codec, SAMPLES_PER_FRAME};
use super::g711;
use super::inband::InbandDetector;
use super::rfc4733::Rfc4733Receiver;
use super::rtp;
use std::net::SocketAddr;

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
}

impl std::fmt::Debug for InboundResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundResult")
            .field("digits", &self.digits.len())
            .field("latch", &self.latch)
            .field("valid", &self.valid)
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
    latched: Option<(SocketAddr, u32)>,
    pcm: [i16; SAMPLES_PER_FRAME],
}

impl InboundMedia {
    /// State for a call whose SDP gave `codec`/`payload_type`, optional telephone-event
    /// payload type, and the address the caller said it would use.
    pub fn new(
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        sdp_dest: SocketAddr,
        inband: bool,
    ) -> Self {
        InboundMedia {
            codec,
            payload_type,
            telephone_event,
            rfc4733: Rfc4733Receiver::new(),
            inband: inband.then(InbandDetector::new),
            sdp_dest,
            latched: None,
            pcm: [0; SAMPLES_PER_FRAME],
        }
    }

    /// A re-INVITE changed the remote address or codec.
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
        let Some(pkt) = rtp::read(data) else { return out };
        let h = pkt.header;
        let known_pt = h.payload_type == self.payload_type || Some(h.payload_type) == self.telephone_event;
        if !known_pt {
            return out;
        }
        out.valid = true;
        // Latch on the first packet and whenever the source changes to a new SSRC, so a
        // spoofed packet from elsewhere cannot steal an established stream.
        match self.latched {
            None => {
                self.latched = Some((from, h.ssrc));
                if from != self.sdp_dest {
                    out.latch = Some(from);
                }
            }
            Some((addr, ssrc)) if addr != from && ssrc != h.ssrc => {
                self.latched = Some((from, h.ssrc));
                out.latch = Some(from);
            }
            _ => {}
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
        let mut m = InboundMedia::new(Codec::Pcmu, 0, Some(101), sdp, true);
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
        assert!(!m.on_packet(&packet(18, false, 1, 0, 1, &[0; 20]), real).valid, "unknown payload type ignored");
    }

    #[test]
    fn inband_tone_in_pcma_audio_is_a_digit() {
        let sdp: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut m = InboundMedia::new(Codec::Pcma, 8, None, sdp, true);
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
}
