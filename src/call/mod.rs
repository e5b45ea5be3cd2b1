//! A call: its SIP leg (sans-IO), the task that drives it with media and the
//! application talking to the caller, the IO the application asks for (invoice
//! lookup, authorization), its record, and the operator's view of calls in progress.

mod actions;
pub mod admission;
pub use ivrpay_proto::call::{core, leg};
pub mod live;
mod record;
pub mod task;
