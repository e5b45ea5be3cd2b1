//! A call, the IO half. The sans-IO half (the SIP leg and the `Call` core that
//! orchestrates leg, application, media and payments) is `ivrpay_proto::call`,
//! re-exported here as `call::leg` and `call::core`. This folder owns what touches the
//! world: admission (call permits on a semaphore, draining), the tokio task that drives
//! one call's core with its sockets and timer, the IO the core asks for (invoice lookup,
//! authorization), the call record, and the operator's view of calls in progress. It must
//! not decide call behaviour: that is the core's.

mod actions;
pub mod admission;
pub use ivrpay_proto::call::{core, leg};
pub mod live;
mod record;
pub mod task;
