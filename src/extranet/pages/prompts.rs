//! Operators' voice prompts: every recording per language, playable in the browser
//! (served as 8 kHz mono 16-bit WAV, exactly what callers hear), and replaceable by an
//! uploaded WAV. An upload is checked and converted with the phone line's own reader
//! (`ivr::prompts::read_wav_8k_mono`), refused with the reason when it cannot be, and
//! written atomically (a temporary file renamed over the old one), so a server
//! starting at that moment reads either the old recording or the new one; it also
//! replaces the prompt in the library serving calls, so new calls hear it at once.
//! Each language's page lists what its manifest says is left to record (`to_record`).

use super::to_record::{to_record, ToRecord};
use super::{html, Current, Lang, Layout, PageError};
use crate::extranet::AppState;
use crate::ivr::prompts::{read_wav_8k_mono, Prompt, PromptError};
use crate::media::codec::CLOCK_RATE;
use crate::store::users::Role;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::path::{Path as FsPath, PathBuf};

/// Largest upload accepted.
pub const MAX_WAV_BYTES: usize = 10 * 1024 * 1024;
/// Longest prompt accepted, in seconds.
pub const MAX_SECONDS: usize = 120;

/// A prompt of the current language.
pub struct PromptRow {
    /// The prompt's name (its file without `.wav`).
    pub name: String,
    /// What it says, from the language's manifest ("" when not described).
    pub says: String,
    /// Whether this language has a recording of it.
    pub present: bool,
    /// Duration and format, or why it is missing or unreadable.
    pub info: String,
    /// Why an upload for this prompt was refused.
    pub error: String,
}

#[derive(Template)]
#[template(path = "prompts.html")]
struct PromptsPage {
    l: Layout,
    languages: Vec<String>,
    lang: String,
    notice: String,
    record: ToRecord,
    prompts: Vec<PromptRow>,
}

/// Names we accept in paths: no separators, no dots, nothing to escape the directory.
fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn wav_files(dir: &FsPath) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .filter(|n| safe_name(n))
        .collect();
    names.sort();
    names
}

/// The languages (sub-directories) and the union of their prompt names.
fn inventory(dir: &FsPath) -> (Vec<String>, Vec<String>) {
    let mut langs: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().and_then(|s| s.to_str()).map(str::to_string))
        .filter(|n| safe_name(n))
        .collect();
    langs.sort();
    let mut names: Vec<String> = langs.iter().flat_map(|l| wav_files(&dir.join(l))).collect();
    names.sort();
    names.dedup();
    (langs, names)
}

/// `16000 Hz stereo 16 bits`.
fn describe(spec: &hound::WavSpec) -> String {
    let ch = match spec.channels {
        1 => "mono".to_string(),
        2 => "stereo".to_string(),
        n => format!("{n} ch"),
    };
    let float = if spec.sample_format == hound::SampleFormat::Float { " float" } else { "" };
    format!("{} Hz {ch} {} bits{float}", spec.sample_rate, spec.bits_per_sample)
}

/// `from` if it is a format [`describe`] writes (what the upload's redirect carries),
/// so that a link cannot put words of its own into the page's notice.
fn known_format(from: &str) -> bool {
    let words: Vec<&str> = from.split(' ').collect();
    let Some((rate, rest)) = words.split_first() else { return false };
    let Ok(sample_rate) = rate.parse::<u32>() else { return false };
    let (channels, rest) = match rest {
        ["Hz", "mono", r @ ..] => (1, r),
        ["Hz", "stereo", r @ ..] => (2, r),
        ["Hz", n, "ch", r @ ..] => match n.parse::<u16>() {
            Ok(n) => (n, r),
            Err(_) => return false,
        },
        _ => return false,
    };
    let (bits, float) = match rest {
        [b, "bits"] => (b, false),
        [b, "bits", "float"] => (b, true),
        _ => return false,
    };
    let Ok(bits_per_sample) = bits.parse::<u16>() else { return false };
    let sample_format = if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int };
    describe(&hound::WavSpec { channels, sample_rate, bits_per_sample, sample_format }) == from
}

/// `1.5` (`1,5` on a French page).
fn seconds(lang: Lang, samples: u64, rate: u32) -> String {
    let s = format!("{:.1}", samples as f64 / rate.max(1) as f64);
    if lang == Lang::Fr {
        s.replace('.', ",")
    } else {
        s
    }
}

