//! Voice prompts: WAV files read once at load, converted to 8 kHz mono, and encoded once
//! per codec, so every call plays shared bytes and no call ever transcodes.
//!
//! Layout: `<dir>/<lang>/<name>.wav`. A prompt missing in one language falls back to the
//! default language (with a warning at load), never to silence.

use crate::media::clip::Clip;
use crate::media::codec::{Codec, CLOCK_RATE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a prompt or a prompt directory was refused; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The directory (or file) that could not be read.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// hound could not read the file as WAV.
    #[error("{path}: not a readable WAV file: {reason}")]
    BadWav {
        /// The recording at fault.
        path: PathBuf,
        /// hound's explanation (truncated file, bad header...).
        reason: String,
    },
    /// The WAV is readable but its format cannot be converted.
    #[error("{path}: unsupported audio: {reason}")]
    Unsupported {
        /// The recording at fault.
        path: PathBuf,
        /// What cannot be converted (channel count, sample rate, sample format).
        reason: String,
    },
    /// The default language has no prompts at all.
    #[error("{dir}: no prompts for the default language '{lang}'")]
    NoDefaultLanguage {
        /// The prompts directory.
        dir: PathBuf,
        /// The configured default language, whose prompts every call falls back to.
        lang: String,
    },
    /// Several files were refused: each one, one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<PromptError>),
}

impl PromptError {
    /// Each single problem (a `Several` opened up).
    pub fn into_problems(self) -> Vec<PromptError> {
        match self {
            PromptError::Several(v) => v.into_iter().flat_map(PromptError::into_problems).collect(),
            other => vec![other],
        }
    }
}

/// One prompt, ready to play on any call.
#[derive(Debug)]
pub struct Prompt {
    /// Name (file stem).
    pub name: String,
    /// Language it was recorded in.
    pub language: String,
    /// 8 kHz mono samples (kept for tests and for the browser player).
    pub pcm: Vec<i16>,
    /// The encoded audio the pacer plays.
    clip: Arc<Clip>,
}

impl Prompt {
    /// Builds a prompt from 8 kHz mono samples, encoding both G.711 laws once.
    pub fn from_pcm(name: &str, language: &str, pcm: Vec<i16>) -> Prompt {
        let clip = Arc::new(Clip::from_pcm(&pcm));
        Prompt { name: name.to_string(), language: language.to_string(), pcm, clip }
    }

    /// The encoded payload bytes for a codec (one byte per sample).
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        self.clip.encoded(codec)
    }

    /// The encoded audio, as the pacer takes it.
    pub fn clip(&self) -> &Arc<Clip> {
        &self.clip
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.pcm.len() as u64 * 1000 / CLOCK_RATE as u64
    }
}

/// All prompts of all languages.
#[derive(Clone, Debug, Default)]
pub struct PromptLibrary {
    by_lang: BTreeMap<String, BTreeMap<String, Arc<Prompt>>>,
    default_language: String,
    /// Where the recordings were read from, so a missing one can be named by its file.
    dir: PathBuf,
}

impl PromptLibrary {
    /// Loads every `<dir>/<lang>/*.wav`. Fails naming each unreadable file.
    pub fn load(dir: &Path, default_language: &str) -> Result<PromptLibrary, PromptError> {
        let (lib, mut errors) = Self::load_all(dir, default_language)?;
        match errors.len() {
            0 => Ok(lib),
            1 => Err(errors.remove(0)),
            _ => Err(PromptError::Several(errors)),
        }
    }

