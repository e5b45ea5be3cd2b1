//! Reading prompt recordings: `<dir>/<lang>/<name>.wav`, any PCM or float WAV converted
//! to 8 kHz mono (refused with the file named otherwise), into the sans-IO
//! [`PromptLibrary`] of `ivrpay_proto::ivr::prompts` (re-exported here). A prompt missing
//! in one language falls back to the default language (with a warning at load).

use super::wav::WavError;
pub use ivrpay_proto::ivr::prompts::{Prompt, PromptLibrary};
use std::path::{Path, PathBuf};

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

/// Loads every `<dir>/<lang>/*.wav`. Fails naming each unreadable file.
pub fn load(dir: &Path, default_language: &str) -> Result<PromptLibrary, PromptError> {
    let (lib, mut errors) = load_all(dir, default_language)?;
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
    let mut lib = PromptLibrary::in_dir(dir, default_language);
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
    if lib.names(default_language).is_empty() {
        errors.push(PromptError::NoDefaultLanguage { dir: dir.to_path_buf(), lang: default_language.to_string() });
    } else {
        warn_missing(&lib, dir);
    }
    Ok((lib, errors))
}

/// Warns about prompts a language lacks: those its manifest lists (each language
/// says different words, so French-only fragments are not missing in English), or,
/// without a manifest, those the default language has.
fn warn_missing(lib: &PromptLibrary, dir: &Path) {
    for lang in lib.languages() {
        let expected: Vec<String> = match super::manifest::Manifest::load(dir, lang) {
            Ok(m) => m.entries.into_iter().map(|e| e.name).collect(),
            Err(e) => {
                if !matches!(e, super::manifest::ManifestError::Io { .. }) {
                    tracing::warn!(error = %e, "prompt manifest unreadable");
                }
                lib.names(lib.default_language()).into_iter().map(str::to_string).collect()
            }
        };
        for name in expected.iter().filter(|n| !lib.has(lang, n)) {
            tracing::warn!(%lang, prompt = %name, "prompt missing; the default language's recording will play");
        }
    }
}

/// Reads any PCM or float WAV file and returns 8 kHz mono 16-bit samples (see
/// [`super::wav::read_wav`], which does the decoding), naming the file in the error.
pub fn read_wav_8k_mono(path: &Path) -> Result<Vec<i16>, PromptError> {
    let file = std::fs::File::open(path)
        .map_err(|e| PromptError::BadWav { path: path.to_path_buf(), reason: e.to_string() })?;
    super::wav::read_wav(std::io::BufReader::new(file)).map_err(|e| match e {
        WavError::Bad(reason) => PromptError::BadWav { path: path.to_path_buf(), reason },
        WavError::Unsupported(reason) => PromptError::Unsupported { path: path.to_path_buf(), reason },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ivrpay_proto::media::codec::Codec;

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
        let lib = crate::ivr::prompts::load(&dir, "fr").unwrap();
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
        let err = crate::ivr::prompts::load(&dir, "fr").unwrap_err().to_string();
        assert!(err.contains("broken.wav"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
