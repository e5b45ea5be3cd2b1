//! Media. The sans-IO parts (RTP, G.711, DTMF detection, the pacer's core) are
//! `ivrpay_proto::media`, re-exported here; this folder adds what touches the system:
//! RTP port allocation (real sockets).
pub use ivrpay_proto::media::*;
pub mod pacer;
pub mod ports;
