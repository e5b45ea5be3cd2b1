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
        let set = match Dialplans::load_dir(&self.dir, prompts, &self.reserved) {
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

    /// The directory the flows come from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
