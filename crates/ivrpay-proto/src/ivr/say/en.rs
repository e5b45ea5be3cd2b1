//! English (American wording): "one thousand two hundred thirty-four" with no "and"
//! inside a number, so "and" only ever joins the major and minor parts of an amount.
//! Units are singular for exactly one ("one euro", "zero euros"); dates are
//! "December thirty-first, two thousand twenty-six" with recorded ordinals.

use super::{digits_into, groups, units, DAY, MAX_NUMBER, MONTH, NUM};
use crate::payments::money::Currency;
use chrono::Datelike;

/// The fragments only English uses.
pub(super) fn extra_names() -> Vec<&'static str> {
    let mut v = vec!["num_hundred", "num_thousand", "num_million", "num_billion"];
    v.extend(DAY);
    v
}

/// Appends the numeral for `n`.
pub(super) fn numeral(n: u64, out: &mut Vec<&'static str>) {
    if n > MAX_NUMBER {
        digits_into(&n.to_string(), out);
        return;
    }
    if n == 0 {
        out.push(NUM[0]);
        return;
    }
    let [billions, millions, thousands, rest] = groups(n);
    for (count, word) in [(billions, "num_billion"), (millions, "num_million"), (thousands, "num_thousand")] {
        if count > 0 {
            below_1000(count, out);
            out.push(word);
        }
    }
    if rest > 0 {
        below_1000(rest, out);
    }
}

/// 1 ..= 999.
fn below_1000(n: u64, out: &mut Vec<&'static str>) {
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        out.push(NUM[hundreds as usize]);
        out.push("num_hundred");
    }
    if rest > 0 {
        out.push(NUM[rest as usize]);
    }
}

/// Appends "<major> <unit>[ and <minor> <minor unit>]".
pub(super) fn amount(major: u64, minor: u64, currency: Currency, out: &mut Vec<&'static str>) {
    let u = units(currency);
    numeral(major, out);
    out.push(if major == 1 { u.one } else { u.many });
    if minor > 0 {
        out.push("word_and");
        numeral(minor, out);
        out.push(if minor == 1 { u.minor_one } else { u.minor_many });
    }
}

/// Appends "<month> <ordinal day> <year>".
pub(super) fn date(d: chrono::NaiveDate, out: &mut Vec<&'static str>) {
    out.push(MONTH[d.month0() as usize]);
    out.push(DAY[d.day0() as usize]);
    numeral(u64::from(d.year().unsigned_abs()), out);
}
