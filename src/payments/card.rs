//! Card data typed in on the phone keypad: number, expiry and security code.
//!
//! PCI DSS is the reason this module exists. A full card number (PAN) or a
//! security code (CSC/CVV) must never reach a log line, a panic message, an
//! error string or a database row. The types here make the safe thing the easy
//! thing:
//!
//! * [`CardNumber`] and [`SecurityCode`] have no `Display`; their `Debug` shows
//!   only the masked PAN or `***`; their buffers are wiped when dropped.
//! * Every [`CardError`] message is a fixed sentence that never quotes input.
//! * The raw digits are reachable only through the explicitly named
//!   [`CardNumber::expose_digits`] and [`SecurityCode::expose`], which exist for
//!   one caller: the body of the request sent to the payment gateway.
//!
//! Brand detection works on issuer identification number (IIN) ranges. Cartes
//! Bancaires (CB), the French domestic scheme, is always co-badged with Visa or
//! Mastercard (rarely Maestro) and uses the same numbers, so CB cannot be told
//! from the number alone: [`detect_brand`] returns the international brand, and
//! the gateway's answer (`paymentMeanBrand`) says whether CB was used.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use zeroize::{Zeroize, Zeroizing};

/// Why card data typed by the caller was rejected.
///
/// The messages are fixed sentences so that they can be logged and spoken
/// back safely: none of them ever contains a digit of the input.
#[derive(thiserror::Error, Debug, PartialEq, Eq, Clone, Copy)]
pub enum CardError {
    /// The card number contained something other than ASCII digits.
    #[error("card number must contain digits only")]
    NotDigits,
    /// The card number is too short or too long (in general or for its brand).
    #[error("card number has the wrong length")]
    BadLength,
    /// The Luhn checksum failed: most likely a mistyped digit.
    #[error("card number checksum is wrong (typing error?)")]
    LuhnFailed,
    /// No known issuer range matches the number.
    #[error("card brand not recognised")]
    UnknownBrand,
    /// The brand is known but this merchant's contract does not accept it.
    #[error("card brand {} is not accepted", .0.as_sips())]
    BrandNotAccepted(Brand),
    /// The expiry date is not four digits MMYY with a month in 01..=12.
    #[error("expiry date must be four digits, month then year (MMYY)")]
    BadExpiryFormat,
    /// The card expired before today.
    #[error("card has expired")]
    Expired,
    /// The security code is not digits or has the wrong length for the brand.
    #[error("security code has the wrong format")]
    BadSecurityCode,
}

/// Card brands (payment schemes) this product knows about.
///
/// The gateway routes and prices by brand, and merchants accept only some of
/// them, so the IVR must know the brand before sending the authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Brand {
    /// Cartes Bancaires, the French domestic scheme (always co-badged).
    Cb,
    /// Visa.
    Visa,
    /// Mastercard.
    Mastercard,
    /// American Express.
    Amex,
    /// Maestro (Mastercard's debit brand).
    Maestro,
    /// Diners Club.
    Diners,
    /// Discover.
    Discover,
    /// JCB.
    Jcb,
}

impl Brand {
    /// Every brand, so configuration code can list and validate them.
    pub const ALL: [Brand; 8] = [
        Brand::Cb,
        Brand::Visa,
        Brand::Mastercard,
        Brand::Amex,
        Brand::Maestro,
        Brand::Diners,
        Brand::Discover,
        Brand::Jcb,
    ];

    /// The name Sips uses (`paymentMeanBrand`, accepted-brand lists), so that
    /// configuration, gateway messages and our records speak the same words.
    pub fn as_sips(&self) -> &'static str {
        match self {
            Brand::Cb => "CB",
            Brand::Visa => "VISA",
            Brand::Mastercard => "MASTERCARD",
            Brand::Amex => "AMEX",
            Brand::Maestro => "MAESTRO",
            Brand::Diners => "DINERS",
            Brand::Discover => "DISCOVER",
            Brand::Jcb => "JCB",
        }
    }

    /// Reads a Sips brand name back (case-insensitive, surrounding blanks
    /// ignored), e.g. from configuration or a gateway response; `None` for a
    /// brand this product does not handle.
    pub fn from_sips(name: &str) -> Option<Brand> {
        let name = name.trim();
        Brand::ALL.into_iter().find(|b| b.as_sips().eq_ignore_ascii_case(name))
    }

    /// How many digits the security code has for this brand, so the IVR can
    /// tell the caller how many to type and reject the wrong count at once.
    pub fn csc_length(&self) -> usize {
        match self {
            Brand::Amex => 4,
            _ => 3,
        }
    }

    /// Card number lengths the brand issues; a number of another length is a
    /// typing error even when its Luhn checksum happens to pass.
    pub fn valid_lengths(&self) -> &'static [usize] {
        match self {
            Brand::Visa => &[13, 16, 19],
            Brand::Mastercard | Brand::Cb => &[16],
            Brand::Amex => &[15],
            Brand::Maestro => &[12, 13, 14, 15, 16, 17, 18, 19],
            Brand::Diners => &[14, 15, 16, 17, 18, 19],
            Brand::Discover | Brand::Jcb => &[16, 17, 18, 19],
        }
    }
}

