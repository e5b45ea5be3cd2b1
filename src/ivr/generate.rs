//! Stand-in recordings from the manifest text, synthesized with espeak-ng, so a language
//! (or a new prompt) is playable before a voice talent records it; an operator's real
//! recording simply replaces the file.
//!
//! Each prompt is spoken by `espeak-ng`, read back with the same converter the prompt
//! library uses (8 kHz mono), trimmed to [`KEEP_SILENCE_MS`] of silence at each end so
//! fragments said one after the other ("vingt et un" + "euros") run together without
//! gaps, and normalised so every prompt plays at the loudness of the shipped recordings.
//! Files are written through a temporary name, so an interrupted run never leaves a
//! half-written WAV that would count as recorded.

use super::manifest::{self, Manifest, ManifestEntry, ManifestError};
use super::prompts::{read_wav_8k_mono, PromptError};
use crate::media::codec::CLOCK_RATE;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The synthesizer looked up in `PATH` unless another is given.
pub const DEFAULT_ESPEAK: &str = "espeak-ng";

/// Words per minute: a little slower than espeak-ng's 175, as people read numbers to a
/// caller; the pace of the shipped digit recordings.
pub const SPEAKING_RATE_WPM: u32 = 165;

/// Silence kept before and after speech: enough not to clip a soft onset, short enough
/// that two fragments sound like one phrase.
pub const KEEP_SILENCE_MS: usize = 25;

/// RMS of the speech parts of a prompt after normalising (about −17.4 dBFS): the level of
/// the recordings shipped in `prompts/`, so generated and recorded prompts match.
pub const TARGET_SPEECH_RMS: f32 = 4400.0;

/// The highest sample after normalising (about −1 dBFS): a peaky word is made quieter
/// rather than clipped.
pub const PEAK_LIMIT: f32 = 29_000.0;

