//! In-band DTMF: the dual tones themselves, for phones and gateways that send neither
//! RFC 4733 events nor SIP INFO, and a generator so the test caller can send them.
//!
//! The detector runs a Goertzel filter per DTMF frequency over blocks of 102 samples
//! (12.75 ms at 8 kHz). The classic block of 205 samples resolves frequencies twice as
//! finely, but its 25.6 ms steps make the duration rules coarse: two agreeing blocks
//! let some 31 ms bursts through yet miss some 50 ms tones. With 102 samples (78 Hz per
//! bin; the 73 to 89 Hz row spacing falls near the filters' first nulls, so neighbouring
//! frequencies still separate by 15 dB or more) three agreeing blocks accept every tone
//! of 41 ms or more and reject every burst under 26 ms, whatever the alignment: close to
//! ITU-T Q.24's 40 ms / 23 ms.
//!
//! A block counts as a "hit" when both groups have a clear winner (relative peak),
//! the pair is loud enough, the twist is within limits and the pair carries most of the
//! block's energy. Blocks only partly covered by the tone still hit, which is what makes
//! the duration rule work. To report a key, one block of the run must also be "clean":
//! nearly all its energy in the two tones, each tone on its frequency and no strong
//! second harmonic of the column tone. Speech and music put their energy in many
//! harmonics, so they fail there.

use std::f64::consts::TAU;

const RATE: f64 = 8000.0;
/// Samples per analysis block.
const BLOCK: usize = 102;
/// Row (low group) then column (high group) frequencies.
const FREQS: [f64; 8] = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];
/// Weakest tone accepted, peak amplitude per frequency: about -40 dBm0 (0 dBm0 is a
/// sine of peak 22.6k in 16-bit G.711 terms), well below the -25 dBm0 phones send.
const MIN_AMPLITUDE: f32 = 230.0;
/// Column weaker than row by at most 8 dB (normal twist), as a power ratio.
const MAX_NORMAL_TWIST: f32 = 6.31;
/// Row weaker than column by at most 4 dB (reverse twist).
const MAX_REVERSE_TWIST: f32 = 2.51;
/// Runner-up of each group at least 3 dB below its winner for a hit, 6 dB in a clean
/// block: a tone covering part of a block is spread by the short window (a 770 Hz tone
/// over 60 samples leaks into the 697 Hz filter at only -5 dB).
const HIT_RELATIVE_PEAK: f32 = 2.0;
const CLEAN_RELATIVE_PEAK: f32 = 4.0;
/// Share of the block's energy in the two tones for a hit. About the fraction of the
/// block the tone covers, so this also sets how partial blocks count for duration.
const HIT_SHARE: f32 = 0.55;
/// Share needed for a clean block. Tones 1.5% off frequency (the tolerance Q.24 asks
/// to accept) still give 0.79 or more and noise 10 dB below the tones costs 0.09, while
/// voices and instruments, whose harmonics carry a third of the energy or more, stay
/// below (two notes with 1/h harmonics: 0.6). Tones 3.5% off (to be rejected) give
/// under 0.5, not even a hit.
const CLEAN_SHARE: f32 = 0.75;
/// The column's second harmonic at least 10 dB below the column tone in a clean block.
/// (Not checked for the row: its harmonic lies within a bin of the columns.)
const MAX_HARMONIC: f32 = 0.1;
/// A clean block's tones must be stronger at their nominal frequency than this far
/// (5%) above or below it: the dividing line falls at 2.5% off, between the 1.5% to be
/// accepted and the 3.5% to be rejected, even when the other tone is exact.
const PROBE_OFFSET: f64 = 0.05;
/// Agreeing blocks before a key is reported (38 ms).
const CONFIRM_BLOCKS: u8 = 3;
/// Tone power may vary by at most 6 dB over the last `CONFIRM_BLOCKS` blocks (a partial
/// first block included) when a key is confirmed: steady tones meet it, many gliding or
/// decaying sounds do not.
const MAX_POWER_SPREAD: f32 = 4.0;
/// Blocks without the key before the same key may be reported again: a pause of 38 ms
/// always releases it, a break under 24 ms never does (Q.24 asks 40 ms and 10 ms).
const RELEASE_BLOCKS: u8 = 3;

