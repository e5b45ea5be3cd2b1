//! The dialplans in force, and their reload.
//!
//! All files of the directory are loaded and checked together (a number answered by
//! two files is an error too, and so is a fragment missing to say amounts, dates and
//! digits in a language a flow speaks: never silence); only a fully valid set replaces
//! the one serving. Each problem is reported, with its file and line. A call keeps the
//! `Arc<Dialplan>` it started with, so a reload never changes a flow under a caller's
//! feet. On reload the prompts are read again first, so a flow may name a recording
//! added since the start.

use super::{parse, Dialplan, DialplanError, Item};
pub use crate::ivr::dialplan::plan_prompt_names;
use crate::ivr::prompt_store::PromptStore;
use crate::ivr::prompts::{PromptError, PromptLibrary};
use crate::ivr::say::{self, Language};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// One consistent set of dialplans.
#[derive(Debug, Default)]
pub struct Dialplans {
    plans: Vec<Arc<Dialplan>>,
    by_number: HashMap<String, Arc<Dialplan>>,
}

impl Dialplans {
    /// Loads every `*.toml` of `dir`. `reserved` are numbers other services answer
    /// (the echo line); a dialplan may not claim them.
    pub fn load_dir(dir: &Path, prompts: &PromptLibrary, reserved: &[String]) -> Result<Dialplans, DialplanError> {
        let io = |source| DialplanError::Io { path: dir.to_path_buf(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let exists = |name: &str| prompts.has_default(name);
        let mut set = Dialplans::default();
        let mut errors = Vec::new();
        for path in files {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(source) => {
                    errors.push(DialplanError::Io { path, source });
                    continue;
                }
            };
            let plan = match parse(&path, &text, &exists) {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    errors.extend(e.into_problems());
                    continue;
                }
            };
            let before = errors.len();
            for n in &plan.numbers {
                let line = number_line(&text, n);
                let message = if reserved.contains(n) {
                    format!("number '{n}' is the line-test service's (services.echo)")
                } else if let Some(other) = set.by_number.get(n) {
                    format!("number '{n}' is already answered by {}", other.path.display())
                } else {
                    continue;
                };
                errors.push(DialplanError::Invalid { path: path.clone(), line, message });
            }
            errors.extend(missing_fragments(&plan, &text, prompts));
            if errors.len() > before {
                continue;
            }
            for n in &plan.numbers {
                set.by_number.insert(n.clone(), plan.clone());
            }
            for lang in plan_languages(&plan) {
                for name in plan_prompt_names(&plan) {
                    if !prompts.has(&lang, &name) {
                        tracing::warn!(dialplan = %plan.name, %lang, prompt = %name, "prompt missing in this language; the default language's recording will play");
                    }
                }
            }
            set.plans.push(plan);
        }
        match errors.len() {
            0 => Ok(set),
            1 => Err(errors.remove(0)),
            _ => Err(DialplanError::Several(errors)),
        }
    }

    /// The flow answering a Request-URI user.
    pub fn for_number(&self, user: &str) -> Option<Arc<Dialplan>> {
        self.by_number.get(user).cloned()
    }

    /// All flows, by file name.
    pub fn plans(&self) -> &[Arc<Dialplan>] {
        &self.plans
    }
}

/// Most missing fragments reported per flow and language (a language without any
/// recording would otherwise list hundreds).
const MAX_MISSING_REPORTED: usize = 12;

/// A problem for each fragment a flow needs to say values in a language it speaks and
/// that has no recording there nor in the default language, naming the file to record
/// and the line where the flow takes up that language.
fn missing_fragments(plan: &Dialplan, text: &str, prompts: &PromptLibrary) -> Vec<DialplanError> {
    let says = plan.steps.iter().any(|s| s.kind.items().iter().any(|i| matches!(i, Item::Say(..))));
    if !says {
        return Vec::new();
    }
    let mut errors = Vec::new();
    for lang in plan_languages(plan) {
        let Some(say_lang) = Language::from_code(&lang).or_else(|| Language::from_code(prompts.default_language()))
        else {
            continue;
        };
        let line = language_line(text, &lang);
        let missing: Vec<&str> =
            say::fragment_names(say_lang).into_iter().filter(|n| prompts.get(&lang, n).is_none()).collect();
        for name in missing.iter().take(MAX_MISSING_REPORTED) {
            let file = prompts.dir().join(&lang).join(format!("{name}.wav"));
            errors.push(DialplanError::Invalid {
                path: plan.path.clone(),
                line,
                message: format!(
                    "{} is missing (nor recorded in '{}'): it says amounts, dates and digits in '{lang}'",
                    file.display(),
                    prompts.default_language()
                ),
            });
        }
        if missing.len() > MAX_MISSING_REPORTED {
            errors.push(DialplanError::Invalid {
                path: plan.path.clone(),
                line,
                message: format!(
                    "and {} more fragments missing in '{lang}' (`ivrpay prompts missing` lists them all)",
                    missing.len() - MAX_MISSING_REPORTED
                ),
            });
        }
    }
    errors
}

