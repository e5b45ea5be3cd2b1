//! The test caller's audio: what it sends (silence, RFC 4733 events or DTMF tones on a
//! 20 ms clock) and what it hears (decoded and kept with its timing for a WAV file).

use crate::media::codec::{Codec, SAMPLES_PER_FRAME};
use crate::media::inband::ToneGenerator;
use crate::media::rfc4733::Rfc4733Sender;
use crate::media::rtp::{self, Header, MAX_PACKET};
use crate::media::{g711, pacer::g711_silence};
use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

/// Peak amplitude of generated DTMF tones (about -10 dBm0 per tone).
const TONE_AMPLITUDE: i16 = 6000;

/// One scheduled key press, in 20 ms frames from the media start.
#[derive(Clone, Copy, Debug)]
pub struct KeyPress {
    /// The key.
    pub digit: char,
    /// Frame at which it starts.
    pub start_frame: u64,
    /// How many frames it is held.
    pub frames: u64,
}

enum Sending {
    Idle,
    Event { packets: VecDeque<[u8; 4]>, marker_next: bool, ts: u32 },
    Tone { gen: ToneGenerator, frames_left: u64 },
}

/// Outgoing audio state of the caller.
pub struct Sender {
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
    ssrc: u32,
    seq: u16,
    ts: u32,
    frame: u64,
    state: Sending,
    /// Packets sent.
    pub packets: u64,
}

impl Sender {
    /// A sender for the negotiated codec.
    pub fn new(codec: Codec, payload_type: u8, telephone_event: Option<u8>) -> Self {
        Sender {
            codec,
            payload_type,
            telephone_event,
            ssrc: rand::random(),
            seq: rand::random(),
            ts: rand::random(),
            frame: 0,
            state: Sending::Idle,
            packets: 0,
        }
    }

    /// True if RFC 4733 events can be sent (the answer accepted telephone-event).
    pub fn can_send_events(&self) -> bool {
        self.telephone_event.is_some()
    }

    /// Starts a key press now, as events or as tones.
    pub fn press(&mut self, digit: char, duration_ms: u32, as_tone: bool) {
        if as_tone {
            if let Some(gen) = ToneGenerator::new(digit, TONE_AMPLITUDE) {
                self.state = Sending::Tone { gen, frames_left: (duration_ms / 20).max(1) as u64 };
            }
        } else if let Some(pkts) = Rfc4733Sender::packets(digit, duration_ms, 10) {
            let packets: VecDeque<[u8; 4]> = pkts.into_iter().map(|p| p.payload).collect();
            self.state = Sending::Event { packets, marker_next: true, ts: self.ts };
        }
    }

    /// Builds the packet for the next 20 ms frame into `buf`; returns its length.
    pub fn next_packet(&mut self, buf: &mut [u8; MAX_PACKET]) -> Option<usize> {
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(SAMPLES_PER_FRAME as u32);
        self.frame += 1;
        let mut audio = [g711_silence(self.codec); SAMPLES_PER_FRAME];
        let mut header = Header {
            payload_type: self.payload_type,
            marker: false,
            sequence: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
        };
        let mut event_payload = None;
        match &mut self.state {
            Sending::Idle => {}
            Sending::Tone { gen, frames_left } => {
                let mut pcm = [0i16; SAMPLES_PER_FRAME];
                gen.fill(&mut pcm);
                g711::encode_frame(self.codec, &pcm, &mut audio);
                *frames_left -= 1;
                if *frames_left == 0 {
                    self.state = Sending::Idle;
                }
            }
            Sending::Event { packets, marker_next, ts: ev_ts } => {
                if let (Some(p), Some(pt)) = (packets.pop_front(), self.telephone_event) {
                    // Every packet of one event carries the event's start timestamp.
                    header = Header { payload_type: pt, marker: *marker_next, timestamp: *ev_ts, ..header };
                    *marker_next = false;
                    event_payload = Some(p);
                }
                if packets.is_empty() {
                    self.state = Sending::Idle;
                }
            }
        }
        self.seq = self.seq.wrapping_add(1);
        self.packets += 1;
        match event_payload {
            Some(p) => rtp::write(buf, header, &p),
            None => rtp::write(buf, header, &audio),
        }
    }

    /// Frames sent since the start.
    pub fn frame(&self) -> u64 {
        self.frame
    }
}