/// The row and column frequencies of a key (`a`-`d` accepted).
fn key_freqs(digit: char) -> Option<(f64, f64)> {
    let d = digit.to_ascii_uppercase();
    let r = KEYS.iter().position(|row| row.contains(&d))?;
    let c = KEYS[r].iter().position(|&k| k == d)?;
    Some((FREQS[r], FREQS[4 + c]))
}

/// The samples of one key press, for tests and tools that want it in one piece (the
/// test caller streams with [`ToneGenerator`]). Each tone peaks at `amplitude`; `None`
/// for a character that is not a DTMF key.
pub fn tone(digit: char, duration_ms: u32, amplitude: i16) -> Option<Vec<i16>> {
    let mut g = ToneGenerator::new(digit, amplitude)?;
    let mut out = vec![0i16; duration_ms as usize * 8];
    g.fill(&mut out);
    Some(out)
}

/// A key's tone pair produced frame by frame, phase-continuous and without allocation,
/// for the test caller that sends in-band DTMF over RTP 20 ms at a time.
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    step: [f64; 2],
    phase: [f64; 2],
    amplitude: f64,
}

impl ToneGenerator {
    /// A generator for `digit` (0-9, *, #, A-D) with each tone peaking at `amplitude`
    /// (the sum peaks at twice that, clipped to the i16 range).
    pub fn new(digit: char, amplitude: i16) -> Option<Self> {
        let (r, c) = key_freqs(digit)?;
        Some(ToneGenerator { step: [TAU * r / RATE, TAU * c / RATE], phase: [0.0; 2], amplitude: f64::from(amplitude) })
    }

    /// Writes the next `out.len()` samples, continuing where the last call stopped.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out.iter_mut() {
            let v = self.amplitude * (self.phase[0].sin() + self.phase[1].sin());
            *s = v.round().clamp(-32768.0, 32767.0) as i16;
            for (p, step) in self.phase.iter_mut().zip(self.step) {
                *p = (*p + step) % TAU;
            }
        }
    }
}

/// What one block holds.
#[derive(Clone, Copy, Debug)]
struct Hit {
    key: char,
    power: f32,
    clean: bool,
}

/// The current run of consecutive blocks hitting the same key.
#[derive(Clone, Copy, Debug)]
struct Run {
    key: char,
    blocks: u8,
    clean: bool,
    /// Tone power of the last `CONFIRM_BLOCKS` blocks.
    powers: [f32; CONFIRM_BLOCKS as usize],
}

/// Finds DTMF keys in a call's decoded audio, for callers whose phones send tones
/// instead of RFC 4733 events; each press is reported once.
#[derive(Clone, Debug)]
pub struct InbandDetector {
    /// Goertzel coefficients of the 8 frequencies, their probes below and above, and
    /// the second harmonics of the 4 columns.
    coeff: [f32; 8],
    probes: [[f32; 2]; 8],
    harmonics: [f32; 4],
    block: [f32; BLOCK],
    fill: usize,
    run: Option<Run>,
    /// The key reported last, until it has been absent for `RELEASE_BLOCKS`.
    held: Option<char>,
    misses: u8,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    /// A detector with no history, one per call leg.
    pub fn new() -> Self {
        let k = |f: f64| (2.0 * (TAU * f / RATE).cos()) as f32;
        let coeff = FREQS.map(k);
        let probes = FREQS.map(|f| [k(f * (1.0 - PROBE_OFFSET)), k(f * (1.0 + PROBE_OFFSET))]);
        let harmonics = [k(2.0 * FREQS[4]), k(2.0 * FREQS[5]), k(2.0 * FREQS[6]), k(2.0 * FREQS[7])];
        InbandDetector {
            coeff,
            probes,
            harmonics,
            block: [0.0; BLOCK],
            fill: 0,
            run: None,
            held: None,
            misses: RELEASE_BLOCKS,
        }
    }