/// Why generation stopped; each names the file, prompt or program at fault.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A manifest could not be read or is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The synthesizer cannot be started.
    #[error(
        "cannot run '{program}' ({source}): espeak-ng is needed to generate prompts; \
         install it (apt-get install espeak-ng) or give its path with --espeak"
    )]
    EspeakMissing {
        /// The program we tried to run (`espeak-ng`, or the `--espeak` path).
        program: PathBuf,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// The synthesizer ran but failed for one prompt.
    #[error("{manifest}:{line}: espeak-ng failed for '{name}' ({status}): {stderr}")]
    EspeakFailed {
        /// The manifest that asked for the prompt.
        manifest: PathBuf,
        /// Line of the prompt's entry in it.
        line: usize,
        /// Prompt name (the WAV file's stem).
        name: String,
        /// Exit status, as the system reports it.
        status: String,
        /// What espeak-ng printed, which usually names the bad voice or text.
        stderr: String,
    },
    /// The synthesizer produced only silence for a prompt.
    #[error("{manifest}:{line}: espeak-ng produced no speech for '{name}'")]
    Silent {
        /// The manifest that asked for the prompt.
        manifest: PathBuf,
        /// Line of the prompt's entry in it.
        line: usize,
        /// Prompt name (the WAV file's stem).
        name: String,
    },
    /// The synthesizer's WAV could not be read.
    #[error("reading espeak-ng output: {0}")]
    Output(#[from] PromptError),
    /// A file could not be written or renamed.
    #[error("{path}: {reason}")]
    Write {
        /// The file being written or renamed into place.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// No language to work on.
    #[error("{dir}: no <lang>/{file} found", file = manifest::MANIFEST_FILE)]
    NoManifest {
        /// The prompts directory that was searched.
        dir: PathBuf,
    },
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// The prompts directory (`<dir>/<lang>/manifest.toml`, `<dir>/<lang>/<name>.wav`).
    pub dir: PathBuf,
    /// Languages to work on; empty means every language with a manifest.
    pub languages: Vec<String>,
    /// Regenerate prompts that already have a recording (replacing it).
    pub force: bool,
    /// The espeak-ng program.
    pub espeak: PathBuf,
}

/// One file written.
#[derive(Clone, Debug)]
pub struct Generated {
    /// Language code.
    pub language: String,
    /// Prompt name.
    pub name: String,
    /// The WAV written.
    pub path: PathBuf,
    /// What it says.
    pub text: String,
    /// Its length after trimming.
    pub duration_ms: u64,
}

/// What happened in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LanguageSummary {
    /// Language code.
    pub language: String,
    /// Prompts synthesized and written.
    pub generated: usize,
    /// Prompts left alone because a recording exists.
    pub kept: usize,
}

/// The espeak-ng voice for a prompt language: American English for `en`, the code
/// itself otherwise (espeak-ng names its voices by language code).
pub fn espeak_voice(lang: &str) -> &str {
    match lang {
        "en" => "en-us",
        other => other,
    }
}

/// Generates every manifest prompt without a recording (all of them with `force`),
/// calling `on_file` after each file is written. Every manifest is checked before
/// anything is synthesized, and espeak-ng is only required when there is work to do.
pub fn generate(opts: &Options, mut on_file: impl FnMut(&Generated)) -> Result<Vec<LanguageSummary>, GenerateError> {
    let languages = if opts.languages.is_empty() { manifest::languages(&opts.dir)? } else { opts.languages.clone() };
    if languages.is_empty() {
        return Err(GenerateError::NoManifest { dir: opts.dir.clone() });
    }
    let manifests: Vec<Manifest> = languages.iter().map(|l| Manifest::load(&opts.dir, l)).collect::<Result<_, _>>()?;
    let mut plan: Vec<(&Manifest, Vec<&ManifestEntry>)> = Vec::new();
    for m in &manifests {
        let todo = if opts.force { m.entries.iter().collect() } else { m.missing_in(&opts.dir)? };
        plan.push((m, todo));
    }
    if plan.iter().any(|(_, todo)| !todo.is_empty()) {
        check_espeak(&opts.espeak)?;
    }
    let mut summaries = Vec::new();
    for (m, todo) in plan {
        for entry in &todo {
            let pcm = tidy(synthesize(&opts.espeak, m, entry)?);
            if pcm.is_empty() {
                return Err(GenerateError::Silent {
                    manifest: m.path.clone(),
                    line: entry.line,
                    name: entry.name.clone(),
                });
            }
            let path = opts.dir.join(&m.language).join(format!("{}.wav", entry.name));
            write_wav(&path, &pcm)?;
            on_file(&Generated {
                language: m.language.clone(),
                name: entry.name.clone(),
                path,
                text: entry.text.clone(),
                duration_ms: pcm.len() as u64 * 1000 / CLOCK_RATE as u64,
            });
        }
        summaries.push(LanguageSummary {
            language: m.language.clone(),
            generated: todo.len(),
            kept: m.entries.len() - todo.len(),
        });
    }
    Ok(summaries)
}

fn check_espeak(program: &Path) -> Result<(), GenerateError> {
    let missing = |source| GenerateError::EspeakMissing { program: program.to_path_buf(), source };
    let out = Command::new(program).arg("--version").stdin(Stdio::null()).output().map_err(missing)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(missing(std::io::Error::other(format!("'--version' exited with {}", out.status))))
    }
}

/// Speaks one entry into a temporary WAV and returns it as 8 kHz mono samples.
fn synthesize(program: &Path, m: &Manifest, entry: &ManifestEntry) -> Result<Vec<i16>, GenerateError> {
    let tmp = TempFile(std::env::temp_dir().join(format!(
        "ivrpay-tts-{}-{}-{}.wav",
        std::process::id(),
        m.language,
        entry.name
    )));
    let failed = |status: String, stderr: String| GenerateError::EspeakFailed {
        manifest: m.path.clone(),
        line: entry.line,
        name: entry.name.clone(),
        status,
        stderr,
    };
    // The text goes through stdin (never argv), so a text starting with '-' is not an option.
    let mut child = Command::new(program)
        .args(["-v", espeak_voice(&m.language), "-s", &SPEAKING_RATE_WPM.to_string(), "-b", "1", "-z", "-w"])
        .arg(&tmp.0)
        .arg("--stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| GenerateError::EspeakMissing { program: program.to_path_buf(), source })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(entry.tts_text().as_bytes()).map_err(|e| failed("writing the text".into(), e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| failed("waiting".into(), e.to_string()))?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() || !tmp.0.is_file() {
        return Err(failed(out.status.to_string(), stderr));
    }
    Ok(read_wav_8k_mono(&tmp.0)?)
}

