//! In-band DTMF: the dual tones themselves, for phones and gateways that send neither
//! RFC 4733 events nor SIP INFO. A Goertzel filter per DTMF frequency runs on decoded
//! audio; checks on level, twist, relative peaks, the share of energy in the two tones
//! and duration keep speech, music and short bursts from becoming digits.
//!
//! Blocks are 102 samples (12.75 ms at 8 kHz; frequency resolution 78 Hz, enough to
//! separate 697 from 770 Hz). A key counts after three consecutive agreeing blocks of
//! similar strength: a 40 ms tone always yields that, a 23 ms burst never can.

use std::f32::consts::PI;

const RATE: f32 = 8000.0;
const BLOCK: usize = 102;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];
/// Goertzel power of a ~ -40 dBm0 tone (amplitude ~330) over one block.
const MIN_POWER: f32 = (330.0 * BLOCK as f32 / 2.0) * (330.0 * BLOCK as f32 / 2.0);
/// Column weaker than row: at most 8 dB (normal twist).
const MAX_NORMAL_TWIST: f32 = 6.31;
/// Row weaker than column: at most 4 dB (reverse twist).
const MAX_REVERSE_TWIST: f32 = 2.51;
/// The second strongest frequency of a group must be 6 dB below the strongest.
const RELATIVE_PEAK: f32 = 4.0;
/// At least this share of the block's energy must be in the two tones.
const MIN_TONE_SHARE: f32 = 0.6;
/// Blocks that must agree before a key is reported.
const CONFIRM_BLOCKS: u8 = 3;
/// Blocks without the key before the same key can be reported again.
const RELEASE_BLOCKS: u8 = 2;

/// The key pad frequencies of a key.
fn freqs(digit: char) -> Option<(f32, f32)> {
    let d = digit.to_ascii_uppercase();
    for (r, row) in KEYS.iter().enumerate() {
        for (c, k) in row.iter().enumerate() {
            if *k == d {
                return Some((ROWS[r], COLS[c]));
            }
        }
    }
    None
}

/// Samples of a key's tone pair, each tone at `amplitude` peak (for tests and tools).
pub fn tone(digit: char, duration_ms: u32, amplitude: i16) -> Option<Vec<i16>> {
    let mut g = ToneGenerator::new(digit, amplitude)?;
    let mut out = vec![0i16; (duration_ms * 8) as usize];
    g.fill(&mut out);
    Some(out)
}

/// Phase-continuous tone pair, frame by frame, without allocation (the test caller
/// sends in-band DTMF 20 ms at a time).
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    step: (f32, f32),
    phase: (f32, f32),
    amplitude: f32,
}

impl ToneGenerator {
    /// A generator for `digit` (0-9, *, #, A-D).
    pub fn new(digit: char, amplitude: i16) -> Option<Self> {
        let (r, c) = freqs(digit)?;
        Some(ToneGenerator {
            step: (2.0 * PI * r / RATE, 2.0 * PI * c / RATE),
            phase: (0.0, 0.0),
            amplitude: amplitude as f32,
        })
    }

    /// Writes the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out.iter_mut() {
            let v = self.amplitude * (self.phase.0.sin() + self.phase.1.sin());
            *s = v.clamp(-32768.0, 32767.0) as i16;
            self.phase.0 = (self.phase.0 + self.step.0) % (2.0 * PI);
            self.phase.1 = (self.phase.1 + self.step.1) % (2.0 * PI);
        }
    }
}

/// The Goertzel coefficients, computed once.
fn coefficients() -> [f32; 8] {
    let mut k = [0f32; 8];
    for (i, f) in ROWS.iter().chain(COLS.iter()).enumerate() {
        k[i] = 2.0 * (2.0 * PI * f / RATE).cos();
    }
    k
}

