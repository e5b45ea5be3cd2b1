//! French: the agreement rules that decide which fragment plays.
//!
//! - 21 … 61 take "et un", 71 "soixante et onze", 81 and 91 none ("quatre-vingt-un"):
//!   handled by recording every number below 100 whole.
//! - "quatre-vingts" and "cents" (200, 300, …) keep their s at the end of the numeral and
//!   before the nouns "million(s)" and "milliard(s)", and lose it before another numeral
//!   word: "deux cents", "deux cents millions", but "deux cent un", "deux cent mille",
//!   "quatre-vingt mille". "cent" and "mille" are never preceded by "un"; "mille" never
//!   takes an s; "million" and "milliard" are nouns ("un million", "deux millions").
//! - Before a feminine unit (livre sterling) the last "un" becomes "une": "une livre",
//!   "vingt et une livres", "mille une livres"; "un" before "mille" or "million" stays.
//! - A unit is singular for 0 and 1 ("zéro euro", "un euro"); after an exact number of
//!   millions or milliards it takes "de" ("un million d'euros", "deux milliards de yens").

use super::{digits_into, groups, units, Units, DAY, MAX_NUMBER, MONTH, NUM};
use crate::payments::money::Currency;
use chrono::Datelike;

/// Grammatical gender of what is counted; only "un"/"une" changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Gender {
    Masculine,
    Feminine,
}

/// Where a group below 1000 stands: at the end of the numeral (or before a noun such as
/// "millions" or "euros"), or before "mille", which makes "cents"/"quatre-vingts" lose
/// their s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    End,
    BeforeMille,
}

/// The fragments only French uses.
pub(super) fn extra_names() -> Vec<&'static str> {
    let mut v = vec![
        "num_80_link",
        "num_hundred",
        "num_hundreds",
        "num_thousand",
        "num_million",
        "num_millions",
        "num_billion",
        "num_billions",
        "day_1",
    ];
    v.extend(FEMININE.iter().map(|(_, name)| *name));
    v
}

/// Numbers whose last word is "un", with their feminine fragment.
const FEMININE: [(u64, &str); 7] = [
    (1, "num_1_f"),
    (21, "num_21_f"),
    (31, "num_31_f"),
    (41, "num_41_f"),
    (51, "num_51_f"),
    (61, "num_61_f"),
    (81, "num_81_f"),
];

/// Appends the numeral for `n` agreeing with `gender`.
pub(super) fn numeral(n: u64, gender: Gender, out: &mut Vec<&'static str>) {
    if n > MAX_NUMBER {
        digits_into(&n.to_string(), out);
        return;
    }
    if n == 0 {
        out.push(NUM[0]);
        return;
    }
    let [billions, millions, thousands, rest] = groups(n);
    for (count, one, many) in [(billions, "num_billion", "num_billions"), (millions, "num_million", "num_millions")] {
        if count > 0 {
            below_1000(count, Position::End, Gender::Masculine, out);
            out.push(if count == 1 { one } else { many });
        }
    }
    if thousands > 0 {
        if thousands > 1 {
            below_1000(thousands, Position::BeforeMille, Gender::Masculine, out);
        }
        out.push("num_thousand");
    }
    if rest > 0 {
        below_1000(rest, Position::End, gender, out);
    }
}

/// 1 ..= 999.
fn below_1000(n: u64, pos: Position, gender: Gender, out: &mut Vec<&'static str>) {
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        if hundreds > 1 {
            out.push(NUM[hundreds as usize]);
        }
        let plural = hundreds > 1 && rest == 0 && pos == Position::End;
        out.push(if plural { "num_hundreds" } else { "num_hundred" });
    }
    if rest > 0 {
        out.push(below_100(rest, pos, gender));
    }
}

/// 1 ..= 99.
fn below_100(n: u64, pos: Position, gender: Gender) -> &'static str {
    if n == 80 && pos == Position::BeforeMille {
        return "num_80_link";
    }
    if gender == Gender::Feminine {
        if let Some((_, name)) = FEMININE.iter().find(|(v, _)| *v == n) {
            return name;
        }
    }
    NUM[n as usize]
}

/// Appends "<major> <unit>[ et <minor> <minor unit>]".
pub(super) fn amount(major: u64, minor: u64, currency: Currency, out: &mut Vec<&'static str>) {
    let u: Units = units(currency);
    let gender = if currency == Currency::Gbp { Gender::Feminine } else { Gender::Masculine };
    numeral(major, gender, out);
    out.push(if major >= 1_000_000 && major.is_multiple_of(1_000_000) && major <= MAX_NUMBER {
        u.de
    } else if major <= 1 {
        u.one
    } else {
        u.many
    });
    if minor > 0 {
        out.push("word_and");
        numeral(minor, Gender::Masculine, out);
        out.push(if minor == 1 { u.minor_one } else { u.minor_many });
    }
}

/// Appends "<premier|day> <month> <year>".
pub(super) fn date(d: chrono::NaiveDate, out: &mut Vec<&'static str>) {
    match d.day() {
        1 => out.push(DAY[0]),
        day => out.push(NUM[day as usize]),
    }
    out.push(MONTH[d.month0() as usize]);
    numeral(u64::from(d.year().unsigned_abs()), Gender::Masculine, out);
}
