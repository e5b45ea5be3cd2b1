//! Card checks against published test numbers and the brand table.
use super::*;

const VISA16: &str = "4970101234560001";

/// Appends the Luhn digit that makes `base` valid (test helper).
fn with_luhn(base: &str) -> String {
    (0..=9).map(|d| format!("{base}{d}")).find(|s| luhn_valid(s)).unwrap()
}

#[test]
fn luhn_table() {
    let valid = "4111111111111111 5555555555554444 378282246310005 6011111111111117 \
                 3530111333300000 30569309025904 4000000000000002 79927398713 0";
    let invalid = "4111111111111112 5555555555554440 378282246310006 79927398710 41111111111111a1";
    let valid = valid.split_whitespace();
    let invalid = invalid.split_whitespace().chain(["", "4111 1111 1111 1111"]);
    for v in valid {
        assert!(luhn_valid(v), "{v} should pass");
    }
    for v in invalid {
        assert!(!luhn_valid(v), "{v:?} should fail");
    }
}

#[test]
fn brand_table() {
    // Each prefix is padded with zeros to 16 digits before detection.
    let cases: &[(Option<Brand>, &[&str])] = &[
        (Some(Brand::Visa), &["4", "497010"]),
        (Some(Brand::Mastercard), &["2221", "2720", "51", "55"]),
        (Some(Brand::Amex), &["34", "37"]),
        (Some(Brand::Jcb), &["3528", "3589"]),
        (Some(Brand::Diners), &["300", "305", "36", "38", "39"]),
        (Some(Brand::Discover), &["6011", "644", "649", "65"]),
        (Some(Brand::Maestro), &["50", "56", "58", "6304", "639", "6759", "676770", "676774"]),
        (None, &["2220", "2721", "59", "3527", "3590", "306", "6012", "676775", "1", "9"]),
    ];
    for (want, prefixes) in cases {
        for p in *prefixes {
            assert_eq!(detect_brand(&format!("{p:0<16}")), *want, "prefix {p}");
        }
    }
    assert_eq!(detect_brand(""), None);
    assert_eq!(detect_brand("x4"), None);
    assert_eq!(detect_brand("2721"), None);
    assert_eq!(detect_brand("272"), None); // too short to decide 2221-2720
}

#[test]
fn sips_names_round_trip() {
    for b in Brand::ALL {
        assert_eq!(Brand::from_sips(b.as_sips()), Some(b));
    }
    assert_eq!(Brand::from_sips(" visa "), Some(Brand::Visa));
    assert_eq!(Brand::from_sips("PAYPAL"), None);
}

#[test]
fn check_card_lengths_and_acceptance() {
    let all = Brand::ALL;
    // Amex: 15 digits only.
    let amex = CardNumber::parse("378282246310005").unwrap();
    assert_eq!(check_card(&amex, &all), Ok(Brand::Amex));
    let amex16 = CardNumber::parse(&with_luhn("378282246310005")).unwrap();
    assert_eq!(check_card(&amex16, &all), Err(CardError::BadLength));
    // Visa: 13, 16 and 19 digits, not 14.
    for base_len in [12, 15, 18] {
        let n = CardNumber::parse(&with_luhn(&"4".repeat(base_len))).unwrap();
        assert_eq!(check_card(&n, &all), Ok(Brand::Visa), "len {}", base_len + 1);
    }
    let visa14 = CardNumber::parse(&with_luhn(&"4".repeat(13))).unwrap();
    assert_eq!(check_card(&visa14, &all), Err(CardError::BadLength));
    // Checksum, unknown brand, not accepted.
    let typo = CardNumber::parse("4111111111111112").unwrap();
    assert_eq!(check_card(&typo, &all), Err(CardError::LuhnFailed));
    let unknown = CardNumber::parse(&with_luhn("999999999999999")).unwrap();
    assert_eq!(check_card(&unknown, &all), Err(CardError::UnknownBrand));
    let visa = CardNumber::parse("4111111111111111").unwrap();
    assert_eq!(check_card(&visa, &[Brand::Cb, Brand::Mastercard]), Err(CardError::BrandNotAccepted(Brand::Visa)));
}

#[test]
fn parse_rejects_bad_shapes() {
    assert_eq!(CardNumber::parse("4111 1111").unwrap_err(), CardError::NotDigits);
    assert_eq!(CardNumber::parse("41111111111a").unwrap_err(), CardError::NotDigits);
    assert_eq!(CardNumber::parse("41111111111").unwrap_err(), CardError::BadLength);
    assert_eq!(CardNumber::parse(&"4".repeat(20)).unwrap_err(), CardError::BadLength);
    assert!(CardNumber::parse(&"4".repeat(12)).is_ok());
    assert!(CardNumber::parse(&"4".repeat(19)).is_ok());
}

#[test]
fn masked_first6_last4() {
    let n = CardNumber::parse(VISA16).unwrap();
    assert_eq!(n.masked(), "497010######0001");
    assert_eq!(n.first6(), "497010");
    assert_eq!(n.last4(), "0001");
    assert_eq!(n.expose_digits(), VISA16);
    let short = CardNumber::parse("500000000018").unwrap();
    assert_eq!(short.masked(), "500000##0018");
    let long = CardNumber::parse("4000001234567890123").unwrap();
    assert_eq!(long.masked(), "400000#########0123");
}

