//! Checked as sentences: every returned fragment is replaced by its text in the language's
//! shipped manifest, so a wrong name, a wrong manifest text or a wrong rule all show up as
//! a sentence a French or English speaker can read.

use crate::ivr::manifest::Manifest;
use chrono::{Datelike, NaiveDate};
use ivrpay_proto::ivr::say::*;
use ivrpay_proto::payments::money::Currency;
use std::collections::BTreeSet;
use std::path::Path;
use Currency::{Chf, Eur, Gbp, Jpy, Usd};

fn manifest(lang: Language) -> Manifest {
    Manifest::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts"), lang.code()).unwrap()
}

fn sentence(m: &Manifest, names: &[&str]) -> String {
    let words: Vec<&str> =
        names.iter().map(|n| m.text(n).unwrap_or_else(|| panic!("{n} is not in {}", m.path.display()))).collect();
    words.join(" ")
}

fn check_amounts(lang: Language, table: &[(i64, Currency, &str)]) {
    let m = manifest(lang);
    let mut failures = Vec::new();
    for &(minor, currency, want) in table {
        let got = sentence(&m, &amount(lang, minor, currency));
        if got != want {
            failures.push(format!("{minor} {}: got {got:?}, want {want:?}", currency.code()));
        }
    }
    assert!(failures.is_empty(), "{lang:?}:\n{}", failures.join("\n"));
}

#[test]
fn french_amounts() {
    check_amounts(
        Language::Fr,
        &[
            (0, Eur, "zéro euro"),
            (50, Eur, "zéro euro et cinquante centimes"),
            (100, Eur, "un euro"),
            (101, Eur, "un euro et un centime"),
            (200, Eur, "deux euros"),
            (1700, Eur, "dix-sept euros"),
            (2100, Eur, "vingt et un euros"),
            (7000, Eur, "soixante-dix euros"),
            (7100, Eur, "soixante et onze euros"),
            (8000, Eur, "quatre-vingts euros"),
            (8100, Eur, "quatre-vingt-un euros"),
            (9100, Eur, "quatre-vingt-onze euros"),
            (9999, Eur, "quatre-vingt-dix-neuf euros et quatre-vingt-dix-neuf centimes"),
            (10000, Eur, "cent euros"),
            (10100, Eur, "cent un euros"),
            (20000, Eur, "deux cents euros"),
            (20100, Eur, "deux cent un euros"),
            (38000, Eur, "trois cent quatre-vingts euros"),
            (100_000, Eur, "mille euros"),
            (100_100, Eur, "mille un euros"),
            (123_456, Eur, "mille deux cent trente-quatre euros et cinquante-six centimes"),
            (200_000, Eur, "deux mille euros"),
            (8_000_000, Eur, "quatre-vingt mille euros"),
            (18_000_000, Eur, "cent quatre-vingt mille euros"),
            (20_000_000, Eur, "deux cent mille euros"),
            (2_100_000, Eur, "vingt et un mille euros"),
            (100_000_000, Eur, "un million d'euros"),
            (100_000_050, Eur, "un million d'euros et cinquante centimes"),
            (200_000_000, Eur, "deux millions d'euros"),
            (120_000_000, Eur, "un million deux cent mille euros"),
            (100_000_100, Eur, "un million un euros"),
            (8_000_000_000, Eur, "quatre-vingts millions d'euros"),
            (20_000_000_000, Eur, "deux cents millions d'euros"),
            (20_000_020_000, Eur, "deux cents millions deux cents euros"),
            (100_000_000_000, Eur, "un milliard d'euros"),
            (200_000_100_000, Eur, "deux milliards mille euros"),
            (
                99_999_999_999_999,
                Eur,
                "neuf cent quatre-vingt-dix-neuf milliards neuf cent quatre-vingt-dix-neuf millions \
                 neuf cent quatre-vingt-dix-neuf mille neuf cent quatre-vingt-dix-neuf euros \
                 et quatre-vingt-dix-neuf centimes",
            ),
            (0, Jpy, "zéro yen"),
            (1, Jpy, "un yen"),
            (1500, Jpy, "mille cinq cents yens"),
            (1_000_000, Jpy, "un million de yens"),
            (100, Gbp, "une livre sterling"),
            (101, Gbp, "une livre sterling et un penny"),
            (250, Gbp, "deux livres sterling et cinquante pence"),
            (2101, Gbp, "vingt et une livres sterling et un penny"),
            (7100, Gbp, "soixante et onze livres sterling"),
            (8100, Gbp, "quatre-vingt-une livres sterling"),
            (100_100, Gbp, "mille une livres sterling"),
            (2_100_000, Gbp, "vingt et un mille livres sterling"),
            (100_000_000, Gbp, "un million de livres sterling"),
            (199, Usd, "un dollar et quatre-vingt-dix-neuf cents"),
            (300_000_000, Usd, "trois millions de dollars"),
            (1050, Chf, "dix francs suisses et cinquante centimes"),
            (1, Chf, "zéro franc suisse et un centime"),
            (500_000_000, Chf, "cinq millions de francs suisses"),
        ],
    );
}

