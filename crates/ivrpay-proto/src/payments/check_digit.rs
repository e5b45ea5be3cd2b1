//! Check digit for payment codes that customers type on a phone keypad.
//!
//! Callers identify the invoice they pay with a numeric code read from the
//! paper. A trailing check digit lets the IVR reject a mistyped code at once,
//! instead of looking it up and maybe finding someone else's invoice.
//!
//! We use the Damm algorithm: the digits are folded through a weakly totally
//! anti-symmetric quasigroup of order 10, and a code is valid when the fold
//! ends at 0. Unlike Luhn it detects *every* single-digit substitution and
//! *every* transposition of two adjacent digits (Luhn misses `09`↔`90`), needs
//! no weighting, and the check digit is always a plain digit (unlike ISO 7064
//! mod 11-2, which sometimes needs an `X` that a keypad cannot type).

/// The quasigroup operation table from H. Michael Damm's 2004 thesis:
/// `TABLE[interim][digit]` is the next interim value.
const TABLE: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// Folds ASCII digits through the table; `None` on any non-digit byte.
fn fold(digits: &[u8]) -> Option<u8> {
    digits
        .iter()
        .try_fold(0u8, |interim, &b| b.is_ascii_digit().then(|| TABLE[usize::from(interim)][usize::from(b - b'0')]))
}

/// The Damm check digit (0–9) to append to `digits`, so code generators and
/// validators share one definition. `None` if `digits` is empty or contains
/// anything but ASCII digits.
pub fn damm_digit(digits: &str) -> Option<u8> {
    if digits.is_empty() {
        return None;
    }
    // The table has a zero diagonal, so the interim value itself is the digit
    // that brings the fold back to 0.
    fold(digits.as_bytes())
}

/// `base` followed by its check digit: what we print on invoices.
/// `None` under the same conditions as [`damm_digit`].
pub fn append_check_digit(base: &str) -> Option<String> {
    let d = damm_digit(base)?;
    let mut code = String::with_capacity(base.len() + 1);
    code.push_str(base);
    code.push(char::from(b'0' + d));
    Some(code)
}

/// Whether a typed code (base plus check digit) is well formed: at least two
/// ASCII digits whose Damm fold ends at 0. Call this before any lookup.
pub fn is_valid(code: &str) -> bool {
    code.len() >= 2 && fold(code.as_bytes()) == Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(damm_digit("572"), Some(4));
        assert_eq!(append_check_digit("572").as_deref(), Some("5724"));
        assert!(is_valid("5724"));
        assert!(!is_valid("5723"));
        assert!(!is_valid("7524"));
    }

    #[test]
    fn rejects_non_digits_and_degenerate_input() {
        assert_eq!(damm_digit(""), None);
        assert_eq!(damm_digit("12a"), None);
        assert_eq!(damm_digit("١٢"), None); // non-ASCII digits
        assert_eq!(append_check_digit("12 3"), None);
        assert!(!is_valid(""));
        assert!(!is_valid("0")); // no base digits
        assert!(!is_valid("57 24"));
        assert!(!is_valid("+5724"));
    }

    #[test]
    fn table_is_a_quasigroup_with_zero_diagonal() {
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(row[i], 0);
            let mut seen_row = [false; 10];
            let mut seen_col = [false; 10];
            for (j, &v) in row.iter().enumerate() {
                seen_row[usize::from(v)] = true;
                seen_col[usize::from(TABLE[j][i])] = true;
            }
            assert!(seen_row.iter().all(|&s| s) && seen_col.iter().all(|&s| s));
        }
    }

    /// Checks every single-digit substitution and every adjacent swap of
    /// distinct digits of `code`; returns how many variants were checked.
    fn assert_all_errors_caught(code: &mut [u8]) -> u32 {
        let s = |c: &[u8]| std::str::from_utf8(c).unwrap().to_owned();
        assert!(is_valid(std::str::from_utf8(code).unwrap()), "{}", s(code));
        let mut checked = 0;
        for i in 0..code.len() {
            let orig = code[i];
            for d in b'0'..=b'9' {
                if d != orig {
                    code[i] = d;
                    assert!(!is_valid(std::str::from_utf8(code).unwrap()), "{}", s(code));
                    checked += 1;
                }
            }
            code[i] = orig;
        }
        for i in 0..code.len() - 1 {
            if code[i] != code[i + 1] {
                code.swap(i, i + 1);
                assert!(!is_valid(std::str::from_utf8(code).unwrap()), "{}", s(code));
                code.swap(i, i + 1);
                checked += 1;
            }
        }
        checked
    }

    /// Exhaustive proof over all 100 000 five-digit bases (six-digit codes).
    #[test]
    fn every_single_error_and_adjacent_swap_caught_for_all_5_digit_bases() {
        let mut total = 0u64;
        for n in 0..100_000u32 {
            let base = format!("{n:05}");
            let mut code = append_check_digit(&base).unwrap().into_bytes();
            total += u64::from(assert_all_errors_caught(&mut code));
        }
        // 6 positions x 9 substitutions each, plus up to 5 swaps per code.
        assert!(total > 100_000 * 54);
    }

    /// Longer codes: a deterministic pseudo-random sample of 12-digit bases.
    #[test]
    fn sampled_longer_codes() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let base = format!("{:012}", x % 1_000_000_000_000);
            let mut code = append_check_digit(&base).unwrap().into_bytes();
            assert_all_errors_caught(&mut code);
        }
    }
}
