//! Decision table of the built-in payment simulator (the default gateway).
//!
//! The simulator lets the whole phone flow be exercised without a bank
//! contract. It follows the conventions of the Sips simulation platform
//! (SIMU), so scripts written against one work against the other, and adds a
//! few special cards for the failures a real bank connection can inflict on
//! us, which SIMU cannot produce on demand. This module only decides; the
//! simulator itself applies the decision (sleeps, drops the connection...).
//!
//! # Sips SIMU conventions
//!
//! * The first six digits pick the reported brand (`paymentMeanBrand`):
//!   `410000` VISA, `420000` CB, `430000` CB+VISA, `510000` MASTERCARD,
//!   `520000` CB+MASTERCARD, `340000` AMEX, `500000` MAESTRO. A co-badged
//!   number is reported as `CB`, the brand a French acquirer routes it on.
//!   Other numbers get the brand of [`detect_brand`].
//! * The last two digits become the `responseCode` when they are a code Sips
//!   defines; any other pair answers `00` (accepted). The security code is
//!   ignored. The matching `acquirerResponseCode` is our choice (table in
//!   [`behaviour_for`]); codes raised by the platform itself, before any bank
//!   is asked, get an empty one.
//!
//! # Special cards (this product only)
//!
//! All are Luhn-valid 16-digit VISA-range numbers ending in `00`, so on the
//! real SIMU they are simply accepted.
//!
//! | card number | behaviour |
//! |---|---|
//! | `4100 0000 0099 1100` | [`SimBehaviour::Slow`]: answers `00` after [`SLOW_DELAY_MS`] (4 s) |
//! | `4100 0000 0099 2900` | [`SimBehaviour::NoAnswer`]: never answers; the client's timeout must fire |
//! | `4100 0000 0099 3700` | [`SimBehaviour::Unavailable`]: platform down (connection refused, responseCode `90` semantics) |
//! | `4100 0000 0099 4500` | [`SimBehaviour::LostAfterCharge`]: authorised and recorded, but the answer is lost |
//! | `4100 0000 0099 5200` | [`SimBehaviour::DropAfterCharge`]: authorised and recorded, then the connection is dropped mid-answer |
//! | `4100 0000 0099 6000` | [`SimBehaviour::BadGatewayAfterCharge`]: authorised and recorded, then HTTP 502 |
//! | `4100 0000 0099 7800` | [`SimBehaviour::LateCharge`]: no answer in time; authorised after the client gave up, seen by `getTransactionData` only after [`LATE_CHARGE_AFTER`] |
//!
//! [`detect_brand`]: super::card::detect_brand

use super::card::detect_brand;

/// Delay of the slow card: long enough to trigger "please wait" prompts,
/// shorter than any sane gateway timeout.
pub const SLOW_DELAY_MS: u64 = 4_000;

/// Card that makes the simulator answer `00` only after [`SLOW_DELAY_MS`].
pub const SLOW_CARD: &str = "4100000000991100";
/// Card that makes the simulator never answer, to test our timeout path.
pub const NO_ANSWER_CARD: &str = "4100000000992900";
/// Card that makes the simulator behave as a platform that is down.
pub const UNAVAILABLE_CARD: &str = "4100000000993700";
/// Card that is charged but whose answer never reaches us, to test the
/// recovery through `getTransactionData`.
pub const LOST_AFTER_CHARGE_CARD: &str = "4100000000994500";
/// Card that is charged, then the connection breaks while the answer is being sent:
/// an error after the request was sent is not "nothing charged".
pub const DROP_AFTER_CHARGE_CARD: &str = "4100000000995200";
/// Card that is charged, then a proxy in front of the platform answers HTTP 502.
pub const BAD_GATEWAY_AFTER_CHARGE_CARD: &str = "4100000000996000";
/// Card that gets no answer in time and is authorised by the platform after the
/// client gave up: a lookup right after the time-out says "unknown" (25), a later one
/// finds it authorised. Unknown is therefore not "not charged" until a grace period.
pub const LATE_CHARGE_CARD: &str = "4100000000997800";

