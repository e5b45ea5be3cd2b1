//! Interactive voice response: prompts and the applications that talk to callers.

pub mod app;
pub mod echo;
pub mod generate;
pub mod manifest;
pub mod prompts;
pub mod say;
