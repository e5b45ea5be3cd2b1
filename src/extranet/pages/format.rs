//! How values read on a page: amounts with the language's decimal mark, instants in
//! UTC (said so on the page), payment codes in groups of three for reading aloud,
//! statuses in words, and query strings built safely.

use super::i18n::Lang;
use crate::payments::money::{Currency, Money};

/// `123,45 EUR` in French, `123.45 EUR` in English; an unknown currency shows raw.
pub fn money(lang: Lang, minor: i64, currency: Currency) -> String {
    let s = Money { minor, currency }.to_string();
    match lang {
        Lang::Fr => s.replacen('.', ",", 1),
        Lang::En => s,
    }
}

/// An amount in minor units as a form shows it (`123.45`), for pre-filled fields.
pub fn decimal(minor: i64, currency: Currency) -> String {
    match Some(currency) {
        Some(c) if c.exponent() > 0 => {
            let unit = 10i64.pow(c.exponent());
            format!("{}.{:0w$}", minor / unit, minor % unit, w = c.exponent() as usize)
        }
        _ => minor.to_string(),
    }
}

/// `2026-11-23 14:05 UTC`.
pub fn datetime(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

/// `2026-11-23 14:05:09 UTC`: calls last seconds, not days.
pub fn datetime_s(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// A call's length: `42 s`, `3 min 05 s`, `1 h 02 min` (the same in both languages).
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

/// A call's outcome in words (`None`: the call is in progress or its end was never
/// recorded).
pub fn outcome(lang: Lang, o: Option<&str>) -> &'static str {
    let t = lang.texts();
    match o {
        Some("paid") => t.outcome_paid,
        Some("refused") => t.outcome_refused,
        Some("abandoned") => t.outcome_abandoned,
        Some("invalid_invoice") => t.outcome_invalid_invoice,
        Some("platform_error") => t.outcome_platform_error,
        Some("completed") => t.outcome_completed,
        Some(_) => "?",
        None => t.outcome_none,
    }
}

/// `2026-11-23`.
pub fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// `480 152 736`: easier to read out and to type.
pub fn grouped(code: &str) -> String {
    code.as_bytes().chunks(3).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// An invoice or transaction status in words.
pub fn status(lang: Lang, s: &str) -> &'static str {
    let (fr, en) = match s {
        "PAYABLE" => ("À payer", "Payable"),
        "PAID" => ("Payée", "Paid"),
        "CANCELLED" => ("Annulée", "Cancelled"),
        "EXPIRED" => ("Expirée", "Expired"),
        "PENDING" => ("En cours", "Pending"),
        "TO_CAPTURE" => ("À remettre", "To capture"),
        "TO_VALIDATE" => ("À valider", "To validate"),
        "CAPTURED" => ("Remise", "Captured"),
        "REFUSED" => ("Refusée", "Refused"),
        "CREDITED" => ("Remboursée", "Refunded"),
        "TO_CREDIT" => ("À rembourser", "To refund"),
        _ => ("?", "?"),
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from non-empty pairs (`?a=1&b=x%20y`), or nothing.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> =
        pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", url_encode(v))).collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(money(Lang::Fr, 12345, Currency::Eur), "123,45 EUR");
        assert_eq!(money(Lang::En, 12345, Currency::Eur), "123.45 EUR");
        assert_eq!(money(Lang::Fr, 1500, Currency::Jpy), "1500 JPY");
        assert_eq!(decimal(12305, Currency::Eur), "123.05");
        assert_eq!(grouped("480152736"), "480 152 736");
        assert_eq!(datetime(0), "1970-01-01 00:00 UTC");
        assert_eq!(query(&[("status", "PAID"), ("reference", "F 1&2"), ("x", "")]), "?status=PAID&reference=F%201%262");
        assert_eq!(status(Lang::Fr, "CREDITED"), "Remboursée");
        assert_eq!(datetime_s(1_500), "1970-01-01 00:00:01 UTC");
        assert_eq!([duration(42_900), duration(185_000), duration(3_720_000)], ["42 s", "3 min 05 s", "1 h 02 min"]);
        assert_eq!(outcome(Lang::Fr, Some("invalid_invoice")), "Facture non payable");
        assert_eq!(outcome(Lang::En, None), "In progress or interrupted");
    }
}
