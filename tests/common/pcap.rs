//! RFC 4733 key presses as pcap files for SIPp's `play_pcap_audio`. SIPp replays a
//! capture's packets as they are, so the captures it ships (one per key, each with its
//! own fixed RTP timestamp) cannot type a card number: a key repeated later carries an
//! old timestamp, which a correct receiver takes for a late duplicate. These captures
//! are written from one continuous timeline instead, as a phone would send them.

use ivrpay::media::rfc4733::Rfc4733Sender;
use ivrpay::media::rtp::{self, Header, MAX_PACKET};
use std::path::Path;

/// A timeline of key presses shared by several capture files.
pub struct KeyTimeline {
    seq: u16,
    /// RTP clock (8 kHz) at the next key's start.
    ts: u32,
    /// Capture clock in microseconds.
    at_us: u64,
}

impl Default for KeyTimeline {
    fn default() -> Self {
        KeyTimeline { seq: 1000, ts: 160_000, at_us: 1_700_000_000_000_000 }
    }
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

impl KeyTimeline {
    /// Writes `keys` (100 ms each, 200 ms apart, payload type 101) to `path`.
    pub fn write(&mut self, path: &Path, keys: &str) {
        let mut out: Vec<u8> = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65_535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        for key in keys.chars() {
            for p in Rfc4733Sender::packets(key, 100, 10).expect("a DTMF key") {
                let mut rtp_buf = [0u8; MAX_PACKET];
                let h = Header {
                    payload_type: 101,
                    marker: p.marker,
                    sequence: self.seq,
                    timestamp: self.ts,
                    ssrc: 0x1234_5678,
                };
                let n = rtp::write(&mut rtp_buf, h, &p.payload).expect("fits");
                self.seq = self.seq.wrapping_add(1);
                let udp_len = 8 + n;
                let ip_len = 20 + udp_len;
                let mut frame = Vec::with_capacity(14 + ip_len);
                frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
                let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
                ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
                let sum = ipv4_checksum(&ip);
                ip[10..12].copy_from_slice(&sum.to_be_bytes());
                frame.extend_from_slice(&ip);
                frame.extend_from_slice(&4000u16.to_be_bytes());
                frame.extend_from_slice(&5000u16.to_be_bytes());
                frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
                frame.extend_from_slice(&[0, 0]);
                frame.extend_from_slice(&rtp_buf[..n]);
                let at = self.at_us + u64::from(p.send_offset_ms) * 1000;
                out.extend_from_slice(&((at / 1_000_000) as u32).to_le_bytes());
                out.extend_from_slice(&((at % 1_000_000) as u32).to_le_bytes());
                out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
                out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
                out.extend_from_slice(&frame);
            }
            // The next key starts 300 ms later on both clocks.
            self.at_us += 300_000;
            self.ts = self.ts.wrapping_add(2400);
        }
        std::fs::write(path, out).expect("write capture");
    }
}
