//! Dialplans: the model and parser are `ivrpay_proto::ivr::dialplan` (re-exported); the
//! registry that reads `dialplans/*.toml` from disk and swaps them whole on reload is here.
pub use ivrpay_proto::ivr::dialplan::*;
pub mod registry;