/// How long after the request the platform finishes a [`SimBehaviour::LateCharge`]
/// authorization (on the simulator's clock): past the client's time-out, shorter than
/// the grace period recovery waits before taking "unknown" for "not charged" (three
/// gateway time-outs; see `server::recovery_min_age`) with the default 10 s time-out.
pub const LATE_CHARGE_AFTER: std::time::Duration = std::time::Duration::from_secs(20);

/// What the simulated gateway does with one authorisation request.
///
/// A closed set so the simulator and its tests handle every case the real
/// bank connection can produce, not only the happy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimBehaviour {
    /// Answer at once with these codes (`responseCode` of Sips, and the
    /// acquirer's code, empty when the platform refused by itself).
    Answer {
        /// Sips `responseCode`, e.g. `"00"` accepted, `"05"` refused.
        response_code: &'static str,
        /// Sips `acquirerResponseCode`, `""` when no bank was involved.
        acquirer_response_code: &'static str,
    },
    /// Answer `00`/`00` (accepted) but only after `delay_ms` milliseconds.
    Slow {
        /// How long to wait before answering.
        delay_ms: u64,
    },
    /// Accept the connection and never answer: the client must time out and
    /// must not assume the payment failed.
    NoAnswer,
    /// Behave as a platform that is down: refuse the connection (an HTTP
    /// client facing a reachable-but-broken platform would get responseCode
    /// `90`, service unavailable). Nothing is charged.
    Unavailable,
    /// Authorise and record the transaction (status `TO_CAPTURE`, visible to
    /// `getTransactionData`), then drop the answer: the customer is charged
    /// but we never hear it.
    LostAfterCharge,
    /// Authorise and record, then break the connection while answering: the client
    /// sees an error after it sent the request.
    DropAfterCharge,
    /// Authorise and record, then answer HTTP 502 (a proxy that lost the platform's
    /// answer).
    BadGatewayAfterCharge,
    /// Never answer in time, and authorise after [`LATE_CHARGE_AFTER`]: the platform
    /// was still processing when the client gave up.
    LateCharge,
}

/// The special cards and what they trigger, for documentation and prompts.
pub const SPECIAL_CARDS: [(&str, SimBehaviour); 7] = [
    (SLOW_CARD, SimBehaviour::Slow { delay_ms: SLOW_DELAY_MS }),
    (NO_ANSWER_CARD, SimBehaviour::NoAnswer),
    (UNAVAILABLE_CARD, SimBehaviour::Unavailable),
    (LOST_AFTER_CHARGE_CARD, SimBehaviour::LostAfterCharge),
    (DROP_AFTER_CHARGE_CARD, SimBehaviour::DropAfterCharge),
    (BAD_GATEWAY_AFTER_CHARGE_CARD, SimBehaviour::BadGatewayAfterCharge),
    (LATE_CHARGE_CARD, SimBehaviour::LateCharge),
];

/// Every cardOrder `responseCode` Sips defines, with the acquirer code the
/// simulator pairs it with (our choice; `""` = platform decision, no bank).
const RESPONSE_CODES: [(&str, &str); 24] = [
    ("00", "00"), // accepted / approved
    ("02", "02"), // call issuer / contact issuer
    ("03", "03"), // invalid merchant contract / invalid acceptor
    ("05", "05"), // refused / do not honour
    ("11", "41"), // PAN blocked / lost card
    ("12", "12"), // invalid transaction
    ("14", "14"), // invalid card data or CSC / invalid PAN
    ("17", ""),   // customer cancellation
    ("24", ""),   // operation impossible in this status
    ("25", ""),   // transaction unknown
    ("30", "30"), // format error
    ("34", "59"), // fraud suspicion / fraud suspected
    ("40", ""),   // function not supported
    ("51", "51"), // amount too high / insufficient funds
    ("54", "54"), // card expired
    ("55", "57"), // prepaid card not accepted / not permitted to cardholder
    ("57", ""),   // refund refused
    ("60", ""),   // pending
    ("63", "63"), // security rules
    ("75", "75"), // too many attempts
    ("90", "90"), // service unavailable / system stopped
    ("94", ""),   // duplicate transactionReference
    ("97", "68"), // timeout / no response
    ("99", "96"), // server problem / malfunction
];

