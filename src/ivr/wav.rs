//! Decoding a WAV recording from any reader into 8 kHz mono 16-bit samples, apart from
//! the files it usually comes from: the prompt loader reads files, the extranet reads
//! uploads, and the fuzzer (fuzz/fuzz_targets/wav.rs, which compiles this file on its
//! own) feeds arbitrary bytes. Knows nothing of paths; the callers name the file.

use ivrpay_proto::media::codec::CLOCK_RATE;
use std::io::Read;

/// Why a WAV stream was refused; the caller adds the file it came from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WavError {
    /// hound could not read the stream as WAV (truncated, bad header...).
    #[error("{0}")]
    Bad(String),
    /// The WAV is readable but its format cannot be converted.
    #[error("{0}")]
    Unsupported(String),
}

/// Reads any PCM or float WAV and returns 8 kHz mono 16-bit samples: channels are
/// averaged and other rates resampled (linear interpolation after a moving-average
/// low-pass when downsampling, adequate for speech prompts).
pub fn read_wav<R: Read>(reader: R) -> Result<Vec<i16>, WavError> {
    let bad = |e: hound::Error| WavError::Bad(e.to_string());
    let reader = hound::WavReader::new(reader).map_err(bad)?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.channels > 8 {
        return Err(WavError::Unsupported(format!("{} channels", spec.channels)));
    }
    if !(4000..=192_000).contains(&spec.sample_rate) {
        return Err(WavError::Unsupported(format!("sample rate {} Hz (expected 8000)", spec.sample_rate)));
    }
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(bad)?,
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader.into_samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>().map_err(bad)?
        }
        (fmt, bits) => return Err(WavError::Unsupported(format!("{fmt:?} samples of {bits} bits"))),
    };
    let ch = spec.channels as usize;
    let mono: Vec<f32> = samples.chunks_exact(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect();
    if mono.is_empty() {
        return Err(WavError::Unsupported("no audio samples".to_string()));
    }
    let resampled = resample(&mono, spec.sample_rate, CLOCK_RATE);
    if resampled.is_empty() {
        // A few samples at a high rate resample to none (found by fuzzing).
        return Err(WavError::Unsupported("shorter than one sample at 8000 Hz".to_string()));
    }
    Ok(resampled.into_iter().map(|v| (v * 32767.0).clamp(-32768.0, 32767.0) as i16).collect())
}

fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to {
        return input.to_vec();
    }
    let filtered: Vec<f32> = if from > to {
        // Box filter as wide as the decimation ratio: removes most energy above the new
        // Nyquist frequency, which is what matters for intelligible speech.
        let w = (from as f32 / to as f32).round().max(1.0) as usize;
        let mut acc = 0.0f32;
        let mut out = Vec::with_capacity(input.len());
        for i in 0..input.len() {
            acc += input[i];
            if i >= w {
                acc -= input[i - w];
            }
            out.push(acc / w.min(i + 1) as f32);
        }
        out
    } else {
        input.to_vec()
    };
    let out_len = (input.len() as u64 * to as u64 / from as u64) as usize;
    let step = from as f64 / to as f64;
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let j = pos.floor() as usize;
            let frac = (pos - j as f64) as f32;
            let a = filtered[j.min(filtered.len() - 1)];
            let b = filtered[(j + 1).min(filtered.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav_bytes(rate: u32, channels: u16, n: usize) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for i in 0..n * channels as usize {
            w.write_sample(((i as f32 * 0.05).sin() * 1000.0) as i16).unwrap();
        }
        w.finalize().unwrap();
        out.into_inner()
    }

    #[test]
    fn reads_from_memory_converting_rate_and_channels() {
        assert_eq!(read_wav(Cursor::new(wav_bytes(8000, 1, 800))).unwrap().len(), 800);
        assert_eq!(read_wav(Cursor::new(wav_bytes(16000, 2, 1600))).unwrap().len(), 800);
        assert!(matches!(read_wav(Cursor::new(wav_bytes(2000, 1, 10))), Err(WavError::Unsupported(_))));
        assert!(matches!(read_wav(Cursor::new(b"RIFF....not a wav".to_vec())), Err(WavError::Bad(_))));
    }

    #[test]
    fn a_recording_too_short_to_leave_one_sample_at_8000_hz_is_refused() {
        // From the fuzzer: one float sample at 44.1 kHz resampled to nothing and was
        // accepted as an empty prompt.
        let found = include_bytes!("../../fuzz/corpus/wav/crash-ebdf0e98");
        assert!(matches!(read_wav(Cursor::new(found.to_vec())), Err(WavError::Unsupported(_))));
        assert!(matches!(read_wav(Cursor::new(wav_bytes(44100, 1, 2))), Err(WavError::Unsupported(_))));
    }
}
