use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 20001) as f32 / 10000.0 - 1.0
    }
}

fn silence(ms: u32) -> Vec<i16> {
    vec![0; (ms * 8) as usize]
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

#[test]
fn every_key_is_detected_once() {
    for k in "0123456789*#ABCD".chars() {
        assert_eq!(detect(&sequence(&k.to_string(), 80, 60, 6000), 160), k.to_string(), "key {k}");
    }
}

#[test]
fn a_sequence_and_a_repeated_key_with_short_gaps() {
    assert_eq!(detect(&sequence("1234#", 70, 60, 5000), 160), "1234#");
    assert_eq!(detect(&sequence("55", 70, 50, 5000), 160), "55");
}

#[test]
fn chunk_size_does_not_matter() {
    let a = sequence("9*0", 90, 70, 4000);
    assert_eq!(detect(&a, 160), detect(&a, 37));
    assert_eq!(detect(&a, 1), "9*0");
}

#[test]
fn detected_in_noise_and_at_low_level() {
    let mut a = sequence("7", 100, 80, 3000);
    let mut rng = Rng(0x1234_5678);
    for s in a.iter_mut() {
        // White noise about 20 dB below the tones.
        *s = (*s as f32 + rng.next() * 520.0) as i16;
    }
    assert_eq!(detect(&a, 160), "7");
    assert_eq!(detect(&sequence("3", 100, 80, 1000), 160), "3");
}

#[test]
fn short_bursts_twisted_tones_and_single_frequencies_are_not_keys() {
    assert_eq!(detect(&sequence("5", 20, 80, 6000), 160), "", "20 ms burst");
    // 12 dB twist: column tone at a quarter of the row tone's amplitude.
    let twisted: Vec<i16> = (0..800)
        .map(|i| {
            let t = i as f32 / 8000.0;
            (6000.0 * (2.0 * PI * 770.0 * t).sin() + 1500.0 * (2.0 * PI * 1336.0 * t).sin()) as i16
        })
        .collect();
    assert_eq!(detect(&twisted, 160), "");
    let single: Vec<i16> = (0..800).map(|i| (8000.0 * (2.0 * PI * 852.0 * i as f32 / 8000.0).sin()) as i16).collect();
    assert_eq!(detect(&single, 160), "");
    assert_eq!(detect(&silence(1000), 160), "");
}

#[test]
fn voice_like_signal_makes_no_digit() {
    // A vowel: a 120-200 Hz gliding fundamental with 30 harmonics and vibrato.
    let mut phase = 0f32;
    let mut rng = Rng(42);
    let voice: Vec<i16> = (0..8000 * 4)
        .map(|i| {
            let t = i as f32 / 8000.0;
            let f0 = 160.0 + 40.0 * (2.0 * PI * 0.5 * t).sin() + 5.0 * (2.0 * PI * 6.0 * t).sin();
            phase += 2.0 * PI * f0 / 8000.0;
            let mut v = 0.0;
            for h in 1..=30 {
                v += (phase * h as f32).sin() * 3000.0 / h as f32;
            }
            (v + rng.next() * 100.0).clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    assert_eq!(detect(&voice, 160), "");
}
