//! A call's sans-IO side: the SIP leg (INVITE server transaction, dialog, in-dialog
//! requests, BYE, guard timers). Knows nothing of sockets, tasks or storage; the root
//! package's `call::task` drives it.
pub mod core;
pub mod leg;