async fn page(
    st: &AppState,
    cur: &Current,
    lang: &str,
    notice: String,
    failed: Option<(&str, String)>,
) -> Result<PromptsPage, PageError> {
    let t = cur.lang.texts();
    let dir = st.pages.prompts_dir.clone();
    let default = &st.pages.default_prompt_language;
    let (languages, mut names) = inventory(&dir);
    let lang = if languages.iter().any(|l| l == lang) { lang.to_string() } else { default.clone() };
    let record = to_record(st, cur, &lang);
    // Prompts the manifest describes but nobody recorded yet get a row too (to upload).
    names.extend(record.texts.keys().filter(|n| safe_name(n)).cloned());
    names.sort();
    names.dedup();
    let prompts = names
        .into_iter()
        .map(|name| {
            let path = dir.join(&lang).join(format!("{name}.wav"));
            let (present, info) = if !path.exists() {
                if dir.join(default).join(format!("{name}.wav")).exists() && lang != *default {
                    (false, t.prompt_missing.replace("{lang}", default))
                } else {
                    (false, t.prompt_nowhere.to_string())
                }
            } else {
                match hound::WavReader::open(&path) {
                    Ok(r) => {
                        let spec = r.spec();
                        (
                            true,
                            format!(
                                "{} s · {}",
                                seconds(cur.lang, r.duration() as u64, spec.sample_rate),
                                describe(&spec)
                            ),
                        )
                    }
                    Err(e) => (false, t.prompt_unreadable.replace("{reason}", &e.to_string())),
                }
            };
            let error = failed.as_ref().filter(|(n, _)| *n == name).map(|(_, e)| e.clone()).unwrap_or_default();
            let says = record.texts.get(&name).cloned().unwrap_or_default();
            PromptRow { name, says, present, info, error }
        })
        .collect();
    Ok(PromptsPage { l: Layout::new(cur, t.t_prompts, "/operator/prompts"), languages, lang, notice, record, prompts })
}

/// `?lang=` and the notice after a replacement.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    replaced: String,
    #[serde(default)]
    from: String,
}

/// GET /operator/prompts?lang=
pub async fn list(State(st): State<AppState>, cur: Current, Query(q): Query<ListQuery>) -> Result<Response, PageError> {
    cur.require(Role::Operator)?;
    let mut notice = String::new();
    if safe_name(&q.replaced) && safe_name(&q.lang) && known_format(&q.from) {
        let path = st.pages.prompts_dir.join(&q.lang).join(format!("{}.wav", q.replaced));
        if let Ok(r) = hound::WavReader::open(&path) {
            let t = cur.lang.texts();
            let when = if st.operator.is_some() { t.prompt_in_force_now } else { t.prompt_in_force_next_start };
            notice = t
                .prompt_replaced
                .replace("{name}", &q.replaced)
                .replace("{lang}", &q.lang)
                .replace("{secs}", &seconds(cur.lang, r.duration() as u64, r.spec().sample_rate))
                .replace("{from}", &q.from)
                + " "
                + when;
        }
    }
    html(StatusCode::OK, &page(&st, &cur, &q.lang, notice, None).await?)
}

/// The path of an existing prompt's language directory and its file name, if both
/// are names we serve.
fn prompt_path(st: &AppState, lang: &str, file: &str) -> Result<(PathBuf, String), PageError> {
    let name = file.strip_suffix(".wav").filter(|n| safe_name(n)).ok_or(PageError::NotFound)?;
    if !safe_name(lang) {
        return Err(PageError::NotFound);
    }
    let dir = st.pages.prompts_dir.join(lang);
    if !dir.is_dir() {
        return Err(PageError::NotFound);
    }
    Ok((dir, name.to_string()))
}

/// 8 kHz mono 16-bit PCM as a WAV file in memory.
fn wav_bytes(pcm: &[i16]) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: CLOCK_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + pcm.len() * 2));
    let mut w = hound::WavWriter::new(&mut out, spec)?;
    for s in pcm {
        w.write_sample(*s)?;
    }
    w.finalize()?;
    Ok(out.into_inner())
}

/// GET /operator/prompts/{lang}/{name}.wav: what callers hear, for the audio element.
pub async fn audio(
    State(st): State<AppState>,
    cur: Current,
    Path((lang, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    cur.require(Role::Operator)?;
    let (dir, name) = prompt_path(&st, &lang, &file)?;
    let path = dir.join(format!("{name}.wav"));
    if !path.is_file() {
        return Err(PageError::NotFound);
    }
    let bytes = tokio::task::spawn_blocking(move || read_wav_8k_mono(&path).ok().and_then(|pcm| wav_bytes(&pcm).ok()))
        .await
        .ok()
        .flatten()
        .ok_or(PageError::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "audio/wav"), (header::CACHE_CONTROL, "no-cache")], bytes).into_response())
}