/// Luhn (mod 10) checksum over a string of digits.
///
/// Every payment card number ends with a Luhn check digit; checking it first
/// catches most keypad typos before we spend a gateway call. Returns `false`
/// for an empty string or any non-digit character.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    // From the right, every second digit is doubled; a two-digit result
    // counts as the sum of its digits (d * 2 - 9).
    const DOUBLED: [u32; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| if i % 2 == 1 { DOUBLED[usize::from(b - b'0')] } else { u32::from(b - b'0') })
        .sum();
    sum.is_multiple_of(10)
}

/// The leading `n` digits of `digits` as a number, or `None` when the string
/// is shorter than `n` or not made of digits there.
fn prefix(digits: &str, n: usize) -> Option<u32> {
    let head = digits.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    head.parse().ok()
}

/// Guesses the international brand from the issuer range (IIN) at the start
/// of the number, so the IVR can ask for the right security-code length and
/// refuse brands the merchant does not take.
///
/// Never returns [`Brand::Cb`]: CB shares its numbers with Visa/Mastercard.
/// Ranges, checked most specific first:
///
/// | brand | prefixes |
/// |---|---|
/// | Amex | 34, 37 |
/// | JCB | 3528–3589 |
/// | Diners | 300–305, 36, 38–39 |
/// | Visa | 4 |
/// | Mastercard | 51–55, 2221–2720 |
/// | Discover | 6011, 644–649, 65 |
/// | Maestro | 50, 56–58, 639, 6304, 6759, 676770, 676774 |
///
/// Choices: Discover is tested before Maestro so that 65 stays Discover; the
/// Maestro list is the commonly published one (50 and 56–58 generically,
/// 6304 ex-Laser, 6759/676770/676774 ex-UK Maestro, 639 as a legacy range)
/// rather than "any 6", so unknown 6-prefixes are reported as unknown instead
/// of being mis-labelled. China UnionPay co-brands (622126–622925) are not
/// treated as Discover.
pub fn detect_brand(digits: &str) -> Option<Brand> {
    let p = |n| prefix(digits, n);
    let within = |n, lo, hi| p(n).is_some_and(|v| (lo..=hi).contains(&v));

    if within(2, 34, 34) || within(2, 37, 37) {
        Some(Brand::Amex)
    } else if within(4, 3528, 3589) {
        Some(Brand::Jcb)
    } else if within(3, 300, 305) || within(2, 36, 36) || within(2, 38, 39) {
        Some(Brand::Diners)
    } else if within(1, 4, 4) {
        Some(Brand::Visa)
    } else if within(2, 51, 55) || within(4, 2221, 2720) {
        Some(Brand::Mastercard)
    } else if within(4, 6011, 6011) || within(3, 644, 649) || within(2, 65, 65) {
        Some(Brand::Discover)
    } else if within(2, 50, 50)
        || within(2, 56, 58)
        || within(3, 639, 639)
        || within(4, 6304, 6304)
        || within(4, 6759, 6759)
        || within(6, 676770, 676770)
        || within(6, 676774, 676774)
    {
        Some(Brand::Maestro)
    } else {
        None
    }
}

/// A card number (PAN) held so that it cannot leak by accident.
///
/// The digits live in a [`Zeroizing`] buffer wiped on drop. There is no
/// `Display`, `Clone` or serialisation: `Debug` prints only [`masked`], and
/// the only way to the raw digits is [`expose_digits`].
///
/// [`masked`]: CardNumber::masked
/// [`expose_digits`]: CardNumber::expose_digits
pub struct CardNumber {
    digits: Zeroizing<String>,
}

impl CardNumber {
    /// Shortest PAN accepted anywhere (ISO/IEC 7812 and Sips `cardNumber`).
    pub const MIN_LEN: usize = 12;
    /// Longest PAN accepted anywhere.
    pub const MAX_LEN: usize = 19;

