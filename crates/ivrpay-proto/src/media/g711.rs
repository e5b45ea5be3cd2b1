//! ITU-T G.711 µ-law and A-law, the only codecs every phone network speaks.
//!
//! Encoding follows the classic CCITT/Sun reference algorithms: µ-law adds the 0x84 bias to
//! the magnitude and finds the segment from the top bit; A-law works on the 13-bit value
//! with the one's complement of negative samples. Decoding uses 256-entry tables built at
//! compile time, so the per-packet path is a table lookup per sample and never allocates.

use super::codec::Codec;

/// µ-law bias added to the magnitude so every segment starts on a power of two.
const ULAW_BIAS: i32 = 0x84;
/// Largest µ-law magnitude before the bias (8159 in the standard's 14-bit units, times 4).
const ULAW_CLIP: i32 = 32635;
/// A-law alternate-bit inversion: keeps transitions on the line during silence.
const ALAW_INVERT: u8 = 0x55;

/// Encodes one linear sample to µ-law, for the audio ivrpay sends on PCMU calls.
pub fn ulaw_encode(sample: i16) -> u8 {
    let s = i32::from(sample);
    // Sign and magnitude first (the reference does the same), so -1 is a negative zero.
    let (sign, magnitude) = if s < 0 { (0x80, -s) } else { (0, s) };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS; // 132..=32767: top bit 7..=14
    let exponent = 31 - biased.leading_zeros() as i32 - 7;
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Encodes one linear sample to A-law, for the audio ivrpay sends on PCMA calls.
pub fn alaw_encode(sample: i16) -> u8 {
    let s = i32::from(sample) >> 3; // the standard's 13-bit range
    let (mask, magnitude) = if s >= 0 { (0x80 ^ ALAW_INVERT, s) } else { (ALAW_INVERT, -s - 1) };
    // magnitude is 0..=4095: segment 0 and 1 share a step of 2, then each segment doubles.
    let segment = (31 - (magnitude | 1).leading_zeros() as i32 - 4).max(0);
    let mantissa = if segment == 0 { magnitude >> 1 } else { (magnitude >> segment) & 0x0F };
    ((segment << 4) | mantissa) as u8 ^ mask
}

const fn ulaw_decode_const(code: u8) -> i16 {
    let c = !code;
    let exponent = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if c & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_decode_const(code: u8) -> i16 {
    let c = code ^ ALAW_INVERT;
    let segment = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    let magnitude = if segment == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (segment - 1) };
    if c & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const ULAW_TABLE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_decode_const(i as u8);
        i += 1;
    }
    t
};

const ALAW_TABLE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_decode_const(i as u8);
        i += 1;
    }
    t
};

/// Decodes one µ-law byte, for the audio callers send on PCMU calls.
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[code as usize]
}

/// Decodes one A-law byte, for the audio callers send on PCMA calls.
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[code as usize]
}

/// Encodes a whole frame in place of a per-sample codec switch, so the sender's hot loop
/// is one call per packet. `pcm` and `out` should have the same length; only the common
/// prefix is written, so a short buffer never panics.
pub fn encode_frame(codec: Codec, pcm: &[i16], out: &mut [u8]) {
    let encode = match codec {
        Codec::Pcmu => ulaw_encode,
        Codec::Pcma => alaw_encode,
    };
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = encode(s);
    }
}

