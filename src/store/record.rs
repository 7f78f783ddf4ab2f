//! The on-disk record format of a blob segment (DESIGN §3).
//!
//! A segment file `seg-NNNNNN.blob` is a sequence of records, nothing else (no file header, so
//! an empty file is a valid empty segment). One record, byte by byte:
//!
//! ```text
//!  offset  size  field
//!  0       4     magic     "IVB1" (0x49 0x56 0x42 0x31)
//!  4       8     length    u64, little-endian: number of data bytes that follow
//!  12      4     checksum  u32, little-endian: CRC-32 (IEEE 802.3, as `crc32fast`) of the data
//!  16      len   data      the message's canonical bytes (CRLF line ends)
//! ```
//!
//! The next record starts right after the data; there is no padding. A [`super::BlobRef`]
//! points at the *data* start (record start + [`HEADER_LEN`]), so a reader finds the header
//! just before it. The magic lets `verify` tell a record from garbage; the length is checked
//! against the index's length; the checksum catches flipped bits and torn writes.

/// The 4 bytes that open every record.
pub const MAGIC: [u8; 4] = *b"IVB1";
/// Bytes before the data: magic, length, checksum.
pub const HEADER_LEN: u64 = 16;

/// Builds the header of a record holding `data`.
pub fn header(data: &[u8]) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..4].copy_from_slice(&MAGIC);
    h[4..12].copy_from_slice(&(data.len() as u64).to_le_bytes());
    h[12..16].copy_from_slice(&crc32fast::hash(data).to_le_bytes());
    h
}

/// Why a record cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The 4 bytes before the data are not [`MAGIC`].
    BadMagic,
    /// The record's length field disagrees with the length the index recorded.
    BadLength,
    /// The data does not match the record's CRC-32.
    BadChecksum,
    /// The record does not fit in the file (header or data cut off).
    Truncated,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Damage::BadMagic => "bad magic",
            Damage::BadLength => "bad length",
            Damage::BadChecksum => "bad checksum",
            Damage::Truncated => "truncated record",
        })
    }
}

/// Checks the record whose header starts at `start` in `file` (a whole segment's bytes).
/// `expected_len`, when the caller knows it (from the index), must equal the length field.
/// On success returns the data range.
pub fn check(
    file: &[u8],
    start: u64,
    expected_len: Option<u64>,
) -> Result<std::ops::Range<usize>, Damage> {
    let size = file.len() as u64;
    let data_start = start.checked_add(HEADER_LEN).ok_or(Damage::Truncated)?;
    if data_start > size {
        return Err(Damage::Truncated);
    }
    // `data_start <= file.len()`, so these casts cannot truncate.
    let h = &file[start as usize..data_start as usize];
    // `h` is exactly HEADER_LEN (16) bytes, so the fixed-size conversions below cannot fail.
    if h[0..4] != MAGIC {
        return Err(Damage::BadMagic);
    }
    let len = u64::from_le_bytes(h[4..12].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(h[12..16].try_into().expect("4 bytes"));
    if expected_len.is_some_and(|e| e != len) {
        return Err(Damage::BadLength);
    }
    // A length past the end is a write cut short (or a damaged length field: the two cannot be
    // told apart from the bytes alone; `verify` uses the committed end to decide).
    let data_end = match data_start.checked_add(len) {
        Some(end) if end <= size => end,
        _ => return Err(Damage::Truncated),
    };
    let range = data_start as usize..data_end as usize;
    if crc32fast::hash(&file[range.clone()]) != crc {
        return Err(Damage::BadChecksum);
    }
    Ok(range)
}