/// Removes the synthesizer's temporary file however synthesis ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes 8 kHz mono 16-bit PCM through `<path>.part` and a rename.
fn write_wav(path: &Path, pcm: &[i16]) -> Result<(), GenerateError> {
    let part = path.with_extension("wav.part");
    let fail = |p: &Path, reason: String| GenerateError::Write { path: p.to_path_buf(), reason };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail(parent, e.to_string()))?;
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: CLOCK_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let write = || -> Result<(), hound::Error> {
        let mut w = hound::WavWriter::create(&part, spec)?;
        for &s in pcm {
            w.write_sample(s)?;
        }
        w.finalize()
    };
    write().map_err(|e| fail(&part, e.to_string()))?;
    std::fs::rename(&part, path).map_err(|e| fail(path, e.to_string()))
}

/// Trims surrounding silence and normalises the level: what makes synthesized (or any)
/// fragments concatenate cleanly. Returns nothing for a silent input.
pub fn tidy(pcm: Vec<i16>) -> Vec<i16> {
    let mut out = trim_silence(&pcm, KEEP_SILENCE_MS * CLOCK_RATE as usize / 1000);
    normalise(&mut out);
    out
}

/// Window for the silence detector: 5 ms, short enough to keep a soft consonant's onset.
const TRIM_WINDOW: usize = CLOCK_RATE as usize / 200;

/// Ramp applied where speech touches the edge of the input (espeak-ng starts a vowel at
/// its very first sample): 5 ms, so the added silence does not end in a click.
const EDGE_FADE: usize = CLOCK_RATE as usize / 200;

/// The speech with exactly `keep` samples of margin on each side: taken from the input
/// where it has that much silence, else padded with digital silence (the speech edge then
/// gets a short fade). Speech is anything within 40 dB of the loudest 5 ms window, so a
/// quiet fricative ("six", "fifty") stays while synthesizer or room noise goes; an input
/// with no window above a near-digital-silence floor is all silence and gives nothing.
pub fn trim_silence(pcm: &[i16], keep: usize) -> Vec<i16> {
    let rms: Vec<f32> = pcm.chunks(TRIM_WINDOW).map(window_rms).collect();
    let loudest = rms.iter().copied().fold(0.0, f32::max);
    if loudest < 30.0 {
        return Vec::new();
    }
    let threshold = (loudest * 0.01).max(8.0);
    let first = rms.iter().position(|&r| r >= threshold).unwrap_or(0) * TRIM_WINDOW;
    let last = ((rms.iter().rposition(|&r| r >= threshold).unwrap_or(0) + 1) * TRIM_WINDOW).min(pcm.len());
    let (from, to) = (first.saturating_sub(keep), (last + keep).min(pcm.len()));
    let mut body = pcm[from..to].to_vec();
    if from == 0 {
        let n = EDGE_FADE.min(body.len());
        for (i, s) in body[..n].iter_mut().enumerate() {
            *s = (i32::from(*s) * i as i32 / n as i32) as i16;
        }
    }
    if to == pcm.len() {
        let n = EDGE_FADE.min(body.len());
        let len = body.len();
        for (i, s) in body[len - n..].iter_mut().rev().enumerate() {
            *s = (i32::from(*s) * i as i32 / n as i32) as i16;
        }
    }
    let mut out = vec![0; keep - (first - from)];
    out.extend(body);
    out.resize(out.len() + keep - (to - last), 0);
    out
}

/// Scales samples so the speech (20 ms windows within 20 dB of the loudest) has an RMS
/// of [`TARGET_SPEECH_RMS`], unless that would push a sample past [`PEAK_LIMIT`].
pub fn normalise(pcm: &mut [i16]) {
    let window = CLOCK_RATE as usize / 50;
    let rms: Vec<f32> = pcm.chunks(window).map(window_rms).collect();
    let loudest = rms.iter().copied().fold(0.0, f32::max);
    if loudest <= 0.0 {
        return;
    }
    let speech: Vec<f32> = rms.into_iter().filter(|&r| r >= loudest * 0.1).collect();
    let speech_rms = (speech.iter().map(|r| r * r).sum::<f32>() / speech.len() as f32).sqrt();
    let peak = pcm.iter().map(|s| f32::from(s.unsigned_abs())).fold(0.0, f32::max);
    let gain = (TARGET_SPEECH_RMS / speech_rms).min(PEAK_LIMIT / peak);
    for s in pcm.iter_mut() {
        *s = (f32::from(*s) * gain).round().clamp(-32768.0, 32767.0) as i16;
    }
}