/// What an upload turned into (the format it came in, and the 8 kHz mono samples the
/// phone line reads from the file written), or why it was refused (in the page's
/// language).
fn convert(cur: &Current, dir: &FsPath, name: &str, bytes: &[u8]) -> Result<(String, Vec<i16>), String> {
    let t = cur.lang.texts();
    let from = match hound::WavReader::new(std::io::Cursor::new(bytes)) {
        Ok(r) => describe(&r.spec()),
        Err(e) => return Err(t.prompt_bad_wav.replace("{reason}", &e.to_string())),
    };
    // The phone line's reader works on files: give it one beside the target.
    let upload = dir.join(format!(".upload-{:016x}.tmp", rand::random::<u64>()));
    std::fs::write(&upload, bytes).map_err(|e| t.prompt_unreadable.replace("{reason}", &e.to_string()))?;
    let pcm = read_wav_8k_mono(&upload);
    let _ = std::fs::remove_file(&upload);
    let pcm = pcm.map_err(|e| match e {
        PromptError::BadWav { reason, .. } => t.prompt_bad_wav.replace("{reason}", &reason),
        PromptError::Unsupported { reason, .. } => t.prompt_unsupported.replace("{reason}", &reason),
        other => t.prompt_unreadable.replace("{reason}", &other.to_string()),
    })?;
    if pcm.len() > MAX_SECONDS * CLOCK_RATE as usize {
        return Err(t.prompt_too_long.replace("{secs}", &seconds(cur.lang, pcm.len() as u64, CLOCK_RATE)));
    }
    if pcm.iter().all(|s| s.unsigned_abs() < 64) {
        return Err(t.prompt_silent.into());
    }
    let data = wav_bytes(&pcm).map_err(|e| t.prompt_unreadable.replace("{reason}", &e.to_string()))?;
    // Unique, so that two uploads of the same prompt at once cannot mix their bytes.
    let tmp = dir.join(format!(".{name}.{:016x}.wav.tmp", rand::random::<u64>()));
    let path = dir.join(format!("{name}.wav"));
    std::fs::write(&tmp, data).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        t.prompt_unreadable.replace("{reason}", &e.to_string())
    })?;
    // The samples as the phone line loads them from the file (its reader rescales), so
    // calls hear now exactly what they would hear after a restart.
    let loaded = read_wav_8k_mono(&path).map_err(|e| t.prompt_unreadable.replace("{reason}", &e.to_string()))?;
    Ok((from, loaded))
}

/// POST /operator/prompts/{lang}/{name}.wav (multipart `file`).
pub async fn upload(
    State(st): State<AppState>,
    cur: Current,
    Path((lang, file)): Path<(String, String)>,
    mut form: Multipart,
) -> Result<Response, PageError> {
    cur.require(Role::Operator)?;
    let (dir, name) = prompt_path(&st, &lang, &file)?;
    // A prompt recorded in some language, or one the language's manifest describes.
    let (_, names) = inventory(&st.pages.prompts_dir);
    let described =
        || crate::ivr::manifest::Manifest::load(&st.pages.prompts_dir, &lang).is_ok_and(|m| m.get(&name).is_some());
    if !names.contains(&name) && !described() {
        return Err(PageError::NotFound);
    }
    let t = cur.lang.texts();
    let mut bytes = None;
    while let Some(field) = form.next_field().await.map_err(|e| PageError::BadRequest(e.to_string()))? {
        if field.name() == Some("file") {
            bytes = Some(field.bytes().await.map_err(|e| PageError::BadRequest(e.to_string()))?);
        }
    }
    let outcome = match bytes.filter(|b| !b.is_empty()) {
        None => Err(t.prompt_no_file.to_string()),
        Some(b) if b.len() > MAX_WAV_BYTES => Err(t.prompt_too_big.to_string()),
        Some(b) => {
            let (cur2, dir2, name2) = (cur.clone(), dir.clone(), name.clone());
            tokio::task::spawn_blocking(move || convert(&cur2, &dir2, &name2, &b))
                .await
                .map_err(|e| PageError::BadRequest(e.to_string()))?
        }
    };
    match outcome {
        Ok((from, pcm)) => {
            // New calls take the new recording at once; calls in progress keep theirs.
            if let Some(op) = &st.operator {
                op.prompts.replace(Prompt::from_pcm(&name, &lang, pcm));
            }
            tracing::info!(user = %cur.session.user.email, %lang, prompt = %name, %from, "prompt replaced");
            let q = super::format::query(&[("lang", &lang), ("replaced", &name), ("from", &from)]);
            Ok(Redirect::to(&format!("/operator/prompts{q}")).into_response())
        }
        Err(reason) => {
            tracing::info!(user = %cur.session.user.email, %lang, prompt = %name, %reason, "prompt upload refused");
            html(StatusCode::UNPROCESSABLE_ENTITY, &page(&st, &cur, &lang, String::new(), Some((&name, reason))).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_formats_an_upload_reports_reach_the_notice() {
        for ok in ["16000 Hz stereo 16 bits", "8000 Hz mono 8 bits", "44100 Hz 6 ch 32 bits float"] {
            assert!(known_format(ok), "{ok}");
        }
        for bad in
            ["", "16000 Hz stereo", "Call 0800 000 000 now", "16000 Hz stereo 16 bits, call 0800", "x Hz mono 16 bits"]
        {
            assert!(!known_format(bad), "{bad}");
        }
    }
}
