//! `ivrpay check`: everything the server would refuse at start, found before a deploy.
//! Loads the prompts and the dialplans exactly as the server does, and checks that
//! every fragment used to say amounts, dates and digits exists in each language a flow
//! speaks.

use super::dialplan::registry::{plan_languages, Dialplans};
use super::dialplan::DialplanError;
use super::prompts::{PromptError, PromptLibrary};
use super::say::{self, Language};
use crate::config::Config;
use std::fmt::Write;
use std::path::PathBuf;

/// Why the check failed (the first problem, with its file and line).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A recording could not be read.
    #[error(transparent)]
    Prompts(#[from] PromptError),
    /// A dialplan was refused.
    #[error(transparent)]
    Dialplan(#[from] DialplanError),
    /// A manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] super::manifest::ManifestError),
    /// A fragment needed to say values has no recording in any language.
    #[error("{path}: missing: flow '{flow}' needs it to say amounts, dates and digits in '{lang}'")]
    MissingFragment { path: PathBuf, flow: String, lang: String },
}

/// Checks the configuration's prompts and dialplans; returns a short report.
pub fn check(cfg: &Config) -> Result<String, CheckError> {
    let lib = PromptLibrary::load(&cfg.prompts.dir, &cfg.prompts.default_language)?;
    let reserved: Vec<String> = cfg.services.echo.iter().chain(&cfg.services.echo_loop).cloned().collect();
    let plans = Dialplans::load_dir(&cfg.dialplans.dir, &lib, &reserved)?;
    let mut report = String::new();
    let langs: Vec<&str> = lib.languages().collect();
    let _ = writeln!(report, "prompts OK: {} ({})", cfg.prompts.dir.display(), langs.join(", "));
    for lang in &langs {
        let path = super::manifest::manifest_path(&cfg.prompts.dir, lang);
        if !path.exists() {
            continue;
        }
        let manifest = super::manifest::Manifest::load(&cfg.prompts.dir, lang)?;
        let missing: Vec<&str> = manifest.missing(&lib).iter().map(|e| e.name.as_str()).collect();
        if !missing.is_empty() {
            let _ = writeln!(
                report,
                "warning: {lang}: {} prompt(s) of {} not recorded (the default language plays): {}",
                missing.len(),
                path.display(),
                missing.join(", ")
            );
        }
    }
    for plan in plans.plans() {
        for lang in plan_languages(plan) {
            let Some(say_lang) = Language::from_code(&lang) else { continue };
            for name in say::fragment_names(say_lang) {
                if lib.get(&lang, name).is_none() {
                    return Err(CheckError::MissingFragment {
                        path: cfg.prompts.dir.join(&lang).join(format!("{name}.wav")),
                        flow: plan.name.clone(),
                        lang,
                    });
                }
            }
        }
        let _ = writeln!(
            report,
            "dialplan OK: {} ({}), numbers {}, {} steps, version {}",
            plan.name,
            plan.path.display(),
            plan.numbers.join(", "),
            plan.steps.len(),
            plan.version
        );
    }
    Ok(report)
}
