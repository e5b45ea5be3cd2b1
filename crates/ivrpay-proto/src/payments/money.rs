//! Money: an integer count of minor units and an ISO 4217 currency. Never floats, so
//! amounts add up to the cent in journals and the amount read to the caller is exact.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The currencies the platform accepts for invoices, with their minor-unit exponent
/// and ISO 4217 numeric code (used by the Sips `currencyCode` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    /// Euro (978, cents): the default when an invoice names no currency.
    #[serde(rename = "EUR")]
    Eur,
    /// US dollar (840, cents).
    #[serde(rename = "USD")]
    Usd,
    /// Pound sterling (826, pence).
    #[serde(rename = "GBP")]
    Gbp,
    /// Swiss franc (756, centimes).
    #[serde(rename = "CHF")]
    Chf,
    /// Yen (392): no minor unit, so an amount is whole yen.
    #[serde(rename = "JPY")]
    Jpy,
}

impl Currency {
    /// All supported currencies.
    pub const ALL: [Currency; 5] = [Currency::Eur, Currency::Usd, Currency::Gbp, Currency::Chf, Currency::Jpy];

    /// Alphabetic code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Eur => "EUR",
            Currency::Usd => "USD",
            Currency::Gbp => "GBP",
            Currency::Chf => "CHF",
            Currency::Jpy => "JPY",
        }
    }

    /// Numeric code (Sips `currencyCode`).
    pub fn numeric(self) -> &'static str {
        match self {
            Currency::Eur => "978",
            Currency::Usd => "840",
            Currency::Gbp => "826",
            Currency::Chf => "756",
            Currency::Jpy => "392",
        }
    }

    /// Digits after the decimal point.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
    }

    /// Parses an alphabetic code (case-insensitive).
    pub fn parse(code: &str) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.code().eq_ignore_ascii_case(code))
    }
}

/// An amount of money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    /// Minor units (cents); positive for invoices.
    pub minor: i64,
    /// Currency.
    pub currency: Currency,
}

impl Money {
    /// Major and minor parts (12345 EUR cents is (123, 45)).
    pub fn split(&self) -> (i64, i64) {
        let unit = 10i64.pow(self.currency.exponent());
        (self.minor / unit, self.minor % unit)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (major, minor) = self.split();
        match self.currency.exponent() {
            0 => write!(f, "{major} {}", self.currency.code()),
            e => write!(f, "{major}.{minor:0width$} {}", self.currency.code(), width = e as usize),
        }
    }
}

/// Parses a decimal amount ("123.45", "123,45", "123") into minor units, refusing more
/// decimals than the currency has; used by the CSV import and the web forms.
pub fn parse_decimal(text: &str, currency: Currency) -> Option<i64> {
    let t = text.trim().replace(',', ".");
    let (int, frac) = t.split_once('.').unwrap_or((&t, ""));
    let e = currency.exponent() as usize;
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > e
    {
        return None;
    }
    let major: i64 = int.parse().ok()?;
    let minor: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<e$}").parse().ok()? };
    major.checked_mul(10i64.pow(e as u32))?.checked_add(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_in_minor_units() {
        assert_eq!(Money { minor: 123_456, currency: Currency::Eur }.to_string(), "1234.56 EUR");
        assert_eq!(Money { minor: 5, currency: Currency::Eur }.to_string(), "0.05 EUR");
        assert_eq!(Money { minor: 1500, currency: Currency::Jpy }.to_string(), "1500 JPY");
        assert_eq!(parse_decimal("123.45", Currency::Eur), Some(12345));
        assert_eq!(parse_decimal("123,4", Currency::Eur), Some(12340));
        assert_eq!(parse_decimal("7", Currency::Usd), Some(700));
        assert_eq!(parse_decimal("1.234", Currency::Eur), None);
        assert_eq!(parse_decimal("1.5", Currency::Jpy), None);
        assert_eq!(parse_decimal("-3", Currency::Eur), None);
        assert_eq!(parse_decimal("99999999999999999999", Currency::Eur), None);
        assert_eq!(Currency::parse("eur"), Some(Currency::Eur));
        assert_eq!(Currency::Eur.numeric(), "978");
    }
}