    /// Feeds 8 kHz samples in chunks of any size (results do not depend on the
    /// chunking); calls `on_digit` once per key press, as soon as the press is confirmed.
    pub fn push(&mut self, samples: &[i16], mut on_digit: impl FnMut(char)) {
        for &s in samples {
            self.block[self.fill] = f32::from(s);
            self.fill += 1;
            if self.fill == BLOCK {
                self.fill = 0;
                let hit = self.analyse();
                if let Some(key) = self.track(hit) {
                    on_digit(key);
                }
            }
        }
    }

    /// Goertzel power at coefficient `k`: (A N / 2)^2 for a sine of peak A.
    fn power(&self, k: f32) -> f32 {
        let (mut s1, mut s2) = (0f32, 0f32);
        for &x in &self.block {
            let s0 = x + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    }

    /// Tests one full block.
    fn analyse(&self) -> Option<Hit> {
        let mut p = [0f32; 8];
        for (p, &k) in p.iter_mut().zip(&self.coeff) {
            *p = self.power(k);
        }
        let (r, rp, r_peak) = winner(&p[..4])?;
        let (c, cp, c_peak) = winner(&p[4..])?;
        let min_power = (MIN_AMPLITUDE * BLOCK as f32 / 2.0).powi(2);
        if rp < min_power || cp < min_power || rp > cp * MAX_NORMAL_TWIST || cp > rp * MAX_REVERSE_TWIST {
            return None;
        }
        // Energy without DC. A sine of peak A has energy A^2 N / 2 and power (A N / 2)^2,
        // so 2 (rp + cp) / (N E) is the share of the energy in the two tones.
        let (sum, sq) = self.block.iter().fold((0f32, 0f32), |(s, q), &x| (s + x, q + x * x));
        let energy = (sq - sum * sum / BLOCK as f32).max(1.0);
        let share = 2.0 * (rp + cp) / (BLOCK as f32 * energy);
        if share < HIT_SHARE {
            return None;
        }
        let on_frequency = |i: usize, p: f32| self.probes[i].iter().all(|&k| self.power(k) <= p);
        let clean = share >= CLEAN_SHARE
            && r_peak >= CLEAN_RELATIVE_PEAK
            && c_peak >= CLEAN_RELATIVE_PEAK
            && self.power(self.harmonics[c]) <= cp * MAX_HARMONIC
            && on_frequency(r, rp)
            && on_frequency(4 + c, cp);
        Some(Hit { key: KEYS[r][c], power: rp + cp, clean })
    }

    /// Applies the duration rules to one block's outcome; returns a newly pressed key.
    fn track(&mut self, hit: Option<Hit>) -> Option<char> {
        let Some(hit) = hit else {
            self.run = None;
            self.misses = self.misses.saturating_add(1);
            if self.misses >= RELEASE_BLOCKS {
                self.held = None;
            }
            return None;
        };
        let mut run = match self.run {
            Some(run) if run.key == hit.key => {
                Run { blocks: run.blocks.saturating_add(1), clean: run.clean || hit.clean, ..run }
            }
            _ => Run { key: hit.key, blocks: 1, clean: hit.clean, powers: [hit.power; CONFIRM_BLOCKS as usize] },
        };
        run.powers.rotate_left(1);
        run.powers[CONFIRM_BLOCKS as usize - 1] = hit.power;
        self.run = Some(run);
        if self.held == Some(hit.key) {
            self.misses = 0;
            return None;
        }
        self.misses = self.misses.saturating_add(1);
        let (lo, hi) = run.powers.iter().fold((f32::MAX, 0f32), |(lo, hi), &p| (lo.min(p), hi.max(p)));
        if run.blocks >= CONFIRM_BLOCKS && run.clean && hi <= lo * MAX_POWER_SPREAD {
            self.held = Some(hit.key);
            self.misses = 0;
            return Some(hit.key);
        }
        None
    }
}

/// The strongest of a group, its power and how many times the runner-up's, if that is at
/// least `HIT_RELATIVE_PEAK`.
fn winner(group: &[f32]) -> Option<(usize, f32, f32)> {
    let (mut best, mut second) = ((0, 0f32), 0f32);
    for (i, &v) in group.iter().enumerate() {
        if v > best.1 {
            second = best.1;
            best = (i, v);
        } else if v > second {
            second = v;
        }
    }
    let ratio = best.1 / second.max(f32::MIN_POSITIVE);
    (best.1 > 0.0 && ratio >= HIT_RELATIVE_PEAK).then_some((best.0, best.1, ratio))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::Codec;
    use crate::media::g711;

    /// xorshift64: deterministic noise without a rand dependency; uniform in [-1, 1).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    const ALL: &str = "0123456789*#ABCD";

    fn silence(ms: u32) -> Vec<i16> {
        vec![0; ms as usize * 8]
    }

    fn detect(audio: &[i16], chunk: usize) -> String {
        let mut d = InbandDetector::new();
        let mut out = String::new();
        for c in audio.chunks(chunk) {
            d.push(c, |k| out.push(k));
        }
        out
    }

    fn sequence(keys: &str, on_ms: u32, gap_ms: u32, amplitude: i16) -> Vec<i16> {
        let mut a = silence(gap_ms);
        for k in keys.chars() {
            a.extend(tone(k, on_ms, amplitude).unwrap());
            a.extend(silence(gap_ms));
        }
        a
    }

    /// Sum of sines (Hz, peak) for `ms`.
    fn sines(parts: &[(f64, f64)], ms: u32) -> Vec<i16> {
        let n = ms as usize * 8;
        (0..n).map(|i| parts.iter().map(|(f, a)| a * (TAU * f * i as f64 / RATE).sin()).sum::<f64>() as i16).collect()
    }

    #[test]
    fn every_key_is_detected_once() {
        for k in ALL.chars() {
            assert_eq!(detect(&sequence(&k.to_string(), 80, 60, 6000), 160), k.to_string(), "key {k}");
        }
        assert_eq!(detect(&sequence("b", 80, 60, 6000), 160), "B");
        assert!(tone('x', 80, 6000).is_none() && ToneGenerator::new('E', 1).is_none());
    }

    #[test]
    fn sequences_and_repeated_keys() {
        assert_eq!(detect(&sequence("1234#", 70, 60, 5000), 160), "1234#");
        assert_eq!(detect(&sequence("55", 70, 50, 5000), 160), "55", "50 ms pause");
        assert_eq!(detect(&sequence("0*0", 80, 0, 5000), 160), "0*0", "no pause between keys");
        // A 10 ms break inside a press is not a pause (Q.24).
        let mut a = sequence("8", 120, 60, 5000);
        a[880..960].fill(0);
        assert_eq!(detect(&a, 160), "8");
    }

    #[test]
    fn duration_limits_hold_at_every_alignment() {
        for (key, offset) in "6D".chars().flat_map(|k| (0..BLOCK).step_by(5).map(move |o| (k, o))) {
            let with = |ms| [vec![0; offset], tone(key, ms, 6000).unwrap(), silence(60)].concat();
            assert_eq!(detect(&with(41), 160), key.to_string(), "41 ms of {key} at offset {offset}");
            assert_eq!(detect(&with(25), 160), "", "25 ms of {key} at offset {offset}");
            assert_eq!(detect(&with(20), 160), "", "20 ms of {key} at offset {offset}");
            let pause = |ms| [vec![0; offset], tone(key, 80, 6000).unwrap(), silence(ms), tone(key, 80, 6000).unwrap()];
            assert_eq!(detect(&pause(38).concat(), 160).len(), 2, "38 ms pause at offset {offset}");
            assert_eq!(detect(&pause(23).concat(), 160).len(), 1, "23 ms break at offset {offset}");
        }
    }

    #[test]
    fn chunk_size_does_not_matter() {
        let a = sequence("9*0D", 90, 70, 4000);
        assert_eq!(detect(&a, 160), "9*0D");
        assert_eq!(detect(&a, 37), "9*0D");
        assert_eq!(detect(&a, 1), "9*0D");
    }

    #[test]
    fn generator_is_phase_continuous() {
        let whole = tone('3', 100, 7000).unwrap();
        let mut g = ToneGenerator::new('3', 7000).unwrap();
        let mut frames = vec![0i16; 800];
        for f in frames.chunks_mut(160) {
            g.fill(f);
        }
        assert_eq!(whole, frames);
        let peak = whole.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((13_000..=14_000).contains(&peak), "peak {peak}");
    }

    #[test]
    fn detected_in_noise_at_low_level_and_through_g711() {
        let mut rng = Rng(0x1234_5678_9abc_def0);
        for k in ALL.chars() {
            // Two tones of peak 3000 (power 9e6) and uniform noise of peak 520 (9e4): 20 dB.
            let a: Vec<i16> = sequence(&k.to_string(), 80, 60, 3000)
                .iter()
                .map(|&s| (f64::from(s) + rng.next() * 520.0) as i16)
                .collect();
            assert_eq!(detect(&a, 160), k.to_string(), "key {k} in noise");
        }
        assert_eq!(detect(&sequence("3", 80, 60, 1000), 160), "3", "about -27 dBm0");
        assert_eq!(detect(&sequence("3", 80, 60, 150), 160), "", "below -40 dBm0");
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut a = sequence("147*", 60, 60, 1000);
            let mut enc = vec![0u8; a.len()];
            g711::encode_frame(codec, &a, &mut enc);
            g711::decode_frame(codec, &enc, &mut a);
            assert_eq!(detect(&a, 160), "147*", "{codec:?}");
        }
    }

