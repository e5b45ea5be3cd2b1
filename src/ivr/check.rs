//! `ivrpay check`: everything the server would refuse at start, found before a deploy.
//! Loads the prompts and the dialplans exactly as the server does (including the check
//! that every fragment used to say amounts, dates and digits exists in each language a
//! flow speaks) and reports each problem with its file and line, not only the first:
//! a bad recording does not hide a bad dialplan, nor one file another.

use super::dialplan::registry::Dialplans;
use crate::config::Config;
use std::fmt::Write;

/// Why the check failed: each problem found.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Each problem, one per line, each naming its file (and line, for dialplans).
    #[error("{} problem(s):\n{}", .0.len(), .0.join("\n"))]
    Problems(Vec<String>),
}

/// Checks the configuration's prompts and dialplans; returns a short report, or every
/// problem found.
pub fn check(cfg: &Config) -> Result<String, CheckError> {
    let mut problems: Vec<String> = Vec::new();
    let mut report = String::new();
    let lib = match crate::ivr::prompts::load_all(&cfg.prompts.dir, &cfg.prompts.default_language) {
        Ok((lib, errors)) => {
            problems.extend(errors.into_iter().flat_map(|e| e.into_problems()).map(|e| e.to_string()));
            Some(lib)
        }
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    if let Some(lib) = &lib {
        let langs: Vec<&str> = lib.languages().collect();
        if problems.is_empty() {
            let _ = writeln!(report, "prompts OK: {} ({})", cfg.prompts.dir.display(), langs.join(", "));
        }
        for lang in &langs {
            let path = super::manifest::manifest_path(&cfg.prompts.dir, lang);
            if !path.exists() {
                continue;
            }
            let manifest = match super::manifest::Manifest::load(&cfg.prompts.dir, lang) {
                Ok(m) => m,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            let missing: Vec<&str> = manifest.missing(lib).iter().map(|e| e.name.as_str()).collect();
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
        let reserved: Vec<String> = cfg.services.echo.iter().chain(&cfg.services.echo_loop).cloned().collect();
        match Dialplans::load_dir(&cfg.dialplans.dir, lib, &reserved) {
            Ok(plans) => {
                for plan in plans.plans() {
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
            }
            Err(e) => problems.extend(e.problems().iter().map(|p| p.to_string())),
        }
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(CheckError::Problems(problems))
    }
}
