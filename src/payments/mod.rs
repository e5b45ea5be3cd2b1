//! Payments: invoices (pre-transactions) and their payment codes, money, card checks,
//! the gateway to the payment platform, and the transaction record. Knows nothing of
//! SIP or RTP.

pub mod authorize;
pub mod card;
pub mod cash;
pub mod check_digit;
pub mod gateway;
pub mod http;
pub mod import;
pub mod invoice;
pub mod money;
pub mod notify;
pub mod seal;
pub mod simulator_rules;
pub mod sips;
pub mod sips_sim;