    #[test]
    fn twist_limits() {
        // Normal twist: column weaker than row. Reverse twist: row weaker than column.
        let pair = |row: f64, col: f64| [silence(60), sines(&[(770.0, row), (1336.0, col)], 100), silence(60)].concat();
        assert_eq!(detect(&pair(6000.0, 3000.0), 160), "5", "6 dB normal");
        assert_eq!(detect(&pair(6000.0, 1500.0), 160), "", "12 dB normal");
        assert_eq!(detect(&pair(4200.0, 6000.0), 160), "5", "3 dB reverse");
        assert_eq!(detect(&pair(3000.0, 6000.0), 160), "", "6 dB reverse");
    }

    #[test]
    fn frequency_tolerance() {
        // Q.24: accept tones up to 1.5% off, reject them from 3.5% off.
        for k in ALL.chars() {
            let (r, c) = key_freqs(k).unwrap();
            let pair = |mr: f64, mc: f64| [silence(60), sines(&[(r * mr, 5000.0), (c * mc, 5000.0)], 100)].concat();
            for m in [0.985, 1.015] {
                assert_eq!(detect(&pair(m, m), 160), k.to_string(), "{k} scaled by {m}");
            }
            for (mr, mc) in [(0.965, 1.0), (1.035, 1.0), (1.0, 0.965), (1.0, 1.035), (1.035, 1.035)] {
                assert_eq!(detect(&pair(mr, mc), 160), "", "{k} scaled by {mr}, {mc}");
            }
        }
    }