#[test]
fn english_amounts() {
    check_amounts(
        Language::En,
        &[
            (0, Eur, "zero euros"),
            (50, Eur, "zero euros and fifty cents"),
            (100, Eur, "one euro"),
            (101, Eur, "one euro and one cent"),
            (200, Eur, "two euros"),
            (2100, Eur, "twenty-one euros"),
            (7100, Eur, "seventy-one euros"),
            (8000, Eur, "eighty euros"),
            (8100, Eur, "eighty-one euros"),
            (9999, Eur, "ninety-nine euros and ninety-nine cents"),
            (10000, Eur, "one hundred euros"),
            (20000, Eur, "two hundred euros"),
            (20100, Eur, "two hundred one euros"),
            (100_000, Eur, "one thousand euros"),
            (123_456, Eur, "one thousand two hundred thirty-four euros and fifty-six cents"),
            (8_000_000, Eur, "eighty thousand euros"),
            (20_000_000, Eur, "two hundred thousand euros"),
            (100_000_000, Eur, "one million euros"),
            (200_000_000, Eur, "two million euros"),
            (120_000_000, Eur, "one million two hundred thousand euros"),
            (20_000_000_000, Eur, "two hundred million euros"),
            (100_000_000_000, Eur, "one billion euros"),
            (100_001_500_000, Eur, "one billion fifteen thousand euros"),
            (0, Jpy, "zero yen"),
            (1, Jpy, "one yen"),
            (1500, Jpy, "one thousand five hundred yen"),
            (100, Gbp, "one pound"),
            (101, Gbp, "one pound and one penny"),
            (250, Gbp, "two pounds and fifty pence"),
            (199, Usd, "one dollar and ninety-nine cents"),
            (1050, Chf, "ten Swiss francs and fifty centimes"),
            (1, Chf, "zero Swiss francs and one centime"),
        ],
    );
}

#[test]
fn numbers() {
    let fr = manifest(Language::Fr);
    let en = manifest(Language::En);
    for (n, want_fr, want_en) in [
        (0, "zéro", "zero"),
        (16, "seize", "sixteen"),
        (80, "quatre-vingts", "eighty"),
        (100, "cent", "one hundred"),
        (1000, "mille", "one thousand"),
        (1980, "mille neuf cent quatre-vingts", "one thousand nine hundred eighty"),
        (80_080, "quatre-vingt mille quatre-vingts", "eighty thousand eighty"),
        (200_200, "deux cent mille deux cents", "two hundred thousand two hundred"),
        (80_000_000, "quatre-vingts millions", "eighty million"),
        (2_000_000_000, "deux milliards", "two billion"),
        (
            MAX_NUMBER,
            "neuf cent quatre-vingt-dix-neuf milliards neuf cent quatre-vingt-dix-neuf millions \
             neuf cent quatre-vingt-dix-neuf mille neuf cent quatre-vingt-dix-neuf",
            "nine hundred ninety-nine billion nine hundred ninety-nine million \
             nine hundred ninety-nine thousand nine hundred ninety-nine",
        ),
        (
            1_000_000_000_000,
            "un zéro zéro zéro zéro zéro zéro zéro zéro zéro zéro zéro zéro",
            "one zero zero zero zero zero zero zero zero zero zero zero zero",
        ),
    ] {
        assert_eq!(sentence(&fr, &number(Language::Fr, n)), want_fr, "{n}");
        assert_eq!(sentence(&en, &number(Language::En, n)), want_en, "{n}");
    }
}

