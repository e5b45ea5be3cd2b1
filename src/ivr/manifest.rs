//! The per-language prompt manifest, `prompts/<lang>/manifest.toml`: what every prompt of
//! the language says, so an operator knows what to record, `ivrpay prompts missing` can
//! list what is not recorded yet, and `ivrpay prompts generate` can make a stand-in.
//!
//! ```toml
//! # what every prompt of this language says
//! [prompts]
//! echo_welcome = "Bienvenue sur la ligne de test."
//! num_21 = "vingt et un"
//! letter_m = { text = "emme", tts = "èm" }   # tts: spelling fed to espeak-ng only
//! ```
//!
//! Entries keep the file's order (operators record in that order). Every error names the
//! file and the line at fault.

use super::prompts::PromptLibrary;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The file name of a language's manifest inside `prompts/<lang>/`.
pub const MANIFEST_FILE: &str = "manifest.toml";

/// The longest prompt name accepted; names become file names and log fields.
pub const MAX_NAME_LEN: usize = 64;

/// Why a manifest was refused; every variant names the file and, when the file could be
/// read, the 1-based line, so an operator can go straight to it.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The manifest that could not be read.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not valid TOML, or not the expected shape.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The manifest at fault.
        path: PathBuf,
        /// 1-based line of the offending entry.
        line: usize,
        /// The TOML parser's explanation.
        message: String,
    },
    /// The file has no `[prompts]` table.
    #[error("{path}:{line}: no [prompts] table")]
    NoPrompts {
        /// The manifest at fault.
        path: PathBuf,
        /// Always 1: the table is missing from the whole file.
        line: usize,
    },
    /// A prompt name is not lowercase `[a-z0-9_]` starting with a letter.
    #[error("{path}:{line}: prompt name '{name}' must be lowercase a-z, 0-9 and _, start with a letter and be at most {MAX_NAME_LEN} characters")]
    BadName {
        /// The manifest at fault.
        path: PathBuf,
        /// 1-based line of the offending entry.
        line: usize,
        /// The prompt name as written.
        name: String,
    },
    /// A prompt's text (or its `tts` spelling) is empty.
    #[error("{path}:{line}: prompt '{name}' has an empty {field}")]
    EmptyText {
        /// The manifest at fault.
        path: PathBuf,
        /// 1-based line of the offending entry.
        line: usize,
        /// The prompt name as written.
        name: String,
        /// `text` or `tts`: which of the two is empty.
        field: &'static str,
    },
}

/// One prompt of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Prompt name: the WAV file stem.
    pub name: String,
    /// What the recording says, as an operator should read it.
    pub text: String,
    /// A respelling for the speech synthesizer when it mispronounces `text` (only used by
    /// `ivrpay prompts generate`).
    pub tts: Option<String>,
    /// 1-based line of the entry, for messages.
    pub line: usize,
}

impl ManifestEntry {
    /// The text to synthesize: the respelling if there is one, else the text.
    pub fn tts_text(&self) -> &str {
        self.tts.as_deref().unwrap_or(&self.text)
    }
}

/// A parsed manifest of one language.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The file it came from (for messages).
    pub path: PathBuf,
    /// Language code (the directory name).
    pub language: String,
    /// Entries in file order.
    pub entries: Vec<ManifestEntry>,
}

/// Path of a language's manifest: `<dir>/<lang>/manifest.toml`.
pub fn manifest_path(dir: &Path, lang: &str) -> PathBuf {
    dir.join(lang).join(MANIFEST_FILE)
}

/// Languages under `dir` that have a manifest, sorted, so tools can work on "all".
pub fn languages(dir: &Path) -> Result<Vec<String>, ManifestError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ManifestError::Io { path: dir.to_path_buf(), source })?;
    let mut langs: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(MANIFEST_FILE).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    langs.sort();
    Ok(langs)
}

/// Names of the WAV files recorded in `<dir>/<lang>/` (any case of `.wav`, as the prompt
/// library loads them), without decoding them. An absent directory has none.
pub fn recorded_names(dir: &Path, lang: &str) -> Result<BTreeSet<String>, ManifestError> {
    let lang_dir = dir.join(lang);
    let entries = match std::fs::read_dir(&lang_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(source) => return Err(ManifestError::Io { path: lang_dir, source }),
    };
    Ok(entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect())
}

