//! RFC 3261 section 17 transactions as sans-IO state machines.
//!
//! Each machine is fed messages and the current `Instant`, keeps the bytes it may have to
//! send again, and says when it next needs to wake (`poll_timeout`). The call task owns
//! its transactions and a tokio timer wakes it; tests drive the same machines on virtual
//! time, which is how every timer below is checked without sleeping.

mod client_non_invite;
mod server_invite;
mod server_non_invite;
mod timers;

pub use client_non_invite::{ClientNonInvite, ClientOutput};
pub use server_invite::{InviteOutput, InviteServer, InviteState};
pub use server_non_invite::NonInviteServer;
pub use timers::{Backoff, Timers};
