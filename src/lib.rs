//! ivrpay: pay invoices over the phone.
//!
//! A SIP user agent answers the payment line, plays recorded prompts over RTP, collects
//! DTMF and drives a call flow; behind it a payments core finds the invoice, checks and
//! authorizes the card and records a non-guaranteed transaction; an extranet lets
//! merchants create invoices and operators manage prompts. The README's "How it is built"
//! walks through how the parts fit.

// Every public item says why it exists; clippy's `-D warnings` in CI makes this binding.
#![warn(missing_docs)]

pub mod call;
pub mod caller;
pub mod cli;
pub mod config;
pub mod extranet;
pub mod ivr;
pub mod media;
pub mod panics;
pub mod payments;
pub mod secret_input;
pub mod server;
pub mod sip;
pub mod store;