impl Manifest {
    /// Reads `<dir>/<lang>/manifest.toml`.
    pub fn load(dir: &Path, lang: &str) -> Result<Manifest, ManifestError> {
        let path = manifest_path(dir, lang);
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Io { path: path.clone(), source })?;
        Manifest::parse(&path, lang, &text)
    }

    /// Parses manifest text; `path` is only used in messages.
    pub fn parse(path: &Path, lang: &str, text: &str) -> Result<Manifest, ManifestError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let doc: Document = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            path: path.to_path_buf(),
            line: e.span().map_or(1, |s| line_of(s.start)),
            message: e.message().to_string(),
        })?;
        let Some(prompts) = doc.prompts else {
            return Err(ManifestError::NoPrompts { path: path.to_path_buf(), line: 1 });
        };
        let mut entries = Vec::with_capacity(prompts.0.len());
        for (name, value) in prompts.0 {
            let line = line_of(name.span().start);
            let name = name.into_inner();
            if !valid_name(&name) {
                return Err(ManifestError::BadName { path: path.to_path_buf(), line, name });
            }
            let (text, tts) = match value.into_inner() {
                Text::Plain(t) => (t, None),
                Text::Detailed { text, tts } => (text, tts),
            };
            let empty = |field| ManifestError::EmptyText { path: path.to_path_buf(), line, name: name.clone(), field };
            if text.trim().is_empty() {
                return Err(empty("text"));
            }
            if tts.as_deref().is_some_and(|t| t.trim().is_empty()) {
                return Err(empty("tts"));
            }
            entries.push(ManifestEntry { name, text, tts, line });
        }
        Ok(Manifest { path: path.to_path_buf(), language: lang.to_string(), entries })
    }

    /// The entry for a prompt name.
    pub fn get(&self, name: &str) -> Option<&ManifestEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// What a prompt says, if the manifest describes it.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(|e| e.text.as_str())
    }

    /// Entries with no recording in this manifest's own language in `lib` (a fallback to
    /// the default language does not count: the caller would hear the wrong language).
    pub fn missing(&self, lib: &PromptLibrary) -> Vec<&ManifestEntry> {
        let have: BTreeSet<&str> = lib.names(&self.language).into_iter().collect();
        self.entries.iter().filter(|e| !have.contains(e.name.as_str())).collect()
    }

    /// Entries whose name is not in `recorded` (as returned by [`recorded_names`]).
    pub fn missing_from(&self, recorded: &BTreeSet<String>) -> Vec<&ManifestEntry> {
        self.entries.iter().filter(|e| !recorded.contains(&e.name)).collect()
    }

    /// Entries with no WAV file in `<dir>/<language>/`, checked from the file names alone
    /// (no decoding), for `ivrpay prompts missing` and the generator.
    pub fn missing_in(&self, dir: &Path) -> Result<Vec<&ManifestEntry>, ManifestError> {
        Ok(self.missing_from(&recorded_names(dir, &self.language)?))
    }
}

/// True for a name usable as a prompt: `[a-z][a-z0-9_]*`, at most [`MAX_NAME_LEN`].
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    prompts: Option<Prompts>,
}

/// The `[prompts]` table in file order (a map visitor sees keys in document order).
struct Prompts(Vec<(Spanned<String>, Spanned<Text>)>);

impl<'de> Deserialize<'de> for Prompts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Prompts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of prompt names to texts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Prompts, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Prompts(entries))
            }
        }
        d.deserialize_map(Ordered)
    }
}

#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields, expecting = "a prompt is a text string, or { text = \"...\", tts = \"...\" }")]
enum Text {
    Plain(String),
    Detailed { text: String, tts: Option<String> },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ivr::prompts::Prompt;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(Path::new("prompts/fr/manifest.toml"), "fr", text)
    }

    #[test]
    fn keeps_file_order_lines_and_tts_respellings() {
        let m = parse(
            "# what every prompt says\n[prompts]\nzeta = \"z\"\n\n# numbers\nnum_21 = \"vingt et un\"\n\
             letter_m = { text = \"emme\", tts = \"èm\" }\nalpha = 'a'\n",
        )
        .unwrap();
        let got: Vec<(&str, &str, usize)> = m.entries.iter().map(|e| (&*e.name, e.tts_text(), e.line)).collect();
        assert_eq!(got, [("zeta", "z", 3), ("num_21", "vingt et un", 6), ("letter_m", "èm", 7), ("alpha", "a", 8)]);
        assert_eq!(m.text("letter_m"), Some("emme"));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            ("[prompts]\nok = \"x\"\nBad-Name = \"y\"\n", "prompts/fr/manifest.toml:3: prompt name 'Bad-Name'"),
            (
                "[prompts]\nok = \"x\"\n\nempty = \"  \"\n",
                "prompts/fr/manifest.toml:4: prompt 'empty' has an empty text",
            ),
            (
                "[prompts]\nm = { text = \"emme\", tts = \"\" }\n",
                "prompts/fr/manifest.toml:2: prompt 'm' has an empty tts",
            ),
            ("[prompts]\nok = \"x\"\nn = 3\n", "prompts/fr/manifest.toml:3: "),
            ("[prompts]\nok = \"x\"\nok = \"y\"\n", "prompts/fr/manifest.toml:3: "),
            ("[prompts]\nok = \"x\n", "prompts/fr/manifest.toml:2: "),
            ("[prompt]\nok = \"x\"\n", "prompts/fr/manifest.toml:1: "),
            ("# nothing\n", "prompts/fr/manifest.toml:1: no [prompts] table"),
            ("[prompts]\nm = { text = \"emme\", voice = \"x\" }\n", "prompts/fr/manifest.toml:2: "),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with(want), "{text:?}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn missing_ignores_the_default_language_fallback() {
        let m = parse("[prompts]\nhello = \"bonjour\"\nbye = \"au revoir\"\nnum_1 = \"un\"\n").unwrap();
        let mut lib = PromptLibrary::default();
        lib.insert(Prompt::from_pcm("hello", "fr", vec![0; 8]));
        lib.insert(Prompt::from_pcm("bye", "en", vec![0; 8]));
        let names: Vec<&str> = m.missing(&lib).iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["bye", "num_1"]);
        let recorded: BTreeSet<String> = ["num_1".to_string()].into();
        let names: Vec<&str> = m.missing_from(&recorded).iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["hello", "bye"]);
    }

    #[test]
    fn shipped_manifests_describe_every_shipped_recording() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        assert_eq!(languages(&dir).unwrap(), ["en", "fr"]);
        for lang in ["en", "fr"] {
            let m = Manifest::load(&dir, lang).unwrap();
            let undescribed: Vec<String> =
                recorded_names(&dir, lang).unwrap().into_iter().filter(|n| m.get(n).is_none()).collect();
            assert!(undescribed.is_empty(), "{lang}: recorded but not in {}: {undescribed:?}", m.path.display());
        }
    }

    #[test]
    fn name_rules() {
        for ok in ["a", "num_80_link", "digit_0", "x1"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "1abc", "_x", "Num", "num-1", "num 1", "é", &"a".repeat(MAX_NAME_LEN + 1)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