    /// Checks the shape of typed digits (ASCII digits only, 12 to 19 of them)
    /// and wraps them; brand and checksum are checked by [`check_card`] so the
    /// IVR can tell the caller exactly what was wrong.
    pub fn parse(digits: &str) -> Result<CardNumber, CardError> {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::NotDigits);
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&digits.len()) {
            return Err(CardError::BadLength);
        }
        Ok(CardNumber { digits: Zeroizing::new(digits.to_owned()) })
    }

    /// The international brand of this number (see [`detect_brand`]).
    pub fn brand(&self) -> Option<Brand> {
        detect_brand(&self.digits)
    }

    /// Number of digits, which brand rules constrain.
    pub fn len(&self) -> usize {
        self.digits.len()
    }

    /// Always false (a parsed number has 12 digits or more); pairs with `len`.
    pub fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }

    /// The PAN as this product may store and show it: first six digits, `#`
    /// for each hidden digit, last four (e.g. `497010######0001`). Same mask
    /// character as Sips' `maskedPan`, but we keep 6+4 as PCI DSS permits.
    pub fn masked(&self) -> String {
        let hidden = self.digits.len() - 10;
        let mut out = String::with_capacity(self.digits.len());
        out.push_str(self.first6());
        out.extend(std::iter::repeat_n('#', hidden));
        out.push_str(self.last4());
        out
    }

    /// The last four digits, which the IVR reads back to the caller and the
    /// extranet shows; not sensitive on their own.
    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// The first six digits (the IIN/BIN), kept for brand and fraud analysis;
    /// not sensitive on their own.
    pub fn first6(&self) -> &str {
        &self.digits[..6]
    }

    /// The full digits. Only for building the gateway request body (Sips
    /// `cardNumber`); never log, store, format or return them anywhere else.
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }

    /// Whether the Luhn checksum of this number holds.
    pub fn luhn_valid(&self) -> bool {
        luhn_valid(&self.digits)
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CardNumber").field(&self.masked()).finish()
    }
}

/// Full check of a parsed number before any gateway call: checksum, known
/// brand, length allowed for that brand, brand accepted by the merchant.
///
/// Returns the detected international brand. `accepted` is compared with that
/// brand, so a merchant taking CB cards must also list VISA/MASTERCARD (CB
/// cards are always co-badged, and the number cannot say it is CB).
pub fn check_card(number: &CardNumber, accepted: &[Brand]) -> Result<Brand, CardError> {
    if !number.luhn_valid() {
        return Err(CardError::LuhnFailed);
    }
    let brand = number.brand().ok_or(CardError::UnknownBrand)?;
    if !brand.valid_lengths().contains(&number.len()) {
        return Err(CardError::BadLength);
    }
    if !accepted.contains(&brand) {
        return Err(CardError::BrandNotAccepted(brand));
    }
    Ok(brand)
}

/// A card's expiry month, as printed on the card (MM/YY).
///
/// Not secret by itself, but kept apart from the PAN so it can be validated
/// before the gateway call and sent in Sips' `YYYYMM` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expiry {
    /// Month, 1 to 12.
    pub month: u8,
    /// Full year, 2000 to 2099.
    pub year: u16,
}

impl Expiry {
    /// Parses the four keypad digits MMYY (e.g. `1126` = November 2026); the
    /// year is taken in the 2000s since cards are issued for a few years only.
    pub fn parse_mmyy(s: &str) -> Result<Expiry, CardError> {
        let b = s.as_bytes();
        if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
            return Err(CardError::BadExpiryFormat);
        }
        let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
        let month = two(0);
        if !(1..=12).contains(&month) {
            return Err(CardError::BadExpiryFormat);
        }
        Ok(Expiry { month, year: 2000 + u16::from(two(2)) })
    }

    /// Rejects a card whose month is already over. A card is valid through
    /// the last day of its expiry month, so only the month is compared.
    pub fn check_not_past(&self, today: NaiveDate) -> Result<(), CardError> {
        let now = (i64::from(today.year()), today.month());
        let exp = (i64::from(self.year), u32::from(self.month));
        if exp < now {
            Err(CardError::Expired)
        } else {
            Ok(())
        }
    }

    /// The Sips `cardExpiryDate` form, `YYYYMM` (e.g. `202611`).
    pub fn as_yyyymm(&self) -> String {
        format!("{:04}{:02}", self.year, self.month)
    }
}

/// A card security code (CVV2/CVC2/CID), which PCI DSS forbids storing after
/// authorisation, even encrypted.
///
/// Wiped on drop and by [`wipe`](SecurityCode::wipe); `Debug` prints
/// `SecurityCode(***)`; no `Display`, `Clone` or serialisation.
pub struct SecurityCode {
    digits: Zeroizing<String>,
}

impl SecurityCode {
    /// Accepts exactly [`Brand::csc_length`] ASCII digits for the card's brand.
    pub fn parse(digits: &str, brand: Brand) -> Result<SecurityCode, CardError> {
        if digits.len() != brand.csc_length() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::BadSecurityCode);
        }
        Ok(SecurityCode { digits: Zeroizing::new(digits.to_owned()) })
    }

    /// The digits. Only for the gateway request body (Sips `cardCSCValue`);
    /// never log, store or format them. Empty after [`wipe`](Self::wipe).
    pub fn expose(&self) -> &str {
        &self.digits
    }

    /// Overwrites and empties the code as soon as the request has been sent,
    /// so it does not linger in memory while we wait for the bank.
    pub fn wipe(&mut self) {
        self.digits.zeroize();
    }
}

impl fmt::Debug for SecurityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityCode(***)")
    }
}

#[cfg(test)]
mod tests {
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
        csc.wipe();
        assert!(csc.expose().is_empty());
        assert!(csc.expose().bytes().all(|b| b == 0));
        // Wiping twice is harmless.
        csc.wipe();
        assert_eq!(csc.expose(), "");
    }
}
