//! Media: RTP in and out, G.711, DTMF detection, and the shared clock that paces every
//! call's outgoing audio. Knows nothing of SIP or payments.

pub mod clip;
pub mod clock;
pub mod codec;
pub mod g711;
pub mod inband;
pub mod inbound;
pub mod pacer;
pub mod pacer_thread;
pub mod ports;
pub mod rfc4733;
pub mod rtp;
