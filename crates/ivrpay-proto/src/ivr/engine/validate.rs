//! Checking what the caller typed, and keeping card data in the payments module's
//! wiping types from the moment a card field is accepted.

use crate::ivr::dialplan::{CardField, Reason, Validator};
use crate::payments::card::{check_card, Brand, CardError, CardNumber, Expiry, SecurityCode};
use crate::payments::check_digit;
use chrono::NaiveDate;

/// The card being typed: each field in its wiping type, or absent. Its `Debug` says
/// only which fields are present: the expiry type of the payments module prints its
/// value, and nothing typed during card entry may reach a log.
#[derive(Default)]
pub struct CardSlot {
    /// The card number, once accepted.
    pub number: Option<CardNumber>,
    /// The expiry, once accepted.
    pub expiry: Option<Expiry>,
    /// The security code, once accepted.
    pub csc: Option<SecurityCode>,
}

impl std::fmt::Debug for CardSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let has = |present: bool| if present { "present" } else { "absent" };
        f.debug_struct("CardSlot")
            .field("number", &has(self.number.is_some()))
            .field("expiry", &has(self.expiry.is_some()))
            .field("csc", &has(self.csc.is_some()))
            .finish()
    }
}

impl CardSlot {
    /// Forgets a field (and, for the number, the fields that depend on its brand).
    pub fn clear(&mut self, field: CardField) {
        match field {
            CardField::Number => *self = CardSlot::default(),
            CardField::Expiry => self.expiry = None,
            CardField::SecurityCode => self.csc = None,
        }
    }

    /// The brand of the number typed, which sets the security code's length.
    pub fn brand(&self) -> Option<Brand> {
        self.number.as_ref().and_then(CardNumber::brand)
    }
}

/// What a check needs to know besides the digits.
pub struct CheckContext<'a> {
    /// Brands the merchant accepts (all known brands before the invoice is found).
    pub accepted: Option<&'a [String]>,
    /// Today, for expiry dates (injected, like every instant of the engine).
    pub today: NaiveDate,
}

fn reason_of(e: CardError) -> Reason {
    match e {
        CardError::NotDigits | CardError::BadLength => Reason::BadLength,
        CardError::LuhnFailed => Reason::Luhn,
        CardError::UnknownBrand => Reason::UnknownBrand,
        CardError::BrandNotAccepted(_) => Reason::BrandNotAccepted,
        CardError::BadExpiryFormat => Reason::BadExpiry,
        CardError::Expired => Reason::Expired,
        CardError::BadSecurityCode => Reason::BadSecurityCode,
    }
}

/// Checks an ordinary (non-card) input.
pub fn check_plain(v: &Validator, digits: &str) -> Result<(), Reason> {
    match v {
        Validator::None => Ok(()),
        Validator::Pattern(re) if re.is_match(digits) => Ok(()),
        Validator::Pattern(_) => Err(Reason::Pattern),
        Validator::Luhn if crate::payments::card::luhn_valid(digits) => Ok(()),
        Validator::Luhn => Err(Reason::Luhn),
        Validator::CheckDigit if check_digit::is_valid(digits) => Ok(()),
        Validator::CheckDigit => Err(Reason::CheckDigit),
        // Card validators only ever run on card fields (the dialplan checks enforce it).
        Validator::CardNumber | Validator::Expiry | Validator::SecurityCode => Err(Reason::Pattern),
    }
}

/// Checks a card field and, when valid, stores it in the slot.
pub fn accept_card_field(
    field: CardField,
    digits: &str,
    slot: &mut CardSlot,
    ctx: &CheckContext,
) -> Result<(), Reason> {
    match field {
        CardField::Number => {
            let card = CardNumber::parse(digits).map_err(reason_of)?;
            let accepted: Vec<Brand> = match ctx.accepted {
                Some(names) => names.iter().filter_map(|n| Brand::from_sips(n)).collect(),
                None => Brand::ALL.to_vec(),
            };
            check_card(&card, &accepted).map_err(reason_of)?;
            *slot = CardSlot { number: Some(card), expiry: None, csc: None };
        }
        CardField::Expiry => {
            let e = Expiry::parse_mmyy(digits).map_err(reason_of)?;
            e.check_not_past(ctx.today).map_err(reason_of)?;
            slot.expiry = Some(e);
        }
        CardField::SecurityCode => {
            let brand = slot.brand().ok_or(Reason::BadSecurityCode)?;
            slot.csc = Some(SecurityCode::parse(digits, brand).map_err(reason_of)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(accepted: Option<&[String]>) -> CheckContext<'_> {
        CheckContext { accepted, today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap() }
    }

    #[test]
    fn card_fields_are_checked_then_kept_in_wiping_types() {
        let mut slot = CardSlot::default();
        let visa_only = vec!["VISA".to_string()];
        assert_eq!(accept_card_field(CardField::Number, "4100000000000101", &mut slot, &ctx(None)), Err(Reason::Luhn));
        assert_eq!(
            accept_card_field(CardField::Number, "5100000000000107", &mut slot, &ctx(Some(&visa_only))),
            Err(Reason::BrandNotAccepted)
        );
        assert_eq!(accept_card_field(CardField::Number, "4100000000000100", &mut slot, &ctx(Some(&visa_only))), Ok(()));
        assert!(!format!("{slot:?}").contains("4100000000000100"), "Debug never shows the number");
        assert_eq!(accept_card_field(CardField::Expiry, "1326", &mut slot, &ctx(None)), Err(Reason::BadExpiry));
        assert_eq!(accept_card_field(CardField::Expiry, "1026", &mut slot, &ctx(None)), Err(Reason::Expired));
        assert_eq!(accept_card_field(CardField::Expiry, "1126", &mut slot, &ctx(None)), Ok(()));
        assert_eq!(
            accept_card_field(CardField::SecurityCode, "1234", &mut slot, &ctx(None)),
            Err(Reason::BadSecurityCode)
        );
        assert_eq!(accept_card_field(CardField::SecurityCode, "123", &mut slot, &ctx(None)), Ok(()));
        assert!(slot.number.is_some() && slot.expiry.is_some() && slot.csc.is_some());
        slot.clear(CardField::Number);
        assert!(slot.number.is_none() && slot.expiry.is_none() && slot.csc.is_none());
    }

    #[test]
    fn plain_validators() {
        let code = check_digit::append_check_digit("48015273").unwrap();
        assert_eq!(check_plain(&Validator::CheckDigit, &code), Ok(()));
        let mut typo = code.clone();
        typo.replace_range(2..3, "9");
        assert_eq!(check_plain(&Validator::CheckDigit, &typo), Err(Reason::CheckDigit));
        assert_eq!(check_plain(&Validator::Luhn, "79927398713"), Ok(()));
        assert_eq!(check_plain(&Validator::Luhn, "79927398710"), Err(Reason::Luhn));
        let re = regex_lite::Regex::new("^(?:0[1-9]|1[0-2])$").unwrap();
        assert_eq!(check_plain(&Validator::Pattern(re.clone()), "07"), Ok(()));
        assert_eq!(check_plain(&Validator::Pattern(re), "13"), Err(Reason::Pattern));
        assert_eq!(check_plain(&Validator::None, "1"), Ok(()));
    }
}
