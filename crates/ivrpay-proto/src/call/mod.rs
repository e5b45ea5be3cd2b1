//! A call's sans-IO side: the SIP leg (INVITE server transaction, dialog, in-dialog
//! requests, BYE, and its timer table) and the `Call` core that owns one call's
//! orchestration (leg, application, inbound media, authorizations in flight, ending,
//! what the record and the live view are told). Knows nothing of sockets, tasks,
//! storage or the clock; the root package's `call::task` drives it. The caller leg is
//! the other end (`ivrpay call`), and the test-only `Pair` joins both on virtual time.
pub mod caller_leg;
pub mod core;
pub mod leg;
pub mod media_gate;

#[cfg(test)]
mod pair;
