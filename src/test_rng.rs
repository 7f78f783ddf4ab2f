//! Deterministic random inputs for the unit tests that compare a fast function with its simple
//! reference (xorshift64*, so a failure names its seed and reproduces).

/// Deterministic random numbers (xorshift64*).
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; 0 is mapped to a nonzero state).
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `len` picks from `pieces`, concatenated.
    pub(crate) fn bytes_of(&mut self, pieces: &[&[u8]], len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..len {
            out.extend_from_slice(pieces[self.below(pieces.len())]);
        }
        out
    }

    /// `len` picks from `pieces`, concatenated.
    pub(crate) fn text_of(&mut self, pieces: &[&str], len: usize) -> String {
        let mut out = String::new();
        for _ in 0..len {
            out.push_str(pieces[self.below(pieces.len())]);
        }
        out
    }
}
