//! Saying numbers, amounts of money, dates and digit strings to a caller, as sequences of
//! recorded fragment prompts: pure functions that return prompt names, so the caller plays
//! `prompts/<lang>/<name>.wav` one after the other and no text-to-speech runs on a call.
//!
//! # Fragment naming scheme
//!
//! A name says what a fragment *means*, not what it sounds like, so the same name exists
//! in every language and the language's `manifest.toml` gives the words to record:
//!
//! | name | meaning | fr | en |
//! |---|---|---|---|
//! | `num_0` … `num_99` | a whole number below 100, as said at the end of a numeral | `num_80` = "quatre-vingts", `num_21` = "vingt et un" | `num_21` = "twenty-one" |
//! | `num_80_link` | 80 followed by another word of the same numeral (fr only) | "quatre-vingt" (as in "quatre-vingt mille") | |
//! | `num_1_f`, `num_21_f` … `num_61_f`, `num_81_f` | feminine forms before a feminine unit (fr only) | "une", "vingt et une", "quatre-vingt-une" | |
//! | `num_hundred`, `num_hundreds` | the hundreds word; `num_hundreds` only in French when "cents" takes its s | "cent", "cents" | "hundred" |
//! | `num_thousand` | | "mille" (invariable) | "thousand" |
//! | `num_million`, `num_millions` | `num_millions` is the French plural | "million", "millions" | "million" |
//! | `num_billion`, `num_billions` | 10⁹; `num_billions` is the French plural | "milliard", "milliards" | "billion" |
//! | `word_and` | joins the major and minor parts of an amount | "et" | "and" |
//! | `cur_<iso>_1`, `cur_<iso>_n` | the major unit, singular and plural (`iso` = eur, usd, gbp, chf, jpy) | "euro", "euros" | "euro", "euros" |
//! | `cur_<iso>_de` | the unit after an exact number of millions or milliards (fr only) | "d'euros" | |
//! | `cur_<iso>_minor_1`, `cur_<iso>_minor_n` | the minor unit (not for JPY) | "centime", "centimes" | "cent", "cents" |
//! | `day_1` … `day_31` | the day of the month in a date (fr: only `day_1`, the others are numbers) | "premier" | "first" … "thirty-first" |
//! | `month_1` … `month_12` | | "janvier" | "January" |
//! | `digit_0` … `digit_9`, `digit_star`, `digit_hash` | telephone keys | "zéro", "étoile", "dièse" | "zero", "star", "hash" |
//! | `letter_a` … `letter_z` | letters of a reference spelt out | "a", "bé" | "A", "B" |
//!
//! One fragment per number below 100 is deliberate: "soixante et onze" or "twenty-one"
//! recorded whole sounds far better than glued tens and units, and it removes the
//! hyphen/"et" rules from concatenation. Words whose form changes with what follows
//! (French "cent"/"cents", "quatre-vingt"/"quatre-vingts", "un"/"une", singular and plural
//! units, "de") are separate fragments, so a sentence is always made of whole words said
//! the way they are said in that position. What concatenation cannot give is a liaison
//! across fragments: "deux euros" is heard without its `[z]`; recording liaison variants of
//! "euros" would be the next refinement.
//!
//! Numbers go up to [`MAX_NUMBER`]; anything larger (never an invoice) is read digit by
//! digit rather than wrongly.

mod en;
mod fr;

use crate::payments::money::Currency;

/// The largest number said as words (999 999 999 999); above it digits are read one by one.
pub const MAX_NUMBER: u64 = 999_999_999_999;

/// A language the phone line can speak; each has its own rules and its own recordings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// French (France): the default for the Sogefactures-style service.
    Fr,
    /// English (American wording: no "and" inside numbers).
    En,
}

impl Language {
    /// Every supported language, so tools can iterate (manifest checks, generation).
    pub const ALL: [Language; 2] = [Language::Fr, Language::En];

    /// Parses the code used for prompt directories (`fr`, `en`), so a call's language
    /// string maps to the rules that go with its recordings.
    pub fn from_code(code: &str) -> Option<Language> {
        match code {
            "fr" => Some(Language::Fr),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    /// The prompt directory code (`prompts/<code>/`).
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

/// Says a whole number (cardinal, masculine), e.g. for a count or a year.
pub fn number(lang: Language, n: u64) -> Vec<&'static str> {
    let mut out = Vec::new();
    match lang {
        Language::Fr => fr::numeral(n, fr::Gender::Masculine, &mut out),
        Language::En => en::numeral(n, &mut out),
    }
    out
}

/// Says an amount given in minor units of `currency` ("douze euros et cinquante
/// centimes"), exactly: integers all the way, using `currency.exponent()`. The minor part
/// is said only when it is not zero; JPY never has one. Invoices are never negative: a
/// negative amount is said as its absolute value.
pub fn amount(lang: Language, minor: i64, currency: Currency) -> Vec<&'static str> {
    let minor = minor.unsigned_abs();
    let unit = 10u64.pow(currency.exponent());
    let (major, sub) = (minor / unit, minor % unit);
    let mut out = Vec::new();
    match lang {
        Language::Fr => fr::amount(major, sub, currency, &mut out),
        Language::En => en::amount(major, sub, currency, &mut out),
    }
    out
}

/// Says a calendar date the way the language does ("premier janvier deux mille
/// vingt-sept", "December thirty-first, two thousand twenty-six").
pub fn date(lang: Language, d: chrono::NaiveDate) -> Vec<&'static str> {
    let mut out = Vec::new();
    match lang {
        Language::Fr => fr::date(d, &mut out),
        Language::En => en::date(d, &mut out),
    }
    out
}

