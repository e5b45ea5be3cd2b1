//! Voice prompts as audio: 8 kHz mono samples encoded once per codec, so every call
//! plays shared bytes and no call ever transcodes; and the library of every language's
//! prompts, where a prompt missing in one language falls back to the default language,
//! never to silence. Reading WAV files is the root package's (`ivrpay::ivr::prompts`).

use crate::media::clip::Clip;
use crate::media::codec::{Codec, CLOCK_RATE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// An empty library read from `dir` (kept so a missing recording can be named by its
    /// file), filled by the loader with [`insert`](Self::insert).
    pub fn in_dir(dir: &Path, default_language: &str) -> PromptLibrary {
        PromptLibrary {
            default_language: default_language.to_string(),
            dir: dir.to_path_buf(),
            ..PromptLibrary::default()
        }
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