/// Decides what the simulator does for a card number (the security code is
/// ignored, as on SIMU).
///
/// Special cards first (module table), then the SIMU rule on the last two
/// digits. Acquirer codes paired with each `responseCode`:
///
/// | responseCode | acquirer | | responseCode | acquirer |
/// |---|---|---|---|---|
/// | 00 | 00 | | 40 | — |
/// | 02 | 02 | | 51 | 51 |
/// | 03 | 03 | | 54 | 54 |
/// | 05 | 05 | | 55 | 57 |
/// | 11 | 41 | | 57 | — |
/// | 12 | 12 | | 60 | — |
/// | 14 | 14 | | 63 | 63 |
/// | 17 | — | | 75 | 75 |
/// | 24 | — | | 90 | 90 |
/// | 25 | — | | 94 | — |
/// | 30 | 30 | | 97 | 68 |
/// | 34 | 59 | | 99 | 96 |
///
/// Input that is not at least two ASCII digits answers `30` (format error):
/// the IVR validates cards before calling, so this only guards the table.
pub fn behaviour_for(card_digits: &str) -> SimBehaviour {
    if let Some((_, b)) = SPECIAL_CARDS.iter().find(|(n, _)| *n == card_digits) {
        return *b;
    }
    let bytes = card_digits.as_bytes();
    if bytes.len() < 2 || !bytes.iter().all(u8::is_ascii_digit) {
        return answer("30", "30");
    }
    let last_two = &card_digits[card_digits.len() - 2..];
    match RESPONSE_CODES.iter().find(|(code, _)| *code == last_two) {
        Some(&(code, acquirer)) => answer(code, acquirer),
        None => answer("00", "00"),
    }
}

/// Shorthand for [`SimBehaviour::Answer`].
fn answer(response_code: &'static str, acquirer_response_code: &'static str) -> SimBehaviour {
    SimBehaviour::Answer { response_code, acquirer_response_code }
}

/// The `paymentMeanBrand` the simulator reports, following the SIMU prefixes
/// (co-badged prefixes report `CB`) and falling back to [`detect_brand`];
/// `None` when neither knows the number.
pub fn sim_brand(card_digits: &str) -> Option<&'static str> {
    match card_digits.get(..6) {
        Some("410000") => Some("VISA"),
        Some("420000" | "430000" | "520000") => Some("CB"),
        Some("510000") => Some("MASTERCARD"),
        Some("340000") => Some("AMEX"),
        Some("500000") => Some("MAESTRO"),
        _ => detect_brand(card_digits).map(|b| b.as_sips()),
    }
}