/// Decodes a whole received payload for the DTMF detector and recordings, without
/// allocating. `payload` and `out` should have the same length; only the common prefix is
/// written.
pub fn decode_frame(codec: Codec, payload: &[u8], out: &mut [i16]) {
    let t = match codec {
        Codec::Pcmu => &ULAW_TABLE,
        Codec::Pcma => &ALAW_TABLE,
    };
    for (o, &c) in out.iter_mut().zip(payload) {
        *o = t[c as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_matches_the_itu_table() {
        // G.711 table 2a, decoded values in 16-bit (the standard's 14-bit values times 4).
        assert_eq!((ulaw_decode(0xFF), ulaw_decode(0x7F)), (0, 0));
        assert_eq!((ulaw_decode(0x00), ulaw_decode(0x80)), (-32124, 32124));
        assert_eq!((ulaw_decode(0xFE), ulaw_decode(0xF0)), (8, 120)); // segment 0: step 2
        assert_eq!((ulaw_decode(0xEF), ulaw_decode(0xDF)), (132, 396)); // 33 and 99
        assert_eq!(ulaw_decode(0x8F), 16764); // 4191, start of the last segment
        assert_eq!((ulaw_encode(0), ulaw_encode(-1)), (0xFF, 0x7F));
        assert_eq!((ulaw_encode(i16::MAX), ulaw_encode(i16::MIN)), (0x80, 0x00));
        // Decision values between segments (14-bit 31, 95, 4063, times 4).
        let q = |s: i16| ulaw_decode(ulaw_encode(s));
        assert_eq!((q(123), q(124)), (120, 132));
        assert_eq!((q(379), q(380)), (372, 396));
        assert_eq!((q(16251), q(16252)), (15996, 16764));
        assert_eq!((q(-123), q(-124)), (-120, -132));
        assert_eq!((q(5), q(4), q(3)), (8, 8, 0)); // 14-bit decision value 1
    }

    #[test]
    fn alaw_matches_the_itu_table() {
        // G.711 table 1a, decoded values in 16-bit (the standard's 13-bit values times 8).
        assert_eq!((alaw_decode(0xD5), alaw_decode(0x55)), (8, -8));
        assert_eq!((alaw_decode(0x2A), alaw_decode(0xAA)), (-32256, 32256));
        assert_eq!((alaw_encode(0), alaw_encode(-1)), (0xD5, 0x55));
        assert_eq!((alaw_encode(i16::MAX), alaw_encode(i16::MIN)), (0xAA, 0x2A));
        // Decision values between segments (13-bit 32, 64, 2048, times 8).
        let q = |s: i16| alaw_decode(alaw_encode(s));
        assert_eq!((q(255), q(256)), (248, 264));
        assert_eq!((q(511), q(512)), (504, 528));
        assert_eq!((q(16383), q(16384)), (16128, 16896));
        assert_eq!((q(-256), q(-257)), (-248, -264));
        assert_eq!((q(15), q(16)), (8, 24)); // 13-bit decision value 2
    }

    #[test]
    fn alaw_even_bits_are_inverted() {
        // Table 1a lists the character signals after inversion: +0 is 1101 0101.
        assert_eq!(alaw_encode(0), 0b1101_0101);
        for c in 0..=255u8 {
            // Without the inversion the code is sign, 3 segment bits, 4 mantissa bits.
            let raw = c ^ 0x55;
            let (seg, m) = (i32::from((raw >> 4) & 7), i32::from(raw & 15));
            let mag = if seg == 0 { 16 * m + 8 } else { (256 + 16 * m + 8) << (seg - 1) };
            assert_eq!(i32::from(alaw_decode(c)), if raw & 0x80 != 0 { mag } else { -mag }, "code {c:#04x}");
        }
    }

    #[test]
    fn every_code_survives_decode_encode() {
        for c in 0..=255u8 {
            let (u, a) = (ulaw_decode(c), alaw_decode(c));
            assert_eq!(ulaw_decode(ulaw_encode(u)), u, "µ-law {c:#04x}");
            assert_eq!(alaw_decode(alaw_encode(a)), a, "A-law {c:#04x}");
            assert_eq!(alaw_encode(a), c, "A-law {c:#04x}");
            assert_eq!(ulaw_encode(u), if c == 0x7F { 0xFF } else { c }, "µ-law {c:#04x}");
        }
    }

    #[test]
    fn decoded_values_are_monotonic_across_segments() {
        // µ-law: 0x00..0x7F run from -32124 up to -0, 0xFF..0x80 from +0 up to 32124.
        let mut u: Vec<i16> = (0..=0x7Fu8).chain((0x80..=0xFFu8).rev()).map(ulaw_decode).collect();
        // A-law: order codes by sign and magnitude before the even-bit inversion.
        let mut a: Vec<i16> = (0..=0x7Fu8).rev().chain(0x80..=0xFF).map(|raw| alaw_decode(raw ^ ALAW_INVERT)).collect();
        for v in [&mut u, &mut a] {
            v.dedup(); // µ-law has two zeros
            assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
        }
        let (mut lu, mut la) = (i16::MIN, i16::MIN);
        for s in i16::MIN..=i16::MAX {
            let (qu, qa) = (ulaw_decode(ulaw_encode(s)), alaw_decode(alaw_encode(s)));
            assert!(qu >= lu && qa >= la, "at {s}");
            (lu, la) = (qu, qa);
        }
    }

    #[test]
    fn quantisation_error_is_within_half_a_step() {
        for s in -32000i32..32000 {
            let m = s.abs();
            let eu = (i32::from(ulaw_decode(ulaw_encode(s as i16))) - s).abs();
            let ea = (i32::from(alaw_decode(alaw_encode(s as i16))) - s).abs();
            // Steps are 8 (µ) / 16 (A) in the first segments and double per segment.
            assert!(eu <= ((m + 132) / 32).max(4), "µ-law {s} error {eu}");
            assert!(ea <= (m / 32).max(8), "A-law {s} error {ea}");
        }
    }

    #[test]
    fn frames_round_trip() {
        let pcm: Vec<i16> = (0..160).map(|i| ((i as f32 * 0.3).sin() * 12000.0) as i16).collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let (mut enc, mut dec) = ([0u8; 160], [0i16; 160]);
            encode_frame(codec, &pcm, &mut enc);
            decode_frame(codec, &enc, &mut dec);
            assert!(pcm.iter().zip(dec).all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() <= 256));
        }
        let mut short = [0x11u8; 4];
        encode_frame(Codec::Pcma, &[0, 0], &mut short);
        assert_eq!(short, [0xD5, 0xD5, 0x11, 0x11]);
    }
}
