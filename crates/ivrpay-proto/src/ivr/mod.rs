//! Interactive voice response without IO: prompts as encoded audio, the dialplan model
//! and its parser, the applications that talk to callers (the dialplan engine, the
//! line-test echo service) behind the `CallApp` contract, and the saying of values.
//! Reading recordings and dialplan files from disk is the root package's (`ivrpay::ivr`).

pub mod app;
pub mod dialplan;
pub mod echo;
pub mod engine;
pub mod prompts;
pub mod say;
