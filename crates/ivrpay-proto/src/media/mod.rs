//! Media without IO: RTP packets, G.711, DTMF detection (RFC 4733 and in-band), and the
//! pacer's schedule of every call's outgoing audio. Knows nothing of SIP or payments;
//! port allocation and the pacer's threads are the root package's (`ivrpay::media`).

pub mod clip;
pub mod clock;
pub mod codec;
pub mod g711;
pub mod inband;
pub mod inbound;
pub mod pacer;
pub mod rfc4733;
pub mod rtp;
