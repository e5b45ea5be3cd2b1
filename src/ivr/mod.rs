//! Interactive voice response: prompts (recordings, manifests, generation), dialplans
//! and the applications that talk to callers (the dialplan engine, the line-test echo
//! service).

pub mod app;
pub mod check;
pub mod dialplan;
pub mod echo;
pub mod engine;
pub mod generate;
pub mod manifest;
pub mod prompt_store;
pub mod prompts;
pub mod say;