#[test]
fn dates() {
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let fr = manifest(Language::Fr);
    let en = manifest(Language::En);
    for (date_, want_fr, want_en) in [
        (d(2027, 1, 1), "premier janvier deux mille vingt-sept", "January first two thousand twenty-seven"),
        (
            d(2026, 12, 31),
            "trente et un décembre deux mille vingt-six",
            "December thirty-first two thousand twenty-six",
        ),
        (d(2026, 2, 21), "vingt et un février deux mille vingt-six", "February twenty-first two thousand twenty-six"),
        (d(2080, 8, 2), "deux août deux mille quatre-vingts", "August second two thousand eighty"),
        (d(2031, 3, 11), "onze mars deux mille trente et un", "March eleventh two thousand thirty-one"),
    ] {
        assert_eq!(sentence(&fr, &date(Language::Fr, date_)), want_fr);
        assert_eq!(sentence(&en, &date(Language::En, date_)), want_en);
    }
}

#[test]
fn digit_strings() {
    assert_eq!(
        digits(Language::Fr, "4a-Z 0*#?"),
        ["digit_4", "letter_a", "letter_z", "digit_0", "digit_star", "digit_hash"]
    );
    let fr = manifest(Language::Fr);
    let en = manifest(Language::En);
    assert_eq!(
        sentence(&fr, &digits(Language::Fr, "480 152 736#")),
        "quatre huit zéro un cinq deux sept trois six dièse"
    );
    assert_eq!(sentence(&en, &digits(Language::En, "FAC-12*")), "F A C one two star");
    assert_eq!(sentence(&fr, &digits(Language::Fr, "wxyz")), "double vé ixe i grec zède");
    assert!(digits(Language::En, "é -").is_empty());
}

#[test]
fn language_codes() {
    for lang in Language::ALL {
        assert_eq!(Language::from_code(lang.code()), Some(lang));
    }
    assert_eq!(Language::from_code("de"), None);
}

/// Everything the functions can say, over a sweep that reaches every rule.
fn everything_said(lang: Language) -> BTreeSet<&'static str> {
    let mut said = BTreeSet::new();
    let specials = [1_000_000, 2_000_000, 80_000_000, 1_000_000_000, 2_000_000_000, 200_000_000_000, 80_000];
    for n in (0..=2100).chain(specials) {
        said.extend(number(lang, n));
        for c in Currency::ALL {
            said.extend(amount(lang, n as i64, c));
            said.extend(amount(lang, n as i64 * 100, c));
        }
    }
    let mut d = NaiveDate::from_ymd_opt(2028, 1, 1).unwrap();
    while d.year() == 2028 {
        said.extend(date(lang, d));
        d = d.succ_opt().unwrap();
    }
    said.extend(digits(lang, "0123456789*#abcdefghijklmnopqrstuvwxyz"));
    said
}

#[test]
fn fragment_names_are_exactly_what_can_be_said_and_all_are_in_the_manifest() {
    for lang in Language::ALL {
        let names: BTreeSet<&str> = fragment_names(lang).into_iter().collect();
        let said = everything_said(lang);
        assert_eq!(said.difference(&names).collect::<Vec<_>>(), Vec::<&&str>::new(), "{lang:?}: said but not listed");
        assert_eq!(names.difference(&said).collect::<Vec<_>>(), Vec::<&&str>::new(), "{lang:?}: listed but never said");
        let m = manifest(lang);
        let undescribed: Vec<&&str> = names.iter().filter(|n| m.get(n).is_none()).collect();
        assert!(undescribed.is_empty(), "{lang:?}: not in the manifest: {undescribed:?}");
        assert!(names.iter().all(|n| crate::ivr::manifest::valid_name(n)));
    }
}

#[test]
fn every_fragment_is_recorded_in_its_own_language() {
    let lib = crate::ivr::prompts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts"), "fr").unwrap();
    for lang in Language::ALL {
        for name in fragment_names(lang) {
            let p = lib.get(lang.code(), name).unwrap_or_else(|| panic!("{}/{name}.wav missing", lang.code()));
            assert_eq!(p.language, lang.code(), "{name} falls back to another language");
            assert!((150..=1500).contains(&p.duration_ms()), "{}/{name}: {} ms", lang.code(), p.duration_ms());
        }
    }
}
