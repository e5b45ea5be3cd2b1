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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
#[path = "card_tests.rs"]
mod tests;
