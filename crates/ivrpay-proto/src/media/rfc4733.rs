//! RFC 4733 telephone-events: DTMF carried as RTP packets instead of tones.
//!
//! One key press is a series of packets sharing one RTP timestamp (the event start),
//! with a growing duration, then three redundant "end" packets. Networks lose, reorder
//! and duplicate them, and some phones never set the marker bit, so the receiver keys
//! events by timestamp and reports each press exactly once, as early as possible (the
//! first packet seen), so an IVR can stop its prompt at once.

/// RTP clock ticks per 20 ms packet at 8 kHz.
const TICKS_PER_PACKET: u32 = 160;
/// Timestamps of the last events remembered, to drop their late or repeated packets.
const REMEMBERED: usize = 8;
/// An unknown timestamp at most this far (2 s) behind the newest event is a straggler
/// of an event whose every other packet was lost: reporting it now would put the keys
/// out of order. A bigger step back is taken as a new timestamp base (a sender restart).
const STRAGGLER_WINDOW: u32 = 2 * 8000;

/// Maps the wire's event codes to the keys the IVR menus are written with.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// Maps a key to its event code, for the test caller (accepts `a`-`d` too).
pub fn digit_to_event(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(c as u8 - b'A' + 12),
        'a'..='d' => Some(c as u8 - b'a' + 12),
        _ => None,
    }
}

/// The 4-byte event payload (RFC 4733 section 2.3), kept as a type so the receiver and
/// the test caller share one reading of the bit layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPayload {
    /// Event code (0-15 for DTMF).
    pub event: u8,
    /// End bit: set on the last (three, redundant) packets of the event.
    pub end: bool,
    /// Power level in -dBm0 (0-63); only 6 bits go on the wire.
    pub volume: u8,
    /// Duration so far, in RTP timestamp units (8 kHz).
    pub duration: u16,
}

