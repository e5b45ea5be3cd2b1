//! The type-ahead buffer: keys the caller pressed before the flow asked for them.
//! During card entry these are card digits, so the buffer has no `Debug` that shows
//! them and is wiped whenever it is emptied and when dropped.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Most keys kept; a caller leaning on the keypad does not grow memory.
const CAPACITY: usize = 64;

/// Keys waiting for an input step, oldest first.
pub struct KeyBuffer {
    keys: Zeroizing<Vec<u8>>,
}

impl Default for KeyBuffer {
    /// At its full size from the start: pushing never reallocates, so no copy of the
    /// keys (card digits typed ahead) is left in freed memory.
    fn default() -> Self {
        KeyBuffer { keys: Zeroizing::new(Vec::with_capacity(CAPACITY)) }
    }
}

impl KeyBuffer {
    /// Adds a key (dropped when the buffer is full).
    pub fn push(&mut self, key: char) {
        if self.keys.len() < CAPACITY && key.is_ascii() {
            self.keys.push(key as u8);
        }
    }

    /// Takes the oldest key.
    pub fn pop(&mut self) -> Option<char> {
        if self.keys.is_empty() {
            return None;
        }
        let key = self.keys.remove(0) as char;
        // `remove` leaves the old last byte beyond the length: overwrite it.
        let len = self.keys.len();
        self.keys.push(0);
        self.keys.truncate(len);
        Some(key)
    }

    /// Forgets every key (after an error the caller must hear the prompt again).
    pub fn clear(&mut self) {
        self.keys.zeroize();
    }

    /// True when no key waits.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Debug for KeyBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBuffer({} keys)", self.keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_bounds_size_and_hides_keys() {
        let mut b = KeyBuffer::default();
        for k in "4970#".chars() {
            b.push(k);
        }
        assert_eq!(format!("{b:?}"), "KeyBuffer(5 keys)");
        assert_eq!(b.pop(), Some('4'));
        assert_eq!(b.pop(), Some('9'));
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.pop(), None);
        for _ in 0..100 {
            b.push('1');
        }
        assert_eq!(format!("{b:?}"), "KeyBuffer(64 keys)");
    }
}

#[cfg(test)]
mod capacity_tests {
    use super::*;

    #[test]
    fn typed_keys_never_move_to_a_new_buffer() {
        let mut b = KeyBuffer::default();
        let at = b.keys.as_ptr();
        for _ in 0..CAPACITY + 10 {
            b.push('4');
        }
        assert_eq!((b.keys.as_ptr(), b.keys.len()), (at, CAPACITY), "no reallocation, extra keys dropped");
        let mut digits = super::super::input::card_buffer();
        let at = digits.as_ptr();
        digits.push_str(&"4".repeat(crate::ivr::dialplan::MAX_DIGITS));
        assert_eq!(digits.as_ptr(), at, "an input's longest answer fits its first buffer");
    }
}