fn window_rms(w: &[i16]) -> f32 {
    (w.iter().map(|&s| f32::from(s) * f32::from(s)).sum::<f32>() / w.len() as f32).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 ms of faint noise, a 60 ms soft onset (a fricative, 26 dB below), 300 ms of a
    /// vowel-like tone, 200 ms of faint noise.
    fn word(amplitude: f32) -> Vec<i16> {
        let ms = |n: usize| n * 8;
        let mut v = Vec::new();
        let noise = |i: usize| ((i * 7919) % 5) as i16 - 2;
        v.extend((0..ms(100)).map(noise));
        v.extend((0..ms(60)).map(|i| ((i as f32 * 2.9).sin() * amplitude / 20.0) as i16));
        v.extend((0..ms(300)).map(|i| ((i as f32 * 0.345).sin() * amplitude) as i16));
        v.extend((0..ms(200)).map(noise));
        v
    }

    fn speech_rms(pcm: &[i16]) -> f32 {
        let loud: Vec<f32> = pcm.chunks(160).map(window_rms).collect();
        let max = loud.iter().copied().fold(0.0, f32::max);
        let speech: Vec<f32> = loud.into_iter().filter(|&r| r >= max * 0.1).collect();
        (speech.iter().map(|r| r * r).sum::<f32>() / speech.len() as f32).sqrt()
    }

    #[test]
    fn trims_to_the_kept_margin_without_losing_a_soft_onset() {
        let keep = KEEP_SILENCE_MS * 8;
        let pcm = word(3000.0);
        let trimmed = trim_silence(&pcm, keep);
        let speech = (60 + 300) * 8;
        assert_eq!(trimmed.len(), speech + 2 * keep);
        // The kept margin before the onset is silence; the onset itself is there.
        assert!(trimmed[..keep - TRIM_WINDOW].iter().all(|s| s.abs() <= 2));
        assert!(trimmed[keep + TRIM_WINDOW..keep + 2 * TRIM_WINDOW].iter().any(|s| s.abs() > 100));
        assert!(trim_silence(&[0, 1, -2, 3, 0], keep).is_empty());
        assert!(tidy(vec![0; 8000]).is_empty());
    }

    #[test]
    fn speech_touching_the_edges_gets_padded_margins_and_no_click() {
        let keep = KEEP_SILENCE_MS * 8;
        let vowel: Vec<i16> = (0..1600).map(|i| ((i as f32 * 0.345).cos() * 5000.0) as i16).collect();
        let trimmed = trim_silence(&vowel, keep);
        assert_eq!(trimmed.len(), vowel.len() + 2 * keep);
        assert!(trimmed[..keep].iter().chain(&trimmed[trimmed.len() - keep..]).all(|&s| s == 0));
        // The first sample was at full level (cos 0); now the speech fades in.
        assert_eq!(trimmed[keep], 0);
        assert!(trimmed[keep + 1].abs() < 5000 / 10);
        assert_eq!(&trimmed[keep + EDGE_FADE..keep + 100], &vowel[EDGE_FADE..100]);
    }

    #[test]
    fn quiet_and_loud_words_come_out_at_the_same_speech_level() {
        let quiet = tidy(word(600.0));
        let loud = tidy(word(20_000.0));
        for pcm in [&quiet, &loud] {
            let level = speech_rms(pcm);
            assert!((level - TARGET_SPEECH_RMS).abs() < TARGET_SPEECH_RMS * 0.05, "{level}");
            assert!(pcm.iter().all(|s| f32::from(s.unsigned_abs()) <= PEAK_LIMIT + 1.0));
        }
        assert_eq!(quiet.len(), loud.len());
    }

    #[test]
    fn a_peaky_prompt_is_limited_not_clipped() {
        let mut pcm: Vec<i16> = (0..4000).map(|i| ((i as f32 * 0.3).sin() * 300.0) as i16).collect();
        pcm[2000] = 12_000;
        normalise(&mut pcm);
        assert_eq!(pcm[2000], PEAK_LIMIT as i16);
        assert!(speech_rms(&pcm) < TARGET_SPEECH_RMS);
    }

    #[test]
    fn voices() {
        assert_eq!(espeak_voice("en"), "en-us");
        assert_eq!(espeak_voice("fr"), "fr");
    }
}
