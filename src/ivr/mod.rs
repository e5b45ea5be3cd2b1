//! Interactive voice response. The sans-IO parts (the dialplan model and parser, the
//! engine, the echo service, the `CallApp` contract, prompts as audio, saying values) are
//! `ivrpay_proto::ivr`, re-exported here; this folder adds what reads and writes files:
//! prompt recordings and manifests, the replaceable prompt store, the dialplan registry,
//! prompt generation and `ivrpay check`. It must not know calls, SIP or the server:
//! the call core asks the application, the application never reaches out.
pub use ivrpay_proto::ivr::{app, echo, engine, say};
pub mod check;
pub mod dialplan;
pub mod generate;
pub mod manifest;
pub mod prompt_store;
pub mod prompts;
#[cfg(test)]
mod say_tests;
pub mod wav;
