//! The prompts serving new calls, replaceable while the server runs: an operator
//! uploads a new recording and the next call hears it, while calls in progress keep
//! the library they started with (they hold an `Arc` to it).

use super::prompts::{Prompt, PromptError, PromptLibrary};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The library in force.
#[derive(Debug)]
pub struct PromptStore {
    dir: PathBuf,
    current: RwLock<Arc<PromptLibrary>>,
}

impl PromptStore {
    /// Wraps a loaded library read from `dir`.
    pub fn new(dir: &Path, library: PromptLibrary) -> PromptStore {
        PromptStore { dir: dir.to_path_buf(), current: RwLock::new(Arc::new(library)) }
    }

    /// The library new calls use.
    pub fn current(&self) -> Arc<PromptLibrary> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds or replaces one prompt for new calls (copy on write: calls in progress keep
    /// theirs).
    pub fn replace(&self, prompt: Prompt) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut lib = PromptLibrary::clone(&guard);
        lib.insert(prompt);
        *guard = Arc::new(lib);
    }

    /// Puts a whole library in force for new calls (a reload checked it with the flows).
    pub fn install(&self, library: PromptLibrary) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(library);
    }

    /// Reads the directory again; on error the library in force stays.
    pub fn reload(&self) -> Result<(), PromptError> {
        let default = self.current().default_language().to_string();
        let lib = crate::ivr::prompts::load(&self.dir, &default)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(lib);
        Ok(())
    }

    /// Where the recordings live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