/// A 6-digit `authorisationId` derived from `seed` (e.g. a transaction
/// counter), deterministic so simulator runs and tests are reproducible.
pub fn authorisation_id(seed: u64) -> String {
    // SplitMix64 finaliser: spreads consecutive seeds over the whole range.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("{:06}", z % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::super::card::luhn_valid;
    use super::*;

    /// A Luhn-valid 16-digit card: six-digit `prefix`, zeros, then a digit
    /// chosen to fix the checksum, so the number still ends with `last_two`.
    fn sim_card(prefix: &str, last_two: &str) -> String {
        (0..=9).map(|d| format!("{prefix}0000000{d}{last_two}")).find(|s| luhn_valid(s)).unwrap()
    }

    fn codes(b: SimBehaviour) -> (&'static str, &'static str) {
        match b {
            SimBehaviour::Answer { response_code, acquirer_response_code } => (response_code, acquirer_response_code),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn special_cards_pass_luhn_and_are_distinct() {
        for (n, _) in SPECIAL_CARDS {
            assert!(luhn_valid(n), "{n}");
            assert_eq!(n.len(), 16);
            assert_eq!(sim_brand(n), Some("VISA"));
        }
        for (i, (a, _)) in SPECIAL_CARDS.iter().enumerate() {
            for (b, _) in &SPECIAL_CARDS[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn each_special_card_behaviour() {
        assert_eq!(behaviour_for(SLOW_CARD), SimBehaviour::Slow { delay_ms: 4_000 });
        assert_eq!(behaviour_for(NO_ANSWER_CARD), SimBehaviour::NoAnswer);
        assert_eq!(behaviour_for(UNAVAILABLE_CARD), SimBehaviour::Unavailable);
        assert_eq!(behaviour_for(LOST_AFTER_CHARGE_CARD), SimBehaviour::LostAfterCharge);
        assert_eq!(behaviour_for(DROP_AFTER_CHARGE_CARD), SimBehaviour::DropAfterCharge);
        assert_eq!(behaviour_for(BAD_GATEWAY_AFTER_CHARGE_CARD), SimBehaviour::BadGatewayAfterCharge);
        assert_eq!(behaviour_for(LATE_CHARGE_CARD), SimBehaviour::LateCharge);
    }

    #[test]
    fn last_two_digits_give_the_response_code() {
        let card = sim_card("410000", "05");
        assert!(luhn_valid(&card) && card.ends_with("05") && card.len() == 16);
        assert_eq!(codes(behaviour_for(&card)), ("05", "05"));
        assert_eq!(codes(behaviour_for("4100000000000000")), ("00", "00"));
        assert_eq!(codes(behaviour_for("4200000000000051")), ("51", "51"));
        assert_eq!(codes(behaviour_for("4200000000000054")), ("54", "54"));
        assert_eq!(codes(behaviour_for("4200000000000034")), ("34", "59"));
        assert_eq!(codes(behaviour_for("4200000000000017")), ("17", ""));
        assert_eq!(codes(behaviour_for("4200000000000090")), ("90", "90"));
        assert_eq!(codes(behaviour_for("4200000000000099")), ("99", "96"));
        for (code, acquirer) in RESPONSE_CODES {
            let card = format!("51000000000000{code}");
            assert_eq!(codes(behaviour_for(&card)), (code, acquirer));
        }
    }

    #[test]
    fn unknown_codes_are_accepted() {
        for last_two in ["01", "06", "13", "42", "98"] {
            let card = format!("41000000000000{last_two}");
            assert_eq!(codes(behaviour_for(&card)), ("00", "00"), "{last_two}");
        }
    }

    #[test]
    fn malformed_input_is_a_format_error() {
        for bad in ["", "7", "41000000000000ab", "4100 0000 0000 0005"] {
            assert_eq!(codes(behaviour_for(bad)), ("30", "30"), "{bad:?}");
        }
    }

    #[test]
    fn brand_from_simu_prefixes() {
        let cases = [
            ("4100000000000000", Some("VISA")),
            ("4200000000000000", Some("CB")),
            ("4300000000000000", Some("CB")),
            ("5100000000000000", Some("MASTERCARD")),
            ("5200000000000000", Some("CB")),
            ("340000000000000", Some("AMEX")),
            ("5000000000000000", Some("MAESTRO")),
            // Fallback to issuer ranges.
            ("4970101234560001", Some("VISA")),
            ("2221000000000009", Some("MASTERCARD")),
            ("3530111333300000", Some("JCB")),
            ("9999999999999999", None),
            ("", None),
        ];
        for (card, want) in cases {
            assert_eq!(sim_brand(card), want, "{card}");
        }
    }

    #[test]
    fn authorisation_ids_are_six_digits_and_deterministic() {
        let a = authorisation_id(1);
        assert_eq!(a.len(), 6);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(a, authorisation_id(1));
        assert_ne!(a, authorisation_id(2));
        let distinct: std::collections::HashSet<String> = (0..1000).map(authorisation_id).collect();
        assert!(distinct.len() > 990);
        assert_eq!(authorisation_id(u64::MAX).len(), 6);
    }
}
