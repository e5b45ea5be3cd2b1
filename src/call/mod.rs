//! A call, the IO half. The sans-IO half (the SIP leg and the `Call` core that
//! orchestrates leg, application, media and payments) is `ivrpay_proto::call`,
//! re-exported here as `call::leg` and `call::core`. This folder owns what touches the
//! world: admission (call permits on a semaphore, draining), the registry of calls by
//! Call-ID, the environment a call is given ([`env::CallEnv`]: outbound SIP, pacer,
//! live view, records, and the [`services::CallServices`] that look up invoices and take
//! payments), the tokio task that drives one call's core with its sockets and timer, the
//! call record, and the operator's view of calls in progress. It must not decide call
//! behaviour (that is the core's) and must not know the server that routes to it.

pub mod admission;
pub mod answering;
pub use ivrpay_proto::call::{core, leg};
pub mod env;
mod execute;
pub mod live;
mod media_io;
mod record;
pub mod record_writer;
pub mod registry;
pub mod services;
mod setup;
pub mod task;