    #[test]
    fn single_frequencies_silence_and_noise_are_not_keys() {
        for f in FREQS {
            assert_eq!(detect(&sines(&[(f, 8000.0)], 200), 160), "", "{f} Hz");
        }
        // Both tones of a column pair (no row), and a row plus an off-grid tone.
        assert_eq!(detect(&sines(&[(1209.0, 6000.0), (1477.0, 6000.0)], 200), 160), "");
        assert_eq!(detect(&sines(&[(852.0, 6000.0), (1100.0, 6000.0)], 200), 160), "");
        assert_eq!(detect(&silence(1000), 160), "");
        let mut rng = Rng(7);
        let noise: Vec<i16> = (0..16000).map(|_| (rng.next() * 12000.0) as i16).collect();
        assert_eq!(detect(&noise, 160), "");
    }

    /// A voiced sound on a phone line: harmonics (300-3400 Hz) of a gliding, vibrato-
    /// modulated fundamental (Hz, from .0 to .1) shaped by vowel formants (Hz,
    /// bandwidth), with a syllable-rate envelope and a little noise.
    fn voice(ms: u32, f0: (f64, f64), formants: &[(f64, f64)], seed: u64) -> Vec<i16> {
        let mut rng = Rng(seed);
        let mut phase = 0f64;
        (0..ms * 8)
            .map(|i| {
                let t = f64::from(i) / RATE;
                let glide = 0.5 + 0.5 * (TAU * 0.7 * t).sin();
                let f = (f0.0 + (f0.1 - f0.0) * glide) * (1.0 + 0.03 * (TAU * 5.5 * t).sin());
                phase = (phase + TAU * f / RATE) % (TAU * 1000.0); // keeps harmonics exact
                let mut v = 0.0;
                for h in (300.0 / f).ceil() as usize..=(3400.0 / f) as usize {
                    let fh = f * h as f64;
                    let gain: f64 = formants.iter().map(|(fc, bw)| 1.0 / (1.0 + ((fh - fc) / bw).powi(2)).sqrt()).sum();
                    v += (phase * h as f64).sin() * gain / h as f64;
                }
                let envelope = 0.6 + 0.4 * (TAU * 3.0 * t).sin().abs();
                (v * 6000.0 * envelope + rng.next() * 50.0).clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }

    #[test]
    fn voice_like_signals_make_no_digit() {
        let vowels: [&[(f64, f64)]; 5] = [
            &[(730.0, 90.0), (1090.0, 110.0), (2440.0, 160.0)], // a
            &[(270.0, 60.0), (2290.0, 100.0), (3010.0, 150.0)], // i
            &[(300.0, 60.0), (870.0, 80.0), (2240.0, 120.0)],   // u
            &[(530.0, 70.0), (1840.0, 100.0), (2480.0, 150.0)], // e
            &[(700.0, 40.0), (1220.0, 40.0), (2600.0, 150.0)],  // sharp formants on a key pair
        ];
        for (i, formants) in vowels.iter().enumerate() {
            for f0 in [(120.0, 200.0), (100.0, 140.0), (180.0, 260.0)] {
                assert_eq!(detect(&voice(3000, f0, formants, i as u64 + 1), 160), "", "vowel {i} at {f0:?}");
            }
        }
        // Random vowels with sharp formants anywhere in the DTMF range.
        let mut rng = Rng(99);
        let mut u = |lo: f64, hi: f64| lo + (hi - lo) * (rng.next() + 1.0) / 2.0;
        for seed in 0..40 {
            let formants = [(u(250.0, 850.0), u(25.0, 55.0)), (u(800.0, 2400.0), u(25.0, 55.0)), (2500.0, 150.0)];
            let f0 = u(80.0, 280.0);
            let audio = voice(1000, (f0, f0 * u(1.0, 1.5)), &formants, seed);
            assert_eq!(detect(&audio, 160), "", "{formants:?} at {f0} Hz");
        }
    }

    #[test]
    fn harmonic_rich_music_makes_no_digit() {
        // A sawtooth-like dyad F5 + E6 (698.5 and 1318.5 Hz: close to the '2' pair).
        let notes: Vec<(f64, f64)> =
            [698.5, 1318.5].iter().flat_map(|&f| (1..=4).map(move |h| (f * h as f64, 5000.0 / h as f64))).collect();
        assert_eq!(detect(&sines(&notes, 1000), 160), "");
    }
}
