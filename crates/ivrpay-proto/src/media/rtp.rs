//! RTP packet writing and reading (RFC 3550) on top of rtp-rs, into caller-provided
//! buffers so the per-packet path never allocates.

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

/// Largest packet we build: 12-byte header plus 20 ms of G.711.
pub const MAX_PACKET: usize = 12 + 160;

/// Header fields of an outgoing packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit: first packet of a talkspurt, or of a DTMF event.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Sampling-clock timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Writes a packet into `buf`; returns its length, or None if `buf` is too small.
pub fn write(buf: &mut [u8], h: Header, payload: &[u8]) -> Option<usize> {
    RtpPacketBuilder::new()
        .payload_type(h.payload_type)
        .marked(h.marker)
        .sequence(Seq::from(h.sequence))
        .timestamp(h.timestamp)
        .ssrc(h.ssrc)
        .payload(payload)
        .build_into(buf)
        .ok()
}

/// A received packet's fields and payload.
#[derive(Debug)]
pub struct Packet<'a> {
    /// Header fields.
    pub header: Header,
    /// Payload bytes (padding removed).
    pub payload: &'a [u8],
}

/// Reads an RTP packet; None for anything that is not RTP version 2 (e.g. STUN) or is
/// an RTCP packet multiplexed on the RTP port (RFC 5761: payload types 64-95 with the
/// marker bit are RTCP 192-223).
pub fn read(buf: &[u8]) -> Option<Packet<'_>> {
    if buf.len() >= 2 && (192..=223).contains(&buf[1]) {
        return None;
    }
    let r = RtpReader::new(buf).ok()?;
    if r.version() != 2 {
        return None;
    }
    Some(Packet {
        header: Header {
            payload_type: r.payload_type(),
            marker: r.mark(),
            sequence: u16::from(r.sequence_number()),
            timestamp: r.timestamp(),
            ssrc: r.ssrc(),
        },
        payload: r.payload(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rtcp_is_not_rtp() {
        let mut buf = [0u8; MAX_PACKET];
        let h = Header { payload_type: 8, marker: true, sequence: 65535, timestamp: 0xdead_beef, ssrc: 42 };
        let n = write(&mut buf, h, &[0xd5; 160]).unwrap();
        assert_eq!(n, MAX_PACKET);
        let p = read(&buf[..n]).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.payload.len(), 160);
        // An RTCP receiver report (PT 201) sent to the RTP port is skipped.
        let rr = [0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(read(&rr).is_none());
        assert!(read(&[0u8; 4]).is_none());
    }
}
