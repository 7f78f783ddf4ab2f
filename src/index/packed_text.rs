//! How a field of `message_text_store` is kept (`sql/0014_packed_text.sql`, issue 3): as TEXT,
//! or, when long and compressible, packed as a BLOB (its length in 4 bytes little-endian, then
//! one LZ4 block). Owns packing a field at ingest and reading either form back for the exact
//! check. Knows no IMAP and no search.
//!
//! Why: the folded text was ~80 % of the index (1,030 of 1,270 MiB at 100,000 messages), and
//! the ingest's writer thread wrote each page of it twice (WAL, then the database). LZ4 halves
//! it; packing runs on the threads that prepare messages, unpacking at GB/s in the exact check.

use rusqlite::types::ValueRef;

use super::IndexError;

/// Fields shorter than this many bytes stay TEXT: a short field saves little, and reading it
/// back needs no copy.
#[cfg(not(test))]
const PACK_MIN: usize = 512;
/// Small in unit tests, so that their short texts are packed too.
#[cfg(test)]
const PACK_MIN: usize = 16;

/// The largest field unpacked, in bytes: far above any folded text of a message the importer
/// takes, so only a damaged row can claim more, and it is refused before any allocation.
const UNPACKED_MAX: usize = 1 << 30;

/// `text` packed, or None when it is to stay TEXT: shorter than [`PACK_MIN`], or not made at
/// least an eighth smaller.
pub(super) fn pack(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() < PACK_MIN || bytes.len() > UNPACKED_MAX {
        return None;
    }
    let len = u32::try_from(bytes.len()).ok()?;
    let mut out = Vec::with_capacity(4 + lz4_flex::block::get_maximum_output_size(bytes.len()));
    out.extend_from_slice(&len.to_le_bytes());
    out.resize(out.capacity(), 0);
    let packed = lz4_flex::block::compress_into(bytes, &mut out[4..]).ok()?;
    out.truncate(4 + packed);
    (out.len() <= bytes.len() - bytes.len() / 8).then_some(out)
}

/// The bytes of a stored field: TEXT as it is, a packed BLOB unpacked into `scratch`; NULL (never
/// written) as empty. Fails with [`IndexError::Corrupt`] on a BLOB that is not a whole packed
/// field.
pub(super) fn read<'a>(
    value: ValueRef<'a>,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], IndexError> {
    match value {
        ValueRef::Text(t) => Ok(t),
        ValueRef::Blob(b) => {
            let damaged = || IndexError::Corrupt("a packed text of message_text_store".into());
            let (len, block) = b.split_first_chunk::<4>().ok_or_else(damaged)?;
            let len = u32::from_le_bytes(*len) as usize;
            // LZ4 expands at most ~255 times: a larger claim is a damaged length.
            if len > UNPACKED_MAX || len > block.len().saturating_mul(255) {
                return Err(damaged());
            }
            scratch.clear();
            scratch.resize(len, 0);
            match lz4_flex::block::decompress_into(block, scratch) {
                Ok(n) if n == len => Ok(&scratch[..]),
                _ => Err(damaged()),
            }
        }
        _ => Ok(&[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_compressible_text_is_packed_and_reads_back_whole() {
        let text = "the quick brown fox jumps over the lazy dog; ".repeat(20);
        let packed = pack(&text).expect("packed");
        assert!(packed.len() < text.len() / 2, "{} bytes", packed.len());
        let mut scratch = Vec::new();
        let back = read(ValueRef::Blob(&packed), &mut scratch).unwrap();
        assert_eq!(back, text.as_bytes());
    }

    #[test]
    fn short_or_incompressible_text_stays_text() {
        assert_eq!(pack("short"), None);
        assert_eq!(pack(&"x".repeat(PACK_MIN - 1)), None);
        assert!(pack(&"x".repeat(PACK_MIN * 4)).is_some());
        // Bytes that do not repeat: LZ4 cannot make them an eighth smaller.
        let mut rng = crate::test_rng::Rng::new(3);
        let noise: String = (0..400)
            .map(|_| char::from(b'!' + rng.below(90) as u8))
            .collect();
        assert_eq!(pack(&noise), None);
        let mut scratch = Vec::new();
        assert_eq!(
            read(ValueRef::Text(b"as is"), &mut scratch).unwrap(),
            b"as is"
        );
        assert_eq!(read(ValueRef::Null, &mut scratch).unwrap(), b"");
    }

    #[test]
    fn a_damaged_packed_text_is_refused_not_read() {
        let text = "abcdefgh".repeat(40);
        let packed = pack(&text).unwrap();
        let mut scratch = Vec::new();
        for bad in [
            packed[..3].to_vec(),
            packed[..packed.len() - 1].to_vec(),
            // A length of 4 GiB − 1: refused before any allocation.
            [&[0xff; 4][..], &packed[4..]].concat(),
            // One byte short of the length the block holds.
            [&((text.len() - 1) as u32).to_le_bytes()[..], &packed[4..]].concat(),
        ] {
            assert!(
                matches!(
                    read(ValueRef::Blob(&bad), &mut scratch),
                    Err(IndexError::Corrupt(_))
                ),
                "{bad:?}"
            );
        }
    }
}