    /// Loads every readable `<dir>/<lang>/*.wav` and returns the files refused beside
    /// the library, so `ivrpay check` can go on to check the dialplans and report every
    /// problem at once. Fails only when the directory cannot be used at all.
    pub fn load_all(dir: &Path, default_language: &str) -> Result<(PromptLibrary, Vec<PromptError>), PromptError> {
        let io = |path: &Path, source| PromptError::Io { path: path.to_path_buf(), source };
        let mut errors = Vec::new();
        let mut lib = PromptLibrary {
            by_lang: BTreeMap::new(),
            default_language: default_language.to_string(),
            dir: dir.to_path_buf(),
        };
        let mut langs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        langs.sort();
        for lang_dir in langs {
            let lang = lang_dir.file_name().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&lang_dir)
                .map_err(|e| io(&lang_dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
                .collect();
            files.sort();
            for file in files {
                let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                match read_wav_8k_mono(&file) {
                    Ok(pcm) => lib.insert(Prompt::from_pcm(&name, &lang, pcm)),
                    Err(e) => errors.push(e),
                }
            }
        }
        if lib.by_lang.get(default_language).is_none_or(|m| m.is_empty()) {
            errors.push(PromptError::NoDefaultLanguage { dir: dir.to_path_buf(), lang: default_language.to_string() });
        } else {
            lib.warn_missing(dir);
        }
        Ok((lib, errors))
    }

    /// An empty library whose fallback is `default_language`, filled with
    /// [`insert`](Self::insert) (tests, tools building prompts in memory).
    pub fn empty(default_language: &str) -> PromptLibrary {
        PromptLibrary { default_language: default_language.to_string(), ..PromptLibrary::default() }
    }

    /// The directory the recordings were read from (empty for a library built in memory).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Warns about prompts a language lacks: those its manifest lists (each language
    /// says different words, so French-only fragments are not missing in English), or,
    /// without a manifest, those the default language has.
    fn warn_missing(&self, dir: &Path) {
        for (lang, prompts) in &self.by_lang {
            let expected: Vec<String> = match super::manifest::Manifest::load(dir, lang) {
                Ok(m) => m.entries.into_iter().map(|e| e.name).collect(),
                Err(e) => {
                    if !matches!(e, super::manifest::ManifestError::Io { .. }) {
                        tracing::warn!(error = %e, "prompt manifest unreadable");
                    }
                    self.by_lang[&self.default_language].keys().cloned().collect()
                }
            };
            for name in expected.iter().filter(|n| !prompts.contains_key(*n)) {
                tracing::warn!(%lang, prompt = %name, "prompt missing; the default language's recording will play");
            }
        }
    }

    /// Adds or replaces a prompt (operators upload replacements at run time).
    pub fn insert(&mut self, prompt: Prompt) {
        self.by_lang.entry(prompt.language.clone()).or_default().insert(prompt.name.clone(), Arc::new(prompt));
    }

    /// The prompt in `lang`, else in the default language.
    pub fn get(&self, lang: &str, name: &str) -> Option<Arc<Prompt>> {
        self.by_lang
            .get(lang)
            .and_then(|m| m.get(name))
            .or_else(|| self.by_lang.get(&self.default_language).and_then(|m| m.get(name)))
            .cloned()
    }

    /// Whether `name` is recorded in `lang` itself (without falling back).
    pub fn has(&self, lang: &str, name: &str) -> bool {
        self.by_lang.get(lang).is_some_and(|m| m.contains_key(name))
    }

    /// Whether `name` is recorded in the default language, which every other language
    /// falls back to: a flow may name it without ever playing silence.
    pub fn has_default(&self, name: &str) -> bool {
        self.has(&self.default_language, name)
    }

    /// Languages that have at least one prompt.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.by_lang.keys().map(String::as_str)
    }

    /// The language used when a call has not chosen one.
    pub fn default_language(&self) -> &str {
        &self.default_language
    }

    /// Names of the prompts in a language.
    pub fn names(&self, lang: &str) -> Vec<&str> {
        self.by_lang.get(lang).map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
    }
}

/// Reads any PCM or float WAV and returns 8 kHz mono 16-bit samples: channels are
/// averaged and other rates resampled (linear interpolation after a moving-average
/// low-pass when downsampling, adequate for speech prompts).
pub fn read_wav_8k_mono(path: &Path) -> Result<Vec<i16>, PromptError> {
    let bad = |reason: String| PromptError::BadWav { path: path.to_path_buf(), reason };
    let unsupported = |reason: String| PromptError::Unsupported { path: path.to_path_buf(), reason };
    let reader = hound::WavReader::open(path).map_err(|e| bad(e.to_string()))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.channels > 8 {
        return Err(unsupported(format!("{} channels", spec.channels)));
    }
    if !(4000..=192_000).contains(&spec.sample_rate) {
        return Err(unsupported(format!("sample rate {} Hz (expected 8000)", spec.sample_rate)));
    }
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(|e| bad(e.to_string()))?
        }
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?
        }
        (fmt, bits) => return Err(unsupported(format!("{fmt:?} samples of {bits} bits"))),
    };
    let ch = spec.channels as usize;
    let mono: Vec<f32> = samples.chunks_exact(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect();
    if mono.is_empty() {
        return Err(unsupported("no audio samples".to_string()));
    }
    let resampled = resample(&mono, spec.sample_rate, CLOCK_RATE);
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

    fn write_wav(path: &Path, rate: u32, channels: u16, bits: u16, n: usize) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..n * channels as usize {
            let v = ((i as f32 * 0.05).sin() * 1000.0) as i32;
            w.write_sample(if bits == 8 { v / 256 } else { v }).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn converts_rates_and_channels_and_falls_back_to_default_language() {
        let dir = std::env::temp_dir().join(format!("ivrpay-prompts-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("fr")).unwrap();
        std::fs::create_dir_all(dir.join("en")).unwrap();
        write_wav(&dir.join("fr/hello.wav"), 8000, 1, 16, 8000);
        write_wav(&dir.join("fr/stereo16k.wav"), 16000, 2, 16, 16000);
        write_wav(&dir.join("en/eight_bit.wav"), 8000, 1, 8, 800);
        let lib = PromptLibrary::load(&dir, "fr").unwrap();
        assert_eq!(lib.get("fr", "hello").unwrap().pcm.len(), 8000);
        assert_eq!(lib.get("fr", "stereo16k").unwrap().pcm.len(), 8000);
        assert_eq!(lib.get("en", "eight_bit").unwrap().pcm.len(), 800);
        let fallback = lib.get("en", "hello").unwrap();
        assert_eq!(fallback.language, "fr");
        assert_eq!(fallback.encoded(Codec::Pcmu).len(), 8000);
        assert!(lib.get("en", "nothing").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_a_broken_file_naming_it() {
        let dir = std::env::temp_dir().join(format!("ivrpay-badprompts-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("fr")).unwrap();
        std::fs::write(dir.join("fr/broken.wav"), b"RIFF....not a wav").unwrap();
        let err = PromptLibrary::load(&dir, "fr").unwrap_err().to_string();
        assert!(err.contains("broken.wav"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