/// What the caller heard, with silences where no packet came.
#[derive(Default)]
pub struct Recorder {
    samples: Vec<i16>,
    next_ts: Option<u32>,
    ssrc: Option<u32>,
    /// Audio packets received.
    pub packets: u64,
    /// Packets with the marker bit (talkspurt starts).
    pub talkspurts: u64,
}

impl Recorder {
    /// Adds a received datagram (only audio of the expected payload type counts).
    pub fn on_packet(&mut self, data: &[u8], codec: Codec, payload_type: u8) {
        let Some(p) = rtp::read(data) else { return };
        if p.header.payload_type != payload_type {
            return;
        }
        self.packets += 1;
        if p.header.marker {
            self.talkspurts += 1;
        }
        if self.ssrc != Some(p.header.ssrc) {
            self.ssrc = Some(p.header.ssrc);
            self.next_ts = None;
        }
        if let Some(expected) = self.next_ts {
            let gap = p.header.timestamp.wrapping_sub(expected);
            // Fill a silence the sender did not transmit (at most 10 s, to survive a
            // timestamp jump); a late or duplicate packet (negative gap) is dropped.
            if gap > u32::MAX / 2 {
                return;
            }
            if gap > 0 && gap <= 80_000 {
                self.samples.resize(self.samples.len() + gap as usize, 0);
            }
        }
        let start = self.samples.len();
        self.samples.resize(start + p.payload.len(), 0);
        g711::decode_frame(codec, p.payload, &mut self.samples[start..]);
        self.next_ts = Some(p.header.timestamp.wrapping_add(p.payload.len() as u32));
    }

    /// Milliseconds of audio heard (including the silences between talkspurts).
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 / 8
    }

    /// The samples heard.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Writes an 8 kHz mono 16-bit WAV.
    pub fn write_wav(&self, path: &Path) -> Result<(), hound::Error> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec)?;
        for s in &self.samples {
            w.write_sample(*s)?;
        }
        w.finalize()
    }
}

/// Turns a DTMF string into key presses. `,` is a 500 ms pause (as on a phone's
/// dialler), letting a script wait for a prompt before the next key.
pub fn schedule(dtmf: &str, wait_ms: u64, digit_ms: u64, gap_ms: u64) -> Result<Vec<KeyPress>, char> {
    let mut at_ms = wait_ms;
    let mut out = Vec::new();
    for c in dtmf.chars() {
        match c {
            ',' => at_ms += 500,
            ' ' | '-' => {}
            c if c.is_ascii_digit() || "*#ABCDabcd".contains(c) => {
                out.push(KeyPress {
                    digit: c.to_ascii_uppercase(),
                    start_frame: at_ms / 20,
                    frames: (digit_ms / 20).max(1),
                });
                at_ms += digit_ms + gap_ms;
            }
            other => return Err(other),
        }
    }
    Ok(out)
}

/// The keys of a call in segments: `;` in the DTMF string waits until the server has
/// spoken and then been silent for a while (the end of its prompt) before the keys
/// after it, so a script follows a call flow whatever the prompts' lengths.
pub struct KeyPlan {
    segments: Vec<Vec<KeyPress>>,
    segment: usize,
    next: usize,
    /// Frame the current segment started at; `None` while waiting for silence.
    start: Option<u64>,
    /// Audio must be heard after this instant before a wait can end.
    mark: Option<Instant>,
    /// Frame at which the last key ended, once every key is sent.
    done: Option<u64>,
}

impl KeyPlan {
    /// Parses `dtmf` (keys, `,` for 500 ms, `;` for "wait for the prompt to end").
    pub fn new(dtmf: &str, wait_ms: u64, digit_ms: u64, gap_ms: u64) -> Result<KeyPlan, char> {
        let mut segments = Vec::new();
        for (i, part) in dtmf.split(';').enumerate() {
            segments.push(schedule(part, if i == 0 { wait_ms } else { 0 }, digit_ms, gap_ms)?);
        }
        let done = (segments.iter().all(Vec::is_empty)).then_some(wait_ms / 20);
        Ok(KeyPlan { segments, segment: 0, next: 0, start: Some(0), mark: None, done })
    }

