//! Injected randomness: a small seeded generator (SplitMix64) for retry jitter and ids, so a
//! run is reproduced exactly from its seed. Only [`SeededRng::from_entropy`] draws real entropy.

use uuid::Uuid;

/// A seeded pseudo-random generator. Not for secrets: for jitter and unique ids.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    pub fn new(seed: u64) -> SeededRng {
        SeededRng { state: seed }
    }

    /// A generator seeded from the operating system's entropy.
    #[allow(clippy::disallowed_methods)] // the one place that draws entropy
    pub fn from_entropy() -> SeededRng {
        SeededRng::new(Uuid::new_v4().as_u64_pair().0)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((self.next_u64() as u128 * bound as u128) >> 64) as u64
    }

    /// A version-4 UUID drawn from this generator.
    pub fn uuid(&mut self) -> Uuid {
        let hi = self.next_u64().to_be_bytes();
        let lo = self.next_u64().to_be_bytes();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi);
        bytes[8..].copy_from_slice(&lo);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        assert_eq!(a.uuid(), b.uuid());
        assert_eq!(a.next_u64(), b.next_u64());
        assert_eq!(a.uuid().get_version_num(), 4);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = SeededRng::new(1);
        assert!((0..1000).all(|_| r.below(10) < 10));
    }
}
