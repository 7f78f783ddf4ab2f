//! `verify`: walk every segment and report what cannot be served (DESIGN §3, §5 `imapvault
//! verify`).
//!
//! The index is the record of what is committed, so the caller passes every committed
//! [`BlobRef`]. Per segment, the committed end is the end of the last committed record's data;
//! the walk checks each record from the start of the file to that end, and reports:
//! - a [`DamagedRecord`] for each record inside the committed region with a bad magic, length
//!   or checksum (the walk then resumes at the next committed record), and for each committed
//!   reference that does not land on an intact record;
//! - a [`TornTail`] for bytes past the committed end: a record cut short by a crash, or whole
//!   records of a batch that never committed. Both are harmless (never served, never
//!   continued: the next writer starts a new segment) and are reported apart from damage.

use std::collections::{BTreeMap, HashSet};

use super::record::{self, Damage};
use super::{BlobRef, BlobStore, StoreError};

/// What [`BlobStore::verify`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files walked.
    pub segments: usize,
    /// Intact records found inside committed regions.
    pub records: u64,
    /// Damage inside committed data: these records are not served.
    pub damaged: Vec<DamagedRecord>,
    /// Bytes past a segment's committed end.
    pub torn_tails: Vec<TornTail>,
}

impl VerifyReport {
    /// Whether every committed record is intact (torn tails are not damage).
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// A damaged record inside committed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamagedRecord {
    /// Segment number.
    pub segment: u32,
    /// Offset of the record's header in the segment.
    pub record_offset: u64,
    /// What is wrong.
    pub damage: Damage,
}

/// Bytes past the committed end of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Segment number.
    pub segment: u32,
    /// End of the last committed record (where the tail starts).
    pub committed_end: u64,
    /// Length of the file.
    pub file_len: u64,
}

impl BlobStore {
    /// Checks every segment against the committed references (see the module docs).
    pub fn verify(&self, committed: &[BlobRef]) -> Result<VerifyReport, StoreError> {
        let mut by_segment: BTreeMap<u32, Vec<BlobRef>> = BTreeMap::new();
        for r in committed {
            by_segment.entry(r.segment).or_default().push(*r);
        }
        let mut report = VerifyReport::default();
        let on_disk = self.segments()?;
        for &seg in &on_disk {
            report.segments += 1;
            let mut refs = by_segment.remove(&seg).unwrap_or_default();
            refs.sort_unstable_by_key(|r| r.offset);
            self.verify_segment(seg, &refs, &mut report)?;
        }
        // References to segments that are not on disk at all.
        for (seg, refs) in by_segment {
            for r in refs {
                report.damaged.push(DamagedRecord {
                    segment: seg,
                    record_offset: r.offset.saturating_sub(record::HEADER_LEN),
                    damage: Damage::Truncated,
                });
            }
        }
        Ok(report)
    }

    fn verify_segment(
        &self,
        seg: u32,
        refs: &[BlobRef],
        report: &mut VerifyReport,
    ) -> Result<(), StoreError> {
        let path = self.segment_path(seg);
        let file_len = std::fs::metadata(&path)
            .map_err(|source| StoreError::Io { path, source })?
            .len();
        let committed_end = refs
            .iter()
            .map(|r| r.offset.saturating_add(r.len))
            .max()
            .unwrap_or(0);
        let expected: BTreeMap<u64, u64> = refs
            .iter()
            .map(|r| (r.offset.saturating_sub(record::HEADER_LEN), r.len))
            .collect();
        let mut intact: HashSet<u64> = HashSet::new();
        let walk_end = committed_end.min(file_len);
        if walk_end > 0 {
            let map = self.map_covering(seg, walk_end)?;
            let mut pos = 0u64;
            while pos < walk_end {
                match record::check(&map, pos, expected.get(&pos).copied()) {
                    Ok(range) => {
                        report.records += 1;
                        intact.insert(pos);
                        pos = range.end as u64;
                    }
                    Err(damage) => {
                        report.damaged.push(DamagedRecord {
                            segment: seg,
                            record_offset: pos,
                            damage,
                        });
                        // The length field cannot be trusted: resume at the next record the
                        // index knows.
                        pos = expected
                            .range(pos + 1..)
                            .next()
                            .map_or(walk_end, |(&start, _)| start);
                    }
                }
            }
        }
        // Committed references the walk did not find intact (past the file's end, or not on a
        // record boundary) and not already reported.
        for (&start, _) in expected.iter() {
            let reported = report
                .damaged
                .iter()
                .any(|d| d.segment == seg && d.record_offset == start);
            if !intact.contains(&start) && !reported {
                report.damaged.push(DamagedRecord {
                    segment: seg,
                    record_offset: start,
                    damage: Damage::Truncated,
                });
            }
        }
        if file_len > committed_end {
            report.torn_tails.push(TornTail {
                segment: seg,
                committed_end,
                file_len,
            });
        }
        Ok(())
    }
}
