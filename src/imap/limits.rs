//! The grammar layer's view of [`crate::limits`], where every limit is defined with its reason.
//!
//! Owns nothing: the framer, the parser and the types import their bounds from here so that
//! the grammar code keeps its short paths while the numbers live in one place.

pub use crate::limits::{
    FrameLimits, LITERAL_MINUS_MAX, MAX_CONTINUATION_LINE, MAX_DISCARD, MAX_ID_FIELD, MAX_ID_PAIRS,
    MAX_ID_VALUE, MAX_LIST_ITEMS, MAX_OBJECT_ID, MAX_SEARCH_DEPTH, MAX_SEARCH_KEYS,
    MAX_SECTION_PARTS, MAX_SEQUENCE_RANGES, MAX_TAG,
};
