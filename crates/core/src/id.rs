//! Sortable ids: 48 bits of milliseconds then 80 random bits, written as 26
//! Crockford base32 characters (the ULID layout). Ids made in the same
//! millisecond by one process still sort in creation order.

use std::sync::Mutex;

use crate::time::Timestamp;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static LAST: Mutex<Sequence> = Mutex::new(Sequence::new());

/// A new id, unique and greater than every id this process made before.
pub fn new_id() -> String {
    let now = Timestamp::now().millis();
    LAST.lock().unwrap_or_else(|e| e.into_inner()).at(now)
}

/// Ids that sort by the time given to them and by the order they were made,
/// for one writer that stamps its own rows (no lock shared with requests).
pub struct Sequence {
    last_ms: u64,
    last_random: u128,
}

impl Default for Sequence {
    fn default() -> Self {
        Self::new()
    }
}

impl Sequence {
    pub const fn new() -> Sequence {
        Sequence {
            last_ms: 0,
            last_random: 0,
        }
    }

    /// An id for `millis`, greater than every id this sequence made before
    /// (an earlier time than the last one counts up from the last).
    pub fn at(&mut self, millis: i64) -> String {
        let ms = millis.max(0) as u64;
        if ms <= self.last_ms {
            self.last_random = (self.last_random + 1) & ((1u128 << 80) - 1);
        } else {
            let mut bytes = [0u8; 16];
            crate::secret::fill_random(&mut bytes[6..]);
            self.last_ms = ms;
            self.last_random = u128::from_be_bytes(bytes);
        }
        encode((u128::from(self.last_ms) << 80) | self.last_random)
    }
}

/// The least id made at `millis` (ms since the epoch): ids sort by time,
/// so `id >= floor(t)` selects what was made at or after `t`.
pub fn floor(millis: i64) -> String {
    encode(u128::from(millis.max(0) as u64) << 80)
}

fn encode(mut value: u128) -> String {
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sorted_and_unique() {
        let ids: Vec<String> = (0..10_000).map(|_| new_id()).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        assert!(
            ids.iter()
                .all(|id| id.len() == 26 && id.bytes().all(|b| ALPHABET.contains(&b)))
        );
    }
}
