//! What is left to record in a language: the prompts its manifest
//! (`prompts/<lang>/manifest.toml`) describes but that have no recording in that language
//! in the library serving calls, each with the text to read and what callers hear
//! meanwhile (the default language's recording, or nothing a dialplan may use yet).
//! Computed with `ivr::manifest::Manifest::missing`, the check `ivrpay check` and
//! `ivrpay prompts missing` make, so the page and the tools never disagree.

use super::Current;
use crate::extranet::AppState;
use crate::ivr::manifest::{recorded_names, Manifest, ManifestError, MANIFEST_FILE};
use std::collections::{BTreeMap, BTreeSet};

/// A prompt of the manifest with no recording in the language.
pub struct Missing {
    /// Prompt name (the WAV file stem).
    pub name: String,
    /// What the recording must say.
    pub text: String,
    /// What callers hear until it is recorded.
    pub meanwhile: String,
}

/// The manifest's view of one language.
#[derive(Default)]
pub struct ToRecord {
    /// The section's heading, naming the language.
    pub heading: String,
    /// The sentence above the list: how many are missing and from which manifest, or why
    /// there is no list (no manifest, or one that cannot be read).
    pub summary: String,
    /// The prompts to record, in manifest order (the order operators record in).
    pub missing: Vec<Missing>,
    /// Every manifest text by prompt name, shown beside each prompt of the page.
    pub texts: BTreeMap<String, String>,
}

/// The prompts of `lang`'s manifest still to record, in the page's language.
pub fn to_record(st: &AppState, cur: &Current, lang: &str) -> ToRecord {
    let t = cur.lang.texts();
    let dir = &st.pages.prompts_dir;
    let shown_path = format!("{lang}/{MANIFEST_FILE}");
    let heading = t.prompts_to_record.replace("{lang}", lang);
    let manifest = match Manifest::load(dir, lang) {
        Ok(m) => m,
        Err(ManifestError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return ToRecord {
                heading,
                summary: t.prompts_no_manifest.replace("{path}", &shown_path),
                ..ToRecord::default()
            };
        }
        Err(e) => {
            return ToRecord {
                heading,
                summary: t.prompts_bad_manifest.replace("{reason}", &e.to_string()),
                ..ToRecord::default()
            }
        }
    };
    // The library serving calls when the phone line runs in this process (an upload
    // counts at once), else the WAV files on disk.
    let lib = st.operator.as_ref().map(|op| op.prompts.current());
    let default = &st.pages.default_prompt_language;
    let listed = match &lib {
        Some(lib) => Ok((manifest.missing(lib), lib.names(default).into_iter().map(str::to_string).collect())),
        None => manifest.missing_in(dir).and_then(|m| Ok((m, recorded_names(dir, default)?))),
    };
    let (entries, in_default): (_, BTreeSet<String>) = match listed {
        Ok(x) => x,
        Err(e) => {
            return ToRecord {
                heading,
                summary: t.prompts_bad_manifest.replace("{reason}", &e.to_string()),
                ..ToRecord::default()
            }
        }
    };
    let missing: Vec<Missing> = entries
        .into_iter()
        .map(|e| Missing {
            name: e.name.clone(),
            text: e.text.clone(),
            meanwhile: if lang != default && in_default.contains(&e.name) {
                t.prompt_fallback.replace("{lang}", default)
            } else {
                t.prompt_nowhere.to_string()
            },
        })
        .collect();
    let summary = if missing.is_empty() {
        t.prompts_all_recorded.replace("{path}", &shown_path)
    } else {
        t.prompts_missing_count.replace("{n}", &missing.len().to_string()).replace("{path}", &shown_path)
    };
    let texts = manifest.entries.iter().cloned().map(|e| (e.name, e.text)).collect();
    ToRecord { heading, summary, missing, texts }
}
