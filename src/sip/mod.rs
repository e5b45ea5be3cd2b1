//! SIP signalling. The sans-IO parts (messages, SDP, transactions, dialogs, framing,
//! admission) are `ivrpay_proto::sip`, re-exported here under their usual names; this
//! folder adds what touches the network: the UDP/TCP transports and the address a call
//! advertises. It must not know calls, media or payments: a transport hands bytes to
//! an `Inbound` handler and sends what it is given.
pub use ivrpay_proto::sip::*;
pub mod advertise;
pub mod transport;