#[test]
fn debug_never_shows_the_number_or_code() {
    let n = CardNumber::parse(VISA16).unwrap();
    let dbg = format!("{n:?}");
    assert_eq!(dbg, "CardNumber(\"497010######0001\")");
    assert!(!dbg.contains(VISA16));
    assert!(!dbg.contains("123456"));
    let pretty = format!("{n:#?}");
    assert!(!pretty.contains(VISA16));

    let csc = SecurityCode::parse("7391", Brand::Amex).unwrap();
    assert_eq!(format!("{csc:?}"), "SecurityCode(***)");
    assert!(!format!("{csc:#?}").contains("7391"));

    // Inside a containing struct's derived Debug too.
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Holder {
        pan: CardNumber,
        csc: SecurityCode,
    }
    let h = Holder { pan: n, csc };
    let s = format!("{h:?}");
    assert!(!s.contains(VISA16) && !s.contains("7391"));
}

#[test]
fn error_messages_contain_no_digits() {
    use CardError::*;
    let fixed = [NotDigits, BadLength, LuhnFailed, UnknownBrand, BadExpiryFormat, Expired, BadSecurityCode];
    let errors = fixed.into_iter().chain(Brand::ALL.into_iter().map(BrandNotAccepted));
    for e in errors {
        let msg = e.to_string();
        assert!(!msg.bytes().any(|b| b.is_ascii_digit()), "{msg}");
        assert!(!format!("{e:?}").bytes().any(|b| b.is_ascii_digit()));
    }
    // And errors produced from real input carry none of it.
    for bad in ["4111111111111112", "4111x11111111111", "41111111111"] {
        let msg = match CardNumber::parse(bad) {
            Ok(n) => check_card(&n, &[]).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(!msg.bytes().any(|b| b.is_ascii_digit()), "{msg}");
    }
}

#[test]
fn expiry_parse_and_past() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let nov = Expiry::parse_mmyy("1126").unwrap();
    assert_eq!(nov, Expiry { month: 11, year: 2026 });
    assert_eq!(nov.check_not_past(today), Ok(()));
    assert_eq!(nov.as_yyyymm(), "202611");
    let oct = Expiry::parse_mmyy("1026").unwrap();
    assert_eq!(oct.check_not_past(today), Err(CardError::Expired));
    let jan = Expiry::parse_mmyy("0127").unwrap();
    assert_eq!(jan.check_not_past(today), Ok(()));
    assert_eq!(jan.as_yyyymm(), "202701");
    let dec_last_year = Expiry::parse_mmyy("1225").unwrap();
    assert_eq!(dec_last_year.check_not_past(today), Err(CardError::Expired));
    // Valid through the last day of its month.
    let last_day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    assert_eq!(nov.check_not_past(last_day), Ok(()));
    let next_month = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    assert_eq!(nov.check_not_past(next_month), Err(CardError::Expired));
    for bad in ["1326", "0026", "126", "11266", "11/26", "ab26", ""] {
        assert_eq!(Expiry::parse_mmyy(bad), Err(CardError::BadExpiryFormat), "{bad}");
    }
}

#[test]
fn security_code_length_by_brand() {
    assert!(SecurityCode::parse("123", Brand::Visa).is_ok());
    assert!(SecurityCode::parse("123", Brand::Cb).is_ok());
    assert!(SecurityCode::parse("1234", Brand::Amex).is_ok());
    assert_eq!(SecurityCode::parse("123", Brand::Amex).unwrap_err(), CardError::BadSecurityCode);
    assert_eq!(SecurityCode::parse("1234", Brand::Visa).unwrap_err(), CardError::BadSecurityCode);
    assert_eq!(SecurityCode::parse("12a", Brand::Mastercard).unwrap_err(), CardError::BadSecurityCode);
    assert_eq!(Brand::Amex.csc_length(), 4);
    assert_eq!(Brand::Jcb.csc_length(), 3);
}

#[test]
fn wipe_empties_the_security_code() {
    let mut csc = SecurityCode::parse("739", Brand::Visa).unwrap();
    assert_eq!(csc.expose(), "739");
    let (ptr, capacity) = (csc.digits.as_ptr(), csc.digits.capacity());
    csc.wipe();
    assert!(csc.expose().is_empty());
    // The code's own buffer, still owned by it, now holds only zeros: the digits were
    // overwritten in place, not merely forgotten (a `clear()` or a new empty string
    // would leave "739" in memory).
    assert_eq!((csc.digits.as_ptr(), csc.digits.capacity()), (ptr, capacity), "same allocation");
    // SAFETY: `csc.digits` still owns this allocation of `capacity` bytes, and the wipe
    // wrote every one of them (zeroize zeroes a buffer's whole capacity).
    let buffer = unsafe { std::slice::from_raw_parts(ptr, capacity) };
    assert!(capacity >= 3 && buffer.iter().all(|&b| b == 0), "{buffer:?}");
    // Wiping twice is harmless.
    csc.wipe();
    assert_eq!(csc.expose(), "");
}
