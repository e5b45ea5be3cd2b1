//! A call: its SIP leg (sans-IO) and the task that drives it with media and the
//! application talking to the caller.

pub mod leg;
pub mod task;