/// Streaming DTMF detector over 8 kHz linear audio.
#[derive(Clone, Debug)]
pub struct InbandDetector {
    coeff: [f32; 8],
    block: [f32; BLOCK],
    fill: usize,
    candidate: Option<char>,
    agree: u8,
    powers: [f32; CONFIRM_BLOCKS as usize],
    reported: Option<char>,
    absent: u8,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    /// A detector with no history.
    pub fn new() -> Self {
        InbandDetector {
            coeff: coefficients(),
            block: [0.0; BLOCK],
            fill: 0,
            candidate: None,
            agree: 0,
            powers: [0.0; CONFIRM_BLOCKS as usize],
            reported: None,
            absent: RELEASE_BLOCKS,
        }
    }

    /// Feeds samples of any chunk size; calls `on_digit` once per key press.
    pub fn push(&mut self, samples: &[i16], mut on_digit: impl FnMut(char)) {
        for &s in samples {
            self.block[self.fill] = s as f32;
            self.fill += 1;
            if self.fill == BLOCK {
                self.fill = 0;
                let hit = self.analyse();
                if let Some(d) = self.track(hit) {
                    on_digit(d);
                }
            }
        }
    }

    /// Tests one block; returns the key and its tone power if the block holds one.
    fn analyse(&self) -> Option<(char, f32)> {
        let mut p = [0f32; 8];
        let mut energy = 0f32;
        for (i, k) in self.coeff.iter().enumerate() {
            let (mut s1, mut s2) = (0f32, 0f32);
            for &x in &self.block {
                let s0 = x + k * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            p[i] = s1 * s1 + s2 * s2 - k * s1 * s2;
        }
        for &x in &self.block {
            energy += x * x;
        }
        let best = |g: &[f32]| {
            let (mut bi, mut bv, mut second) = (0, 0f32, 0f32);
            for (i, &v) in g.iter().enumerate() {
                if v > bv {
                    second = bv;
                    bv = v;
                    bi = i;
                } else if v > second {
                    second = v;
                }
            }
            (bi, bv, second)
        };
        let (r, rp, r2) = best(&p[..4]);
        let (c, cp, c2) = best(&p[4..]);
        if rp < MIN_POWER || cp < MIN_POWER {
            return None;
        }
        if rp > cp * MAX_NORMAL_TWIST || cp > rp * MAX_REVERSE_TWIST {
            return None;
        }
        if r2 * RELATIVE_PEAK > rp || c2 * RELATIVE_PEAK > cp {
            return None;
        }
        // For a pure tone, Goertzel power = (A N / 2)^2 and block energy = A^2 N / 2,
        // so 2 (rp + cp) / (N E) is the share of the energy in the two tones.
        let share = 2.0 * (rp + cp) / (BLOCK as f32 * energy.max(1.0));
        if share < MIN_TONE_SHARE {
            return None;
        }
        Some((KEYS[r][c], rp + cp))
    }

    fn track(&mut self, hit: Option<(char, f32)>) -> Option<char> {
        match hit {
            Some((d, power)) => {
                if self.candidate == Some(d) {
                    self.agree = self.agree.saturating_add(1);
                } else {
                    self.candidate = Some(d);
                    self.agree = 1;
                }
                let n = CONFIRM_BLOCKS as usize;
                self.powers.rotate_left(1);
                self.powers[n - 1] = power;
                if self.agree >= CONFIRM_BLOCKS {
                    let max = self.powers.iter().cloned().fold(0f32, f32::max);
                    let min = self.powers.iter().cloned().fold(f32::MAX, f32::min);
                    if min * 4.0 >= max {
                        let new_press = self.reported != Some(d) || self.absent >= RELEASE_BLOCKS;
                        self.reported = Some(d);
                        self.absent = 0;
                        if new_press {
                            return Some(d);
                        }
                    }
                }
                None
            }
            None => {
                self.candidate = None;
                self.agree = 0;
                self.absent = self.absent.saturating_add(1);
                None
            }
        }
    }
}

#[cfg(test)]
#[path = "inband_tests.rs"]
mod tests;
