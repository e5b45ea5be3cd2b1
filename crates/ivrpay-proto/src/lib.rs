//! ivrpay-proto: everything about a phone payment call that can be decided without
//! touching the world. SIP messages, transactions, dialogs and SDP (`sip`); RTP, G.711,
//! RFC 4733, in-band DTMF and the pacer's schedule (`media`); dialplans, the flow engine
//! and the saying of amounts and dates (`ivr`); one call's SIP leg and its orchestration
//! (`call`); and the pure payment facts the flow needs (`payments`: money, card checks,
//! check digits, invoices).
//!
//! What it must not know: sockets, files, databases, threads, the clock or an ambient
//! random generator. Every state machine takes `now` and, where it needs chance, an rng
//! owned by its driver; it returns what to send and when to wake. The root package
//! `ivrpay` drives these machines with tokio, sqlx and axum. Its Cargo.toml has no IO
//! dependency and `tests/proto_is_sans_io.rs` keeps it so.
// Every public item says why it exists; clippy's `-D warnings` in CI makes this binding.
#![warn(missing_docs)]
pub mod call;
pub mod ivr;
pub mod media;
pub mod payments;
pub mod queue;
pub mod sip;
