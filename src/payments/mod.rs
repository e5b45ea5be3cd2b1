//! Payments: invoices (pre-transactions) and their payment codes, merchants, money, card
//! checks, the transaction record, the gateway to the payment platform (simulator and
//! Sips connector), taking a payment exactly once, cash operations and duplicates through
//! the platform, recovery of payments whose outcome was not recorded, and the background
//! jobs (capture, expiry, recovery). The pure domain the call flow also needs (money,
//! cards, check digits, invoices, merchants) is `ivrpay_proto::payments`, re-exported
//! here. Knows nothing of SIP or RTP, nor of the database: what it reads and writes
//! goes through the [`ledger::Ledger`] trait, which the store implements.

pub use ivrpay_proto::payments::{card, check_digit, invoice, money, status};
pub mod authorize;
pub mod cash;
pub mod clock;
pub mod duplicate;
pub mod gateway;
pub mod http;
pub mod import;
pub mod jobs;
pub mod ledger;
pub mod merchant;
pub mod notify;
pub mod operations;
pub mod operations_log;
pub mod recovery;
pub mod seal;
pub mod sim_ledger;
pub mod simulator;
pub mod simulator_rules;
pub mod sips;
pub mod sips_sim;
pub mod tls;
pub mod transaction;