/// The line where a flow takes up `lang` (its header or a set_language step).
fn language_line(text: &str, lang: &str) -> usize {
    let quoted = format!("\"{lang}\"");
    text.lines().position(|l| l.trim_start().starts_with("language") && l.contains(&quoted)).map(|i| i + 1).unwrap_or(1)
}

fn number_line(text: &str, number: &str) -> usize {
    let quoted = format!("\"{number}\"");
    text.lines().position(|l| l.contains(&quoted)).map(|i| i + 1).unwrap_or(1)
}

/// The languages a flow can speak: its own and those its steps switch to.
pub fn plan_languages(plan: &Dialplan) -> Vec<String> {
    let mut langs = vec![plan.language.clone()];
    for s in &plan.steps {
        if let super::StepKind::SetLanguage { language, .. } = &s.kind {
            if !langs.contains(language) {
                langs.push(language.clone());
            }
        }
    }
    langs
}

/// The set serving now, swapped whole on reload.
#[derive(Debug)]
pub struct DialplanRegistry {
    dir: PathBuf,
    reserved: Vec<String>,
    current: RwLock<Arc<Dialplans>>,
    /// The server's prompts: read again from their directory before the flows on each
    /// reload, and put in force together with them.
    prompts: Option<Arc<PromptStore>>,
}

/// What a reload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// (name, version) of each flow now serving.
    pub plans: Vec<(String, String)>,
}

impl DialplanRegistry {
    /// Loads the directory; fails if any file is bad.
    pub fn load(dir: &Path, prompts: &PromptLibrary, reserved: Vec<String>) -> Result<Self, DialplanError> {
        let set = Dialplans::load_dir(dir, prompts, &reserved)?;
        Ok(DialplanRegistry { dir: dir.to_path_buf(), reserved, current: RwLock::new(Arc::new(set)), prompts: None })
    }

    /// Makes every reload and validation read the store's directory again first, and a
    /// reload put the new recordings in force with the new flows (both or neither). The
    /// library the callers of [`reload`](Self::reload) pass is then not used.
    pub fn with_prompt_store(mut self, store: Arc<PromptStore>) -> Self {
        self.prompts = Some(store);
        self
    }

    /// The store's directory read again, when the registry has the server's prompts.
    fn fresh_prompts(&self) -> Result<Option<PromptLibrary>, DialplanError> {
        let Some(store) = &self.prompts else { return Ok(None) };
        crate::ivr::prompts::load(store.dir(), store.current().default_language()).map(Some).map_err(|e| {
            let mut problems: Vec<DialplanError> = e.into_problems().into_iter().map(prompt_problem).collect();
            if problems.len() == 1 {
                problems.remove(0)
            } else {
                DialplanError::Several(problems)
            }
        })
    }

    /// The flows serving new calls.
    pub fn current(&self) -> Arc<Dialplans> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the directory again. On any error the set in force keeps serving and the
    /// error (with file and line) is returned.
    pub fn reload(&self, prompts: &PromptLibrary) -> Result<Reloaded, DialplanError> {
        let checked = self.fresh_prompts().and_then(|fresh| {
            let set = Dialplans::load_dir(&self.dir, fresh.as_ref().unwrap_or(prompts), &self.reserved)?;
            Ok((fresh, set))
        });
        let (fresh, set) = match checked {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "dialplan reload refused; the flows and prompts in force keep serving");
                return Err(e);
            }
        };
        if let (Some(store), Some(lib)) = (&self.prompts, fresh) {
            store.install(lib);
        }
        let plans: Vec<(String, String)> = set.plans.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
        tracing::info!(flows = ?plans, "dialplans reloaded");
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(Reloaded { plans })
    }

    /// Loads and checks the directory exactly as [`reload`](Self::reload) would, without
    /// putting the result in force: operators see what a reload would do (the flows and
    /// their versions, or every problem with its file and line) before doing it.
    pub fn validate(&self, prompts: &PromptLibrary) -> Result<Dialplans, DialplanError> {
        let fresh = self.fresh_prompts()?;
        Dialplans::load_dir(&self.dir, fresh.as_ref().unwrap_or(prompts), &self.reserved)
    }

    /// The directory the flows come from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A recording refused on reload, as a problem naming its file.
