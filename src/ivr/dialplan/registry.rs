//! The dialplans in force, and their reload.
//!
//! All files of the directory are loaded and checked together (a number answered by
//! two files is an error too); only a fully valid set replaces the one serving. A call
//! keeps the `Arc<Dialplan>` it started with, so a reload never changes a flow under a
//! caller's feet.

use super::{parse, Dialplan, DialplanError};
use crate::ivr::prompts::PromptLibrary;
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
            let text =
                std::fs::read_to_string(&path).map_err(|source| DialplanError::Io { path: path.clone(), source })?;
            let plan = match parse(&path, &text, &exists) {
                Ok(p) => Arc::new(p),
                Err(DialplanError::Several(v)) => {
                    errors.extend(v);
                    continue;
                }
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for n in &plan.numbers {
                let line = number_line(&text, n);
                if reserved.contains(n) {
                    return Err(DialplanError::Invalid {
                        path,
                        line,
                        message: format!("number '{n}' is the line-test service's (services.echo)"),
                    });
                }
                if let Some(other) = set.by_number.get(n) {
                    return Err(DialplanError::Invalid {
                        path,
                        line,
                        message: format!("number '{n}' is already answered by {}", other.path.display()),
                    });
                }
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

/// Every prompt a flow names directly (not the fragments used to say values).
pub fn plan_prompt_names(plan: &Dialplan) -> Vec<String> {
    use super::{Item, StepKind};
    let mut names: Vec<String> = Vec::new();
    let mut add = |items: &[Item]| {
        for i in items {
            if let Item::Prompt(p) = i {
                if !names.contains(p) {
                    names.push(p.clone());
                }
            }
        }
    };
    for s in &plan.steps {
        match &s.kind {
            StepKind::Play { items, .. } | StepKind::Authorize { items, .. } | StepKind::Hangup { items } => add(items),
            StepKind::Collect(c) => {
                add(&c.items);
                add(&c.invalid_items);
                add(&c.timeout_items);
                add(&c.failure_items);
                for (_, items) in &c.reason_items {
                    add(items);
                }
            }
            StepKind::Menu(m) => {
                add(&m.items);
                add(&m.invalid_items);
                add(&m.timeout_items);
                add(&m.failure_items);
            }
            StepKind::SetLanguage { .. } | StepKind::Lookup { .. } | StepKind::Branch { .. } => {}
        }
    }
    names
}

/// The set serving now, swapped whole on reload.
#[derive(Debug)]
pub struct DialplanRegistry {
    dir: PathBuf,
    reserved: Vec<String>,
    current: RwLock<Arc<Dialplans>>,
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
        Ok(DialplanRegistry { dir: dir.to_path_buf(), reserved, current: RwLock::new(Arc::new(set)) })
    }

    /// The flows serving new calls.
    pub fn current(&self) -> Arc<Dialplans> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the directory again. On any error the set in force keeps serving and the
    /// error (with file and line) is returned.
    pub fn reload(&self, prompts: &PromptLibrary) -> Result<Reloaded, DialplanError> {
        let set = match self.validate(prompts) {
            Ok(set) => set,
            Err(e) => {
                tracing::error!(error = %e, "dialplan reload refused; the flows in force keep serving");
                return Err(e);
            }
        };
        let plans: Vec<(String, String)> = set.plans.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
        tracing::info!(flows = ?plans, "dialplans reloaded");
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(Reloaded { plans })
    }

    /// Loads and checks the directory exactly as [`reload`](Self::reload) would, without
    /// putting the result in force: operators see what a reload would do (the flows and
    /// their versions, or every problem with its file and line) before doing it.
    pub fn validate(&self, prompts: &PromptLibrary) -> Result<Dialplans, DialplanError> {
        Dialplans::load_dir(&self.dir, prompts, &self.reserved)
    }

    /// The directory the flows come from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn validate_reports_every_problem_and_changes_nothing() {
        let prompts = PromptLibrary::load(&root().join("prompts"), "fr").unwrap();
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
}
