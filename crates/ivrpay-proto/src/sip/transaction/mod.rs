//! RFC 3261 section 17 transactions as sans-IO state machines.
//!
//! Each machine speaks the one shape of every ivrpay core: inputs (messages,
//! `handle_timeout`) carry the current `Instant`; what to send and what happened are
//! queued and taken with `poll_output`; the next wake-up is `poll_timeout`. A machine
//! keeps the bytes it may have to send again and never reads a clock. The call's SIP leg
//! owns its transactions and the call's driver wakes it; tests drive the same machines on virtual
//! time, which is how every timer below is checked without sleeping.

mod client_invite;
mod client_non_invite;
mod server_invite;
mod server_non_invite;
mod server_table;
mod timers;

pub use client_invite::{ClientInvite, ClientInviteError, ClientInviteOutput, ClientInviteState, TIMER_D_UDP};
pub use client_non_invite::{ClientNonInvite, ClientOutput};
pub use server_invite::{InviteOutput, InviteServer, InviteState};
pub use server_non_invite::{NonInviteOutput, NonInviteServer};
pub use server_table::{ServerTable, MAX_DIALOG_TRANSACTIONS};
pub use timers::{Backoff, Timers};