impl EventPayload {
    /// Reads the first four bytes of a payload (anything after them, such as further
    /// events of a multi-event packet, is ignored); `None` if it is shorter.
    pub fn parse(payload: &[u8]) -> Option<EventPayload> {
        let &[event, flags, d0, d1, ..] = payload else {
            return None;
        };
        Some(EventPayload {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// The wire form (the reserved bit is sent as zero, the volume truncated to 6 bits).
    pub fn write(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [self.event, if self.end { 0x80 } else { 0 } | (self.volume & 0x3F), d[0], d[1]]
    }
}

/// One remembered event.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    timestamp: u32,
    ended: bool,
}

/// Turns a stream of telephone-event packets into key presses, each reported once,
/// without allocating per packet.
#[derive(Clone, Debug, Default)]
pub struct Rfc4733Receiver {
    /// Ring of recent events; `len` of them are valid, `next` is the slot to reuse.
    seen: [Seen; REMEMBERED],
    len: usize,
    next: usize,
    /// Timestamp of the newest event, for the straggler check.
    newest: Option<u32>,
}

impl Rfc4733Receiver {
    /// A receiver with no history, one per call leg.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one telephone-event packet; returns the key on the first packet seen of a
    /// new event (so the IVR can barge in early) and `None` for every other packet,
    /// unknown events (> 15) and payloads shorter than 4 bytes.
    ///
    /// One quirk is tolerated on purpose: a packet with the marker bit set and the end
    /// bit clear for the newest event, after it ended, is a new press reusing the
    /// timestamp. Replaying the same capture twice (SIPp's `play_pcap_audio`) does exactly
    /// this. Once a newer event has started, old timestamps are never reported again.
    pub fn on_packet(&mut self, rtp_timestamp: u32, marker: bool, payload: &[u8]) -> Option<char> {
        let ev = EventPayload::parse(payload)?;
        let digit = event_to_digit(ev.event)?;
        let newest = self.newest == Some(rtp_timestamp);
        if let Some(seen) = self.seen[..self.len].iter_mut().find(|s| s.timestamp == rtp_timestamp) {
            let replayed = marker && seen.ended && !ev.end && newest;
            seen.ended = ev.end || (seen.ended && !replayed);
            return replayed.then_some(digit);
        }
        if let Some(newest) = self.newest {
            // Serial-number arithmetic (RFC 1982), so the u32 wrap-around is harmless.
            let behind = newest.wrapping_sub(rtp_timestamp);
            if behind != 0 && behind <= STRAGGLER_WINDOW {
                return None;
            }
        }
        self.seen[self.next] = Seen { timestamp: rtp_timestamp, ended: ev.end };
        self.next = (self.next + 1) % REMEMBERED;
        self.len = (self.len + 1).min(REMEMBERED);
        self.newest = Some(rtp_timestamp);
        Some(digit)
    }
}

/// One packet of a key press generated by [`Rfc4733Sender`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderPacket {
    /// The event payload, ready to follow the RTP header.
    pub payload: [u8; 4],
    /// Marker bit for the RTP header (set on the first packet only).
    pub marker: bool,
    /// When to send it, in ms after the first packet.
    pub send_offset_ms: u32,
}

/// Generates the packets of one key press, so the test caller can exercise the IVR's
/// RFC 4733 path the way a phone would.
#[derive(Clone, Copy, Debug)]
pub struct Rfc4733Sender;

impl Rfc4733Sender {
    /// The packets of one press of `digit` held for `duration_ms` (rounded down to 20 ms,
    /// at least one packet): one packet every 20 ms with the duration growing by 160
    /// ticks, the first with the marker bit, then three end packets 20 ms apart carrying
    /// the final duration. `None` for a character that is not a DTMF key.
    ///
    /// The caller must send every packet with the same RTP timestamp, the one of the
    /// press's start, while its audio clock keeps advancing: that is how the receiver
    /// tells presses apart. Durations stop at 65535 ticks (8.19 s); longer presses would
    /// need RFC 4733's segmented events, which a test caller never needs.
    pub fn packets(digit: char, duration_ms: u32, volume: u8) -> Option<Vec<SenderPacket>> {
        let event = digit_to_event(digit)?;
        let n = (duration_ms / 20).max(1);
        let duration = |ticks: u32| ticks.min(u32::from(u16::MAX)) as u16;
        let mut out = Vec::with_capacity(n as usize + 3);
        for i in 0..n {
            let p = EventPayload { event, end: false, volume, duration: duration((i + 1) * TICKS_PER_PACKET) };
            out.push(SenderPacket { payload: p.write(), marker: i == 0, send_offset_ms: i * 20 });
        }
        let end = EventPayload { event, end: true, volume, duration: duration(n * TICKS_PER_PACKET) }.write();
        for i in 0..3 {
            out.push(SenderPacket { payload: end, marker: false, send_offset_ms: (n + i) * 20 });
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a 100 ms press of `digit` at `ts` (skipping the first `skip` packets, with or
    /// without the marker bit) and returns the keys reported.
    fn press(rx: &mut Rfc4733Receiver, digit: char, ts: u32, skip: usize, marker: bool) -> String {
        let packets = Rfc4733Sender::packets(digit, 100, 10).unwrap();
        packets.iter().skip(skip).filter_map(|p| rx.on_packet(ts, p.marker && marker, &p.payload)).collect()
    }

    fn end_packet(event: u8) -> [u8; 4] {
        EventPayload { event, end: true, volume: 10, duration: 800 }.write()
    }

    #[test]
    fn payload_round_trip_and_codes() {
        let p = EventPayload { event: 11, end: true, volume: 10, duration: 800 };
        assert_eq!(p.write(), [11, 0x8A, 0x03, 0x20]);
        assert_eq!(EventPayload::parse(&p.write()), Some(p));
        assert_eq!(EventPayload::parse(&[11, 0x8A, 0x03, 0x20, 0xFF, 0xFF]), Some(p), "extra bytes ignored");
        assert_eq!(EventPayload::parse(&[1, 2, 3]), None);
        // The reserved bit is ignored on input.
        assert_eq!(EventPayload::parse(&[5, 0x40 | 7, 0, 160]).unwrap().volume, 7);
        for (code, c) in "0123456789*#ABCD".chars().enumerate() {
            assert_eq!(digit_to_event(c), Some(code as u8));
            assert_eq!(event_to_digit(code as u8), Some(c));
        }
        assert_eq!((digit_to_event('b'), digit_to_event('x'), event_to_digit(16)), (Some(13), None, None));
    }

    #[test]
    fn one_digit_from_a_normal_press_and_from_damaged_ones() {
        let mut rx = Rfc4733Receiver::new();
        assert_eq!(press(&mut rx, '5', 1000, 0, true), "5", "normal");
        assert_eq!(press(&mut rx, '6', 2000, 0, false), "6", "no marker bit");
        assert_eq!(press(&mut rx, '7', 3000, 1, true), "7", "first packet (with the marker) lost");
        assert_eq!(press(&mut rx, '8', 4000, 4, true), "8", "first four packets lost");
        assert_eq!(press(&mut rx, '9', 5000, 5, true), "9", "only the end packets");
        assert_eq!(press(&mut rx, '9', 5000, 0, false), "", "the same event again");
        assert_eq!(press(&mut rx, '#', 6000, 0, true), "#");
        let end = end_packet(11);
        assert_eq!((0..5).filter_map(|_| rx.on_packet(6000, false, &end)).count(), 0, "repeated ends");
    }

    #[test]
    fn unknown_events_and_short_payloads_are_ignored() {
        let mut rx = Rfc4733Receiver::new();
        assert_eq!(rx.on_packet(100, true, &[16, 0, 0, 160]), None, "flash hook");
        assert_eq!(rx.on_packet(100, true, &[1, 0, 0]), None);
        assert_eq!(rx.on_packet(100, true, &[1, 0, 0, 160]), Some('1'), "not poisoned by the above");
    }

    #[test]
    fn the_same_key_twice_gives_two_digits() {
        let mut rx = Rfc4733Receiver::new();
        assert_eq!(press(&mut rx, '4', 8000, 0, true) + &press(&mut rx, '4', 9600, 0, true), "44");
    }

    #[test]
    fn late_packets_of_older_events_are_not_reported_again() {
        let mut rx = Rfc4733Receiver::new();
        assert_eq!(press(&mut rx, '1', 1000, 0, true), "1");
        assert_eq!(rx.on_packet(2000, false, &[2, 10, 0, 160]), Some('2'), "new event, first packet");
        assert_eq!(rx.on_packet(1000, false, &end_packet(1)), None, "late end of the previous event");
        assert_eq!(rx.on_packet(1000, true, &[1, 10, 0, 160]), None, "late first packet");
        // A straggler of an event never seen, older than the newest one, is dropped too.
        assert_eq!(rx.on_packet(1500, false, &end_packet(3)), None);
        // Events evicted from the memory are still caught by the straggler window.
        for k in 0..REMEMBERED as u32 {
            assert_eq!(rx.on_packet(3000 + k * 800, true, &[0, 10, 0, 160]), Some('0'));
        }
        assert_eq!(rx.on_packet(1000, false, &end_packet(1)), None);
        // A big step back is a new timestamp base, not a straggler.
        assert_eq!(press(&mut rx, '5', 1000u32.wrapping_sub(10 * 8000), 0, true), "5");
    }

    #[test]
    fn timestamp_wrap_around() {
        let mut rx = Rfc4733Receiver::new();
        assert_eq!(press(&mut rx, '1', u32::MAX - 100, 0, true), "1");
        assert_eq!(press(&mut rx, '2', 700, 0, true), "2");
        assert_eq!(rx.on_packet(u32::MAX - 100, false, &end_packet(1)), None, "late, across the wrap");
        assert_eq!(rx.on_packet(u32::MAX - 50, false, &end_packet(3)), None, "straggler across the wrap");
        assert_eq!(press(&mut rx, '3', 2300, 0, true), "3");
    }

    #[test]
    fn a_replayed_capture_with_the_same_timestamp_is_a_new_press() {
        // SIPp's dtmf_2833_1.pcap, played twice.
        let mut rx = Rfc4733Receiver::new();
        assert_eq!(press(&mut rx, '1', 13280, 0, true) + &press(&mut rx, '1', 13280, 0, true), "11");
        // Without the end, a repeated marker packet is only a duplicate.
        assert_eq!(rx.on_packet(20000, true, &[2, 10, 0, 160]), Some('2'));
        assert_eq!(rx.on_packet(20000, true, &[2, 10, 0, 160]), None);
    }

    #[test]
    fn sender_shape_and_round_trip() {
        let p = Rfc4733Sender::packets('#', 100, 10).unwrap();
        assert_eq!(p.len(), 5 + 3);
        assert!(p[0].marker && p[1..].iter().all(|x| !x.marker));
        let parsed: Vec<EventPayload> = p.iter().map(|x| EventPayload::parse(&x.payload).unwrap()).collect();
        let durations: Vec<u16> = parsed.iter().map(|e| e.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800, 800]);
        assert!(parsed.iter().all(|e| e.event == 11 && e.volume == 10));
        assert_eq!(parsed.iter().filter(|e| e.end).count(), 3);
        assert!(parsed[5..].iter().all(|e| e.end));
        let offsets: Vec<u32> = p.iter().map(|x| x.send_offset_ms).collect();
        assert_eq!(offsets, [0, 20, 40, 60, 80, 100, 120, 140]);
        assert_eq!(Rfc4733Sender::packets('1', 5, 0).unwrap().len(), 1 + 3);
        assert!(Rfc4733Sender::packets('x', 100, 10).is_none());
        let mut rx = Rfc4733Receiver::new();
        let keys: String = "159*#D"
            .chars()
            .enumerate()
            .flat_map(|(i, k)| {
                let ts = 4_000_000_000u32.wrapping_add(i as u32 * 1_000_000);
                let packets = Rfc4733Sender::packets(k, 120, 10).unwrap();
                packets.into_iter().filter_map(|p| rx.on_packet(ts, p.marker, &p.payload)).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(keys, "159*#D");
    }
}
