//! The payment facts a call flow needs, free of IO: money and currencies, card checks
//! (Luhn, brands, expiry, security code, wiping types), Damm check digits, invoices and
//! their payment codes, merchants and the status of a transaction. The root package's `payments` re-exports these beside the
//! platform connectors, storage-backed flows and jobs.
pub mod card;
pub mod check_digit;
#[cfg(test)]
pub mod fixtures;
pub mod invoice;
pub mod merchant;
pub mod money;
pub mod status;
