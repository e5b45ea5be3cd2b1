//! Media. The sans-IO parts (RTP, G.711, DTMF detection, clips, the pacer's core) are
//! `ivrpay_proto::media`, re-exported here; this folder adds what touches the system:
//! the pacer's threads (one per core, sleeping to an absolute 20 ms schedule, real-time
//! priority) and RTP port allocation (real sockets). It must not know calls, call flows
//! or payments: the pacer plays clips on streams, whoever owns them.
pub use ivrpay_proto::media::*;
pub mod pacer_thread;
pub mod ports;