fn prompt_problem(e: PromptError) -> DialplanError {
    let path = match &e {
        PromptError::Io { path, .. } | PromptError::BadWav { path, .. } | PromptError::Unsupported { path, .. } => {
            path.clone()
        }
        PromptError::NoDefaultLanguage { dir, .. } => dir.clone(),
        PromptError::Several(_) => PathBuf::new(),
    };
    let message = e.to_string();
    let message = message.strip_prefix(&format!("{}: ", path.display())).unwrap_or(&message).to_string();
    DialplanError::Prompt { path, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn validate_reports_every_problem_and_changes_nothing() {
        let prompts = crate::ivr::prompts::load(&root().join("prompts"), "fr").unwrap();
        let dir =
            std::env::temp_dir().join(format!("ivrpay-validate-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let shipped = std::fs::read_to_string(root().join("dialplans/invoice-payment.toml")).unwrap();
        let file = dir.join("invoice-payment.toml");
        std::fs::write(&file, &shipped).unwrap();
        let reg = DialplanRegistry::load(&dir, &prompts, vec!["echo".into()]).unwrap();
        let v1 = reg.current().plans()[0].version.clone();
        assert_eq!(v1, super::super::parse::version_of(&shipped));

        let bad = shipped
            .replace("next = \"choose_language\"", "next = \"nowhere\"")
            .replace("kind = \"hangup\"", "kind = \"hang_up\"");
        std::fs::write(&file, &bad).unwrap();
        let err = reg.validate(&prompts).unwrap_err();
        let lines: Vec<usize> = err.problems().iter().map(|p| p.location().1).collect();
        let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let mut want = vec![line_of("next = \"nowhere\""), line_of("kind = \"hang_up\"")];
        want.sort();
        assert_eq!(lines, want, "{err}");
        assert!(err.problems().iter().all(|p| p.location().0 == file));
        assert!(
            err.problems()[0].message().contains("nowhere") || err.problems()[1].message().contains("nowhere"),
            "{err}"
        );
        assert_eq!(reg.current().plans()[0].version, v1, "validating puts nothing in force");

        let fixed = shipped.replace("\"3900\"", "\"3901\"");
        std::fs::write(&file, &fixed).unwrap();
        let set = reg.validate(&prompts).unwrap();
        assert_eq!(set.plans()[0].version, super::super::parse::version_of(&fixed));
        assert_eq!(reg.current().plans()[0].version, v1, "still not in force until a reload");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ivrpay-{tag}-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A library holding every prompt the shipped flow names and every fragment but
    /// `without`, in French and English.
    fn library_without(without: &str) -> PromptLibrary {
        use crate::ivr::prompts::Prompt;
        let shipped = std::fs::read_to_string(root().join("dialplans/invoice-payment.toml")).unwrap();
        let plan = parse(Path::new("x.toml"), &shipped, &|_| true).unwrap();
        let mut lib = PromptLibrary::empty("fr");
        for (lang, say_lang) in [("fr", Language::Fr), ("en", Language::En)] {
            let names =
                plan_prompt_names(&plan).into_iter().chain(say::fragment_names(say_lang).into_iter().map(String::from));
            for name in names.filter(|n| n != without) {
                lib.insert(Prompt::from_pcm(&name, lang, vec![0; 80]));
            }
        }
        lib
    }

    #[test]
    fn a_fragment_missing_in_every_language_is_refused_with_its_file() {
        let dir = tempdir("fragments");
        let shipped = std::fs::read_to_string(root().join("dialplans/invoice-payment.toml")).unwrap();
        std::fs::write(dir.join("invoice-payment.toml"), &shipped).unwrap();
        // Another file with its own problem: both are reported.
        let other = shipped
            .replace("\"pay\", \"3900\"", "\"other\", \"3900\"")
            .replace("name = \"invoice-payment\"", "name = \"other\"");
        std::fs::write(dir.join("other.toml"), &other).unwrap();
        assert!(Dialplans::load_dir(&dir, &library_without("none"), &[]).is_err(), "3900 twice");
        std::fs::remove_file(dir.join("other.toml")).unwrap();
        Dialplans::load_dir(&dir, &library_without("none"), &[]).expect("every fragment recorded");

        let err = Dialplans::load_dir(&dir, &library_without("cur_eur_n"), &[]).unwrap_err();
        let problems = err.problems();
        assert_eq!(problems.len(), 2, "one per language the flow speaks: {err}");
        let fr = shipped.lines().position(|l| l.starts_with("language = \"fr\"")).unwrap() + 1;
        let en = shipped.lines().position(|l| l.starts_with("language = \"en\"")).unwrap() + 1;
        assert_eq!(problems[0].location(), (dir.join("invoice-payment.toml"), fr));
        assert_eq!(problems[1].location(), (dir.join("invoice-payment.toml"), en));
        assert!(problems[0].message().contains("fr/cur_eur_n.wav is missing"), "{err}");
        assert!(problems[1].message().contains("en/cur_eur_n.wav is missing"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn duplicate_and_reserved_numbers_are_each_reported_with_the_other_files_problems() {
        let dir = tempdir("numbers");
        let shipped = std::fs::read_to_string(root().join("dialplans/invoice-payment.toml")).unwrap();
        std::fs::write(dir.join("a.toml"), &shipped).unwrap();
        let b = shipped.replace("\"pay\", \"3900\"", "\"3900\", \"echo\"");
        std::fs::write(dir.join("b.toml"), &b).unwrap();
        let c = shipped.replace("next = \"choose_language\"", "next = \"nowhere\"");
        std::fs::write(dir.join("c.toml"), &c).unwrap();
        let prompts = crate::ivr::prompts::load(&root().join("prompts"), "fr").unwrap();
        let err = Dialplans::load_dir(&dir, &prompts, &["echo".into()]).unwrap_err();
        let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3, "{err}");
        assert!(problems[0].contains("b.toml") && problems[0].contains("'3900' is already answered"), "{err}");
        assert!(problems[1].contains("b.toml") && problems[1].contains("'echo' is the line-test"), "{err}");
        assert!(problems[2].contains("c.toml") && problems[2].contains("nowhere"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_reload_reads_the_prompts_again_first_and_refuses_a_bad_recording() {
        let prompts_dir = tempdir("prompts");
        for lang in ["fr", "en"] {
            std::fs::create_dir_all(prompts_dir.join(lang)).unwrap();
            for e in std::fs::read_dir(root().join("prompts").join(lang)).unwrap() {
                let p = e.unwrap().path();
                std::fs::copy(&p, prompts_dir.join(lang).join(p.file_name().unwrap())).unwrap();
            }
        }
        let flows = tempdir("flows");
        let shipped = std::fs::read_to_string(root().join("dialplans/invoice-payment.toml")).unwrap();
        std::fs::write(flows.join("invoice-payment.toml"), &shipped).unwrap();
        let lib = crate::ivr::prompts::load(&prompts_dir, "fr").unwrap();
        let reg = DialplanRegistry::load(&flows, &lib, vec![]).unwrap();
        let store = Arc::new(PromptStore::new(&prompts_dir, lib));
        let reg = reg.with_prompt_store(store.clone());

        // A flow naming a recording not there yet is refused, naming it...
        let v2 = shipped.replace("prompts = [\"pay_welcome\"]", "prompts = [\"pay_welcome_2027\"]");
        std::fs::write(flows.join("invoice-payment.toml"), &v2).unwrap();
        let err = reg.reload(&store.current()).unwrap_err();
        assert!(err.to_string().contains("pay_welcome_2027"), "{err}");
        // ...and accepted once it is recorded, without a restart.
        std::fs::copy(prompts_dir.join("fr/pay_welcome.wav"), prompts_dir.join("fr/pay_welcome_2027.wav")).unwrap();
        let before = store.current();
        reg.reload(&before).expect("the new recording is read on reload");
        assert!(store.current().has("fr", "pay_welcome_2027"), "the new prompts are in force");
        assert!(!before.has("fr", "pay_welcome_2027"), "calls in progress keep the library they hold");
        let v2_version = reg.current().plans()[0].version.clone();

        // A bad recording refuses the whole reload: flows and prompts in force stay.
        std::fs::write(prompts_dir.join("en/broken.wav"), b"RIFF not really").unwrap();
        std::fs::write(flows.join("invoice-payment.toml"), shipped.replace("\"3900\"", "\"3901\"")).unwrap();
        let err = reg.reload(&store.current()).unwrap_err();
        assert_eq!(err.location().0, prompts_dir.join("en/broken.wav"), "{err}");
        assert_eq!(reg.current().plans()[0].version, v2_version);
        assert!(reg.current().for_number("3901").is_none());
        let _ = std::fs::remove_dir_all(&prompts_dir);
        let _ = std::fs::remove_dir_all(&flows);
    }
}