/// Reads a string key by key (payment codes, references): `0`-`9`, `*`, `#`, and letters
/// (case-insensitive) as `letter_x`; anything else (spaces, dashes) is skipped so a code
/// can be given as printed. The same names exist in every language.
pub fn digits(_lang: Language, s: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    digits_into(s, &mut out);
    out
}

/// Every fragment name the functions of this module can return for `lang`, sorted, so
/// `ivrpay check` and the manifest tests can verify each one is described and recorded.
pub fn fragment_names(lang: Language) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = NUM.to_vec();
    names.extend(DIGIT);
    names.extend(["digit_star", "digit_hash"]);
    names.extend(LETTER);
    names.extend(MONTH);
    names.push("word_and");
    match lang {
        Language::Fr => names.extend(fr::extra_names()),
        Language::En => names.extend(en::extra_names()),
    }
    for c in Currency::ALL {
        let u = units(c);
        names.extend([u.one, u.many]);
        if lang == Language::Fr {
            names.push(u.de);
        }
        if c.exponent() > 0 {
            names.extend([u.minor_one, u.minor_many]);
        }
    }
    names.sort_unstable();
    names.dedup();
    names
}

fn digits_into(s: &str, out: &mut Vec<&'static str>) {
    for c in s.chars() {
        match c {
            '0'..='9' => out.push(DIGIT[c as usize - '0' as usize]),
            '*' => out.push("digit_star"),
            '#' => out.push("digit_hash"),
            c if c.is_ascii_alphabetic() => out.push(LETTER[(c.to_ascii_lowercase() as u8 - b'a') as usize]),
            _ => {}
        }
    }
}

/// The fragments naming one currency's units.
struct Units {
    one: &'static str,
    many: &'static str,
    de: &'static str,
    minor_one: &'static str,
    minor_many: &'static str,
}

fn units(c: Currency) -> Units {
    macro_rules! u {
        ($iso:literal) => {
            Units {
                one: concat!("cur_", $iso, "_1"),
                many: concat!("cur_", $iso, "_n"),
                de: concat!("cur_", $iso, "_de"),
                minor_one: concat!("cur_", $iso, "_minor_1"),
                minor_many: concat!("cur_", $iso, "_minor_n"),
            }
        };
    }
    match c {
        Currency::Eur => u!("eur"),
        Currency::Usd => u!("usd"),
        Currency::Gbp => u!("gbp"),
        Currency::Chf => u!("chf"),
        Currency::Jpy => u!("jpy"),
    }
}

/// Splits a number up to [`MAX_NUMBER`] into (billions, millions, thousands, rest), each
/// below 1000: both languages group by three.
fn groups(n: u64) -> [u64; 4] {
    [n / 1_000_000_000, n / 1_000_000 % 1000, n / 1000 % 1000, n % 1000]
}

const NUM: [&str; 100] = [
    "num_0", "num_1", "num_2", "num_3", "num_4", "num_5", "num_6", "num_7", "num_8", "num_9", "num_10", "num_11",
    "num_12", "num_13", "num_14", "num_15", "num_16", "num_17", "num_18", "num_19", "num_20", "num_21", "num_22",
    "num_23", "num_24", "num_25", "num_26", "num_27", "num_28", "num_29", "num_30", "num_31", "num_32", "num_33",
    "num_34", "num_35", "num_36", "num_37", "num_38", "num_39", "num_40", "num_41", "num_42", "num_43", "num_44",
    "num_45", "num_46", "num_47", "num_48", "num_49", "num_50", "num_51", "num_52", "num_53", "num_54", "num_55",
    "num_56", "num_57", "num_58", "num_59", "num_60", "num_61", "num_62", "num_63", "num_64", "num_65", "num_66",
    "num_67", "num_68", "num_69", "num_70", "num_71", "num_72", "num_73", "num_74", "num_75", "num_76", "num_77",
    "num_78", "num_79", "num_80", "num_81", "num_82", "num_83", "num_84", "num_85", "num_86", "num_87", "num_88",
    "num_89", "num_90", "num_91", "num_92", "num_93", "num_94", "num_95", "num_96", "num_97", "num_98", "num_99",
];

const DIGIT: [&str; 10] =
    ["digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7", "digit_8", "digit_9"];

const LETTER: [&str; 26] = [
    "letter_a", "letter_b", "letter_c", "letter_d", "letter_e", "letter_f", "letter_g", "letter_h", "letter_i",
    "letter_j", "letter_k", "letter_l", "letter_m", "letter_n", "letter_o", "letter_p", "letter_q", "letter_r",
    "letter_s", "letter_t", "letter_u", "letter_v", "letter_w", "letter_x", "letter_y", "letter_z",
];

const MONTH: [&str; 12] = [
    "month_1", "month_2", "month_3", "month_4", "month_5", "month_6", "month_7", "month_8", "month_9", "month_10",
    "month_11", "month_12",
];

const DAY: [&str; 31] = [
    "day_1", "day_2", "day_3", "day_4", "day_5", "day_6", "day_7", "day_8", "day_9", "day_10", "day_11", "day_12",
    "day_13", "day_14", "day_15", "day_16", "day_17", "day_18", "day_19", "day_20", "day_21", "day_22", "day_23",
    "day_24", "day_25", "day_26", "day_27", "day_28", "day_29", "day_30", "day_31",
];