    /// The key to press at `frame`, if any. `last_audio` is when the server's audio was
    /// last heard; a wait ends after `silence` without audio, provided some audio came
    /// after the previous keys.
    pub fn due(
        &mut self,
        frame: u64,
        now: Instant,
        last_audio: Option<Instant>,
        silence: Duration,
    ) -> Option<KeyPress> {
        let Some(start) = self.start else {
            let heard = match (last_audio, self.mark) {
                (Some(a), Some(m)) => a > m,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if heard && last_audio.is_some_and(|a| now >= a + silence) {
                self.start = Some(frame);
            }
            return None;
        };
        let seg = self.segments.get(self.segment)?;
        let key = *seg.get(self.next).filter(|k| frame >= start + k.start_frame)?;
        self.next += 1;
        if self.next == seg.len() {
            let end = frame + key.frames;
            if self.segment + 1 < self.segments.len() {
                self.segment += 1;
                self.next = 0;
                self.start = None;
                self.mark = Some(now + Duration::from_millis(key.frames * 20));
            } else {
                self.done = Some(end);
            }
        }
        Some(key)
    }

    /// The frame at which the last key ended, once all are sent.
    pub fn done(&self) -> Option<u64> {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_waits_for_the_prompt_to_end_between_segments() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let silence = Duration::from_millis(600);
        let mut p = KeyPlan::new("1;2", 0, 100, 100).unwrap();
        assert_eq!(p.due(0, t0, None, silence).map(|k| k.digit), Some('1'));
        // Nothing heard since the key: keep waiting, however long.
        assert!(p.due(100, ms(2000), Some(ms(50)), silence).is_none());
        // The server talks, then stops: the next key goes 600 ms later.
        assert!(p.due(110, ms(2200), Some(ms(2190)), silence).is_none());
        assert!(p.due(140, ms(2789), Some(ms(2190)), silence).is_none());
        assert!(p.due(141, ms(2790), Some(ms(2190)), silence).is_none(), "the segment starts now");
        assert_eq!(p.due(142, ms(2810), Some(ms(2190)), silence).map(|k| k.digit), Some('2'));
        assert_eq!(p.done(), Some(147));
        assert_eq!(KeyPlan::new("", 1000, 100, 100).unwrap().done(), Some(50));
    }

    #[test]
    fn schedule_spaces_keys_and_pauses() {
        let s = schedule("12,#", 1000, 100, 200).unwrap();
        let starts: Vec<u64> = s.iter().map(|k| k.start_frame).collect();
        assert_eq!(starts, vec![50, 65, 105]);
        assert_eq!(schedule("1x", 0, 100, 100).unwrap_err(), 'x');
    }

    #[test]
    fn recorder_fills_silence_between_talkspurts() {
        let mut r = Recorder::default();
        let mut buf = [0u8; MAX_PACKET];
        let h = Header { payload_type: 0, marker: true, sequence: 1, timestamp: 1000, ssrc: 5 };
        let n = rtp::write(&mut buf, h, &[0x00; 160]).unwrap();
        r.on_packet(&buf[..n], Codec::Pcmu, 0);
        let n = rtp::write(&mut buf, Header { sequence: 2, timestamp: 1000 + 160 * 5, ..h }, &[0x00; 160]).unwrap();
        r.on_packet(&buf[..n], Codec::Pcmu, 0);
        assert_eq!(r.samples().len(), 160 * 6);
        assert_eq!(r.talkspurts, 2);
        assert!(r.samples()[200..800].iter().all(|&s| s == 0));
    }

    #[test]
    fn event_press_sends_marker_once_and_shares_timestamp() {
        let mut s = Sender::new(Codec::Pcmu, 0, Some(101));
        let mut buf = [0u8; MAX_PACKET];
        s.press('5', 100, false);
        let mut headers = Vec::new();
        for _ in 0..12 {
            let n = s.next_packet(&mut buf).unwrap();
            headers.push(rtp::read(&buf[..n]).unwrap().header);
        }
        let events: Vec<_> = headers.iter().filter(|h| h.payload_type == 101).collect();
        assert!(events.len() >= 5 + 3);
        assert!(events[0].marker && events[1..].iter().all(|h| !h.marker));
        assert!(events.iter().all(|h| h.timestamp == events[0].timestamp));
        assert_eq!(headers.last().unwrap().payload_type, 0, "back to audio after the event");
    }
}
