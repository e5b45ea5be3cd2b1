//! ITU-T G.711 µ-law and A-law, the only codecs every phone network speaks.
//!
//! Encoding follows the classic reference algorithm (segment search with a bias for
//! µ-law); decoding uses 256-entry tables computed at compile time, so the per-packet
//! path is one table lookup per sample and never allocates.

use super::codec::Codec;

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encodes one linear sample to µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(ULAW_CLIP) + ULAW_BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

const fn ulaw_decode_const(code: u8) -> i16 {
    let c = !code;
    let sign = c & 0x80;
    let exponent = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one linear sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s >= 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s - 1; // one's complement magnitude, as the reference does
    }
    s = s.min(32767);
    let code = if s < 256 {
        (s >> 4) as u8
    } else {
        let mut exponent = 7;
        let mut mask = 0x4000;
        while s & mask == 0 {
            exponent -= 1;
            mask >>= 1;
        }
        let mantissa = (s >> (exponent + 3)) & 0x0F;
        ((exponent << 4) | mantissa) as u8
    };
    // Even bits inverted (XOR 0x55) so idle lines carry transitions.
    (code | sign) ^ 0x55
}

const fn alaw_decode_const(code: u8) -> i16 {
    let c = code ^ 0x55;
    let sign = c & 0x80;
    let exponent = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    let magnitude = if exponent == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (exponent - 1) };
    if sign != 0 {
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

/// Decodes one µ-law byte.
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[code as usize]
}

/// Decodes one A-law byte.
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[code as usize]
}

/// Encodes a frame; `pcm` and `out` have the same length (extra elements are ignored).
pub fn encode_frame(codec: Codec, pcm: &[i16], out: &mut [u8]) {
    let f = match codec {
        Codec::Pcmu => ulaw_encode,
        Codec::Pcma => alaw_encode,
    };
    for (o, s) in out.iter_mut().zip(pcm) {
        *o = f(*s);
    }
}

/// Decodes a frame; `payload` and `out` have the same length (extra elements ignored).
pub fn decode_frame(codec: Codec, payload: &[u8], out: &mut [i16]) {
    let t = match codec {
        Codec::Pcmu => &ULAW_TABLE,
        Codec::Pcma => &ALAW_TABLE,
    };
    for (o, c) in out.iter_mut().zip(payload) {
        *o = t[*c as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_matches_the_itu_table() {
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0x80), 32124);
        // Segment boundaries of G.711 table 2a (decoded magnitudes).
        // Segment starts (14-bit values 33, 99, 4191 of table 2a, times 4).
        assert_eq!(ulaw_decode(0xEF), 132);
        assert_eq!(ulaw_decode(0xDF), 396);
        assert_eq!(ulaw_decode(0x8F), 16764);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
    }

    #[test]
    fn alaw_matches_the_itu_table() {
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        // First segment boundary: magnitudes 0..255 share step 16.
        assert_eq!(alaw_decode(alaw_encode(255)), 248);
        assert_eq!(alaw_decode(alaw_encode(256)), 264);
    }

    #[test]
    fn decode_encode_is_stable_for_every_code() {
        for c in 0..=255u8 {
            let u = ulaw_decode(c);
            assert_eq!(ulaw_decode(ulaw_encode(u)), u, "µ-law code {c:#x}");
            let a = alaw_decode(c);
            assert_eq!(alaw_decode(alaw_encode(a)), a, "A-law code {c:#x}");
        }
    }

    #[test]
    fn decoded_values_are_monotonic_in_the_input() {
        let mut last_u = i16::MIN;
        let mut last_a = i16::MIN;
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let u = ulaw_decode(ulaw_encode(s));
            let a = alaw_decode(alaw_encode(s));
            assert!(u >= last_u && a >= last_a, "at {s}");
            last_u = u;
            last_a = a;
        }
    }

    #[test]
    fn quantisation_error_stays_within_half_a_step() {
        for s in (-32000i32..32000).step_by(13) {
            let s = s as i16;
            let err_u = (ulaw_decode(ulaw_encode(s)) as i32 - s as i32).abs();
            let err_a = (alaw_decode(alaw_encode(s)) as i32 - s as i32).abs();
            let mag = (s as i32).abs();
            // Step size doubles per segment; the error is at most half of it.
            assert!(err_u <= (mag / 16).max(4) + 4, "µ-law {s} err {err_u}");
            assert!(err_a <= (mag / 16).max(8) + 8, "A-law {s} err {err_a}");
        }
    }

    #[test]
    fn frames_round_trip() {
        let pcm: Vec<i16> = (0..160).map(|i| ((i as f32 * 0.3).sin() * 12000.0) as i16).collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut enc = [0u8; 160];
            let mut dec = [0i16; 160];
            encode_frame(codec, &pcm, &mut enc);
            decode_frame(codec, &enc, &mut dec);
            for (a, b) in pcm.iter().zip(dec.iter()) {
                assert!((*a as i32 - *b as i32).abs() < 800);
            }
        }
    }
}
