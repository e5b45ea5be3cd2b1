//! Dialplans: the model and parser are `ivrpay_proto::ivr::dialplan` (re-exported); the
//! registry that reads `dialplans/*.toml` from disk and swaps them whole on reload is here.
//! It must not know calls or SIP: a running call keeps the dialplan it started with.
pub use ivrpay_proto::ivr::dialplan::*;
pub mod registry;
