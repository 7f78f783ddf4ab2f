//! The searchable text of one message (issue 3, DESIGN §4): what SEARCH's text keys compare
//! against, decoded to UTF-8, computed once at ingest (and by `imapvault reindex`).
//!
//! Owns: RFC 2047 encoded words, RFC 2231 parameter values, transfer decoding for search
//! (lenient, unlike BINARY), charset decoding ([`decode_charset`], also used for the strings of
//! `SEARCH CHARSET`), HTML rendered to plain text, and the case folding both sides of a match
//! use ([`fold`]). Knows nothing of SQL or IMAP syntax. Pure, never fails, never panics.
//!
//! Per message, one string per field ([`SearchText`]):
//! - `from`, `to`, `cc`, `bcc`: every address of those header fields as `name <local@domain>`,
//!   the display name RFC 2047-decoded (RFC 3501 §6.4.4 compares "the envelope structure's
//!   FROM/TO/... field", which holds both);
//! - `subject`: the `Subject:` fields, unfolded and RFC 2047-decoded;
//! - `headers`: every top-level header field as `name: value` lines (unfolded, decoded), for
//!   `HEADER` and `TEXT`;
//! - `body`: the text of every text/* part (transfer- and charset-decoded, HTML as text),
//!   attachment file names, and the headers and text of attached message/rfc822 parts.
//!
//! Known limits: text past [`MAX_BODY_TEXT`] (body) or [`MAX_HEADER_TEXT`] (each header field
//! string) is not kept, so a search may miss a match that lies beyond the cap. Case folding is
//! full Unicode case folding ([`fold`]). The part tree's caps
//! ([`super::limits`]) bound the walk; parts beyond them contribute nothing.

use std::borrow::Cow;

use super::address::{self, MISSING_DOMAIN, MISSING_MAILBOX};
use super::tree::{self, Kind, Part};
use super::{decode, header, params};

/// Body text kept per message (bytes of UTF-8). Past it the rest is not indexed.
pub const MAX_BODY_TEXT: usize = 1 << 20;
/// Text kept per header-derived field (bytes of UTF-8).
pub const MAX_HEADER_TEXT: usize = 256 << 10;
/// Transfer-encoded input decoded per part at most: enough for [`MAX_BODY_TEXT`] of text in
/// any encoding (base64 4/3, quoted-printable up to 3×, 4-byte UTF-8), so decoding work is
/// bounded however large the part.
const MAX_PART_INPUT: usize = 4 * MAX_BODY_TEXT;

/// The searchable text of a message, one string per search field. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchText {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub headers: String,
    pub body: String,
}

impl SearchText {
    /// The fields in the order of the struct (from, to, cc, bcc, subject, headers, body).
    pub fn fields(&self) -> [&String; 7] {
        [
            &self.from,
            &self.to,
            &self.cc,
            &self.bcc,
            &self.subject,
            &self.headers,
            &self.body,
        ]
    }

    /// Every field case-folded with [`fold`]: the form the index stores and matches.
    pub fn folded(&self) -> SearchText {
        self.map(fold)
    }

    /// Every field passed through `f`.
    pub fn map(&self, f: impl Fn(&str) -> String) -> SearchText {
        SearchText {
            from: f(&self.from),
            to: f(&self.to),
            cc: f(&self.cc),
            bcc: f(&self.bcc),
            subject: f(&self.subject),
            headers: f(&self.headers),
            body: f(&self.body),
        }
    }
}

/// Which case folding the stored text was made with. Bumped whenever [`fold`] changes: text
/// folded by an older rule must be folded again (`imapvault reindex`) before text searches can
/// be trusted, and a migration marks the archive so (`content_state.refold_pending`, sql/0005).
pub const FOLD_VERSION: u32 = 2;

/// The case folding of SEARCH (RFC 3501 §6.4.4 "case-insensitive"): full Unicode case folding
/// (CaseFolding.txt, statuses C and F: `ß` and `ẞ` → `ss`, `ς` → `σ`, `ſ` → `s`, `ﬁ` → `fi`),
/// applied to the stored text and to the search string alike. Turkish dotted and dotless i
/// fold by the default (non-Turkic) rule.
///
/// It works character by character, with no context (unlike `str::to_lowercase`, whose final
/// sigma rule would fold `Σ` to `σ` or `ς` depending on what follows): so the folding of a
/// substring is always a substring of the folding of the whole, which is what makes a match on
/// folded text equal a case-insensitive match, and the content index's words of a folded
/// string the words of the folded text. NUL becomes a space (SQLite text is not meant to carry
/// it).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    // Runs of ASCII (most of any mail's text) are copied and lowercased whole; the rest goes
    // character by character.
    while !rest.is_empty() {
        let ascii = ascii_prefix_len(rest.as_bytes());
        if ascii > 0 {
            // An ASCII byte always ends a character: a valid cut.
            let (run, after) = rest.split_at(ascii);
            if run.len() < FOLD_SHORT_RUN {
                // A space or a digit between two words of another script: not worth a bulk
                // copy's setup.
                out.extend(run.bytes().map(|b| match b {
                    0 => ' ',
                    b => char::from(b.to_ascii_lowercase()),
                }));
            } else {
                let start = out.len();
                for (i, piece) in run.split('\0').enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(piece);
                }
                out[start..].make_ascii_lowercase();
            }
            rest = after;
            continue;
        }
        let Some(c) = rest.chars().next() else {
            break;
        };
        fold_char(&mut out, c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Appends the folding of the non-ASCII character `c`, from [`FoldTables`] where they know
/// it (two searches of tables per character were most of [`fold`]'s time on Cyrillic, Greek
/// or CJK text).
fn fold_char(out: &mut String, c: char) {
    let tables = FOLD_TABLES.get_or_init(FoldTables::new);
    let n = c as usize;
    if let Some(&f) = tables.two_byte.get(n.wrapping_sub(0x80)) {
        if f != '\0' {
            out.push(f);
            return;
        }
    } else if tables.caseless_block.get(n >> 8) == Some(&true) {
        out.push(c);
        return;
    }
    fold_char_by_rule(out, c);
}

/// Appends the folding of `c` by the rule itself: the exceptions table, else lowercasing.
fn fold_char_by_rule(out: &mut String, c: char) {
    if let Ok(i) = super::casefold::EXCEPTIONS.binary_search_by_key(&c, |&(k, _)| k) {
        out.push_str(super::casefold::EXCEPTIONS[i].1);
    } else {
        out.extend(c.to_lowercase());
    }
}

/// [`fold_char_by_rule`] precomputed where it is cheap to: built once per process.
struct FoldTables {
    /// The single-character folding of U+0080..U+07FF (two-byte UTF-8: Latin, Greek,
    /// Cyrillic, Armenian, Hebrew, Arabic), or NUL for those that fold to several.
    two_byte: Vec<char>,
    /// Per block of 256 code points of the BMP: whether every character in it folds to
    /// itself (CJK, kana, Hangul, most symbols).
    caseless_block: Vec<bool>,
}

static FOLD_TABLES: std::sync::OnceLock<FoldTables> = std::sync::OnceLock::new();

impl FoldTables {
    fn new() -> FoldTables {
        let mut buf = String::new();
        let mut fold_one = |c: char| {
            buf.clear();
            fold_char_by_rule(&mut buf, c);
            let mut chars = buf.chars();
            match (chars.next(), chars.next()) {
                (Some(f), None) => f,
                _ => '\0',
            }
        };
        let two_byte = (0x80..0x800)
            .map(|n| char::from_u32(n).map_or('\0', &mut fold_one))
            .collect();
        let caseless_block = (0..0x100u32)
            .map(|block| {
                (block << 8..(block + 1) << 8)
                    .filter_map(char::from_u32)
                    .all(|c| fold_one(c) == c)
            })
            .collect();
        FoldTables {
            two_byte,
            caseless_block,
        }
    }
}

/// ASCII runs shorter than this are folded byte by byte in [`fold`].
const FOLD_SHORT_RUN: usize = 16;

/// How many bytes at the start of `b` are ASCII, read 8 at a time.
fn ascii_prefix_len(b: &[u8]) -> usize {
    let mut n = 0;
    for chunk in b.chunks_exact(8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        if u64::from_ne_bytes(word) & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        n += 8;
    }
    n + b[n..].iter().take_while(|b| b.is_ascii()).count()
}

/// Extracts the searchable text of a message (canonical CRLF bytes).
pub fn extract(message: &[u8]) -> SearchText {
    extract_from(message, &tree::build(message))
}

/// [`extract`] and [`preview`] of one message, its part tree built once (ingest and reindex
/// need both).
pub fn extract_with_preview(message: &[u8]) -> (SearchText, String) {
    let root = tree::build(message);
    (extract_from(message, &root), preview_from(message, &root))
}

fn extract_from(message: &[u8], root: &Part) -> SearchText {
    let head = &message[root.header.clone()];
    let mut t = SearchText::default();
    for f in header::fields(head) {
        let name = f.name;
        let target = if name.eq_ignore_ascii_case(b"From") {
            Some(&mut t.from)
        } else if name.eq_ignore_ascii_case(b"To") {
            Some(&mut t.to)
        } else if name.eq_ignore_ascii_case(b"Cc") {
            Some(&mut t.cc)
        } else if name.eq_ignore_ascii_case(b"Bcc") {
            Some(&mut t.bcc)
        } else {
            None
        };
        if let Some(target) = target {
            addresses(target, f.value);
        } else if name.eq_ignore_ascii_case(b"Subject") {
            let v = decode_words(&header::unfold(f.value));
            separate(&mut t.subject, " ", MAX_HEADER_TEXT);
            push_capped(&mut t.subject, &v, MAX_HEADER_TEXT);
        }
    }
    header_lines(&mut t.headers, head, MAX_HEADER_TEXT);
    body_text(&mut t.body, message, root);
    t
}

/// `name: value` lines of every field of `head`, decoded.
fn header_lines(out: &mut String, head: &[u8], cap: usize) {
    for f in header::fields(head) {
        if out.len() >= cap {
            return;
        }
        let name = bytes_to_text(f.name);
        // A decoded value may hold line breaks (`=0A` in an encoded word): they would split
        // the `name: value` line that `header_values` reads, so they become spaces.
        let value = decode_words(&header::unfold(f.value)).replace(['\r', '\n'], " ");
        let mut line = String::with_capacity(name.len() + value.len() + 3);
        line.push_str(&name);
        line.push_str(": ");
        line.push_str(&value);
        line.push('\n');
        push_capped(out, &line, cap);
    }
}

/// The value of a `HEADER` field from the stored (folded) `headers` text: each line is
/// `name: value`; the field name is compared case-insensitively (RFC 3501 §6.4.4).
/// Yields the values of every field with that name.
pub fn header_values<'a>(headers: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers.split('\n').filter_map(move |line| {
        let (n, v) = line.split_once(": ")?;
        n.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// Appends `name <local@domain>` for each address of an address field (RFC 5322 §3.4).
fn addresses(out: &mut String, value: &[u8]) {
    for a in address::parse_list(value) {
        if out.len() >= MAX_HEADER_TEXT {
            return;
        }
        let mut one = String::new();
        if let Some(name) = &a.name {
            one.push_str(&decode_words(name));
        }
        match (&a.mailbox, &a.host) {
            // Group start: the group's display name (RFC 3501 §7.4.2 puts it in `mailbox`).
            (Some(group), None) => one.push_str(&decode_words(group)),
            (Some(mailbox), Some(host)) => {
                let mut spec = String::new();
                if mailbox.as_slice() != MISSING_MAILBOX {
                    spec.push_str(&bytes_to_text(mailbox));
                }
                if host.as_slice() != MISSING_DOMAIN {
                    spec.push('@');
                    spec.push_str(&bytes_to_text(host));
                }
                if !one.is_empty() {
                    one.push(' ');
                }
                one.push('<');
                one.push_str(&spec);
                one.push('>');
            }
            _ => {}
        }
        if one.is_empty() {
            continue;
        }
        separate(out, ", ", MAX_HEADER_TEXT);
        push_capped(out, &one, MAX_HEADER_TEXT);
    }
}

/// The body text of the message: a walk over the part tree with an explicit stack (its depth is
/// already capped by the tree, but input never chooses our recursion).
fn body_text(out: &mut String, msg: &[u8], root: &Part) {
    // The root's own header is the message header, indexed as `headers`, not as body.
    let mut stack: Vec<(&Part, bool)> = vec![(root, false)];
    while let Some((part, show_header)) = stack.pop() {
        if out.len() >= MAX_BODY_TEXT {
            return;
        }
        let head = &msg[part.header.clone()];
        if show_header {
            // An attached message's header (RFC 2046 §5.2.1): part of the body's text.
            separate(out, "\n", MAX_BODY_TEXT);
            header_lines(out, head, MAX_BODY_TEXT);
        }
        match &part.kind {
            Kind::Multipart(children) => {
                stack.extend(children.iter().rev().map(|c| (c, false)));
            }
            Kind::Message(inner) => stack.push((inner, true)),
            Kind::Opaque => {}
            Kind::Leaf => {
                if let Some(name) = file_name(head) {
                    separate(out, "\n", MAX_BODY_TEXT);
                    push_capped(out, &name, MAX_BODY_TEXT);
                }
                if part.ctype.is("text") {
                    separate(out, "\n", MAX_BODY_TEXT);
                    push_capped(out, &leaf_text(msg, part, MAX_PART_INPUT), MAX_BODY_TEXT);
                }
            }
        }
    }
}

/// The text of a text/* leaf as a reader sees it: transfer- and charset-decoded from at most
/// `input_cap` bytes of its body, HTML rendered as text.
fn leaf_text(msg: &[u8], part: &Part, input_cap: usize) -> String {
    let head = &msg[part.header.clone()];
    let raw = &msg[part.body.clone()];
    let raw = &raw[..raw.len().min(input_cap)];
    let bytes = transfer_decode(head, raw);
    let charset = part.ctype.param("charset").unwrap_or(b"us-ascii");
    let text = decode_charset(charset, &bytes);
    if part.ctype.sub.eq_ignore_ascii_case(b"html") {
        html_to_text(&text)
    } else {
        text.into_owned()
    }
}

/// Longest preview, in characters (RFC 8970 §3: "no more than 256 characters").
pub const MAX_PREVIEW_CHARS: usize = 256;
/// Transfer-encoded input read for a preview: enough for an HTML part whose visible text starts
/// after a long `<style>` block, while a huge part costs no more than this.
const MAX_PREVIEW_INPUT: usize = 256 << 10;

/// The PREVIEW text of a message (RFC 8970 §3), computed once at ingest: the text of its first
/// text/plain or text/html part that is not an attachment (depth first, in the order the
/// parts appear; attached message/rfc822 parts are not entered: they are someone else's
/// message), decoded as [`extract`] decodes it, HTML rendered as text, every run of whitespace
/// made one space, control characters dropped, trimmed and cut to [`MAX_PREVIEW_CHARS`]
/// characters. A part whose text is empty is passed over. A message with no such text has the
/// empty preview (RFC 8970 §3: "the empty string"), never NIL.
pub fn preview(message: &[u8]) -> String {
    preview_from(message, &tree::build(message))
}

fn preview_from(message: &[u8], root: &Part) -> String {
    let mut stack: Vec<&Part> = vec![root];
    while let Some(part) = stack.pop() {
        let head = &message[part.header.clone()];
        match &part.kind {
            Kind::Multipart(children) => stack.extend(children.iter().rev()),
            Kind::Message(_) | Kind::Opaque => {}
            Kind::Leaf => {
                let attachment = header::first(head, "Content-Disposition")
                    .and_then(params::disposition)
                    .is_some_and(|d| d.kind.eq_ignore_ascii_case(b"attachment"));
                let wanted = part.ctype.is("text")
                    && (part.ctype.sub.eq_ignore_ascii_case(b"plain")
                        || part.ctype.sub.eq_ignore_ascii_case(b"html"));
                if attachment || !wanted {
                    continue;
                }
                let text = normalise_preview(&leaf_text(message, part, MAX_PREVIEW_INPUT));
                if !text.is_empty() {
                    return text;
                }
            }
        }
    }
    String::new()
}

/// Whitespace runs to one space, control characters out, trimmed, at most
/// [`MAX_PREVIEW_CHARS`] characters.
fn normalise_preview(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || c == '\u{feff}' {
            continue;
        }
        if space {
            if count + 1 >= MAX_PREVIEW_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
            space = false;
        }
        if count >= MAX_PREVIEW_CHARS {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// The part's file name: Content-Disposition `filename`, else Content-Type `name`, each in its
/// RFC 2231 form (`filename*`, charset'lang'%XX) or plain (RFC 2047 words decoded, as many
/// mailers write them).
fn file_name(head: &[u8]) -> Option<String> {
    let disp = header::first(head, "Content-Disposition").and_then(params::disposition);
    let ctype = header::first(head, "Content-Type").and_then(params::content_type);
    let lists = [
        disp.as_ref().map(|d| (&d.params, "filename")),
        ctype.as_ref().map(|c| (&c.params, "name")),
    ];
    for (list, name) in lists.into_iter().flatten() {
        let extended = format!("{name}*");
        if let Some(v) = params::param(list, &extended) {
            return Some(decode_rfc2231(v));
        }
        if let Some(v) = params::param(list, name) {
            return Some(decode_words(v));
        }
    }
    None
}

/// RFC 2231 §4: `charset'language'percent-encoded`. Without the two quotes, the value is taken
/// as percent-encoded UTF-8.
fn decode_rfc2231(v: &[u8]) -> String {
    let mut it = v.splitn(3, |&b| b == b'\'');
    let (charset, text) = match (it.next(), it.next(), it.next()) {
        (Some(c), Some(_lang), Some(t)) => (c, t),
        _ => (&b"utf-8"[..], v),
    };
    let mut bytes = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            if let (Some(h), Some(l)) = (
                text.get(i + 1).and_then(|&c| hex(c)),
                text.get(i + 2).and_then(|&c| hex(c)),
            ) {
                bytes.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        bytes.push(text[i]);
        i += 1;
    }
    let charset = if charset.is_empty() {
        b"utf-8"
    } else {
        charset
    };
    decode_charset(charset, &bytes).into_owned()
}

/// Removes the part's Content-Transfer-Encoding (RFC 2045 §6), leniently: search wants what
/// text there is, so bad base64 characters are skipped and unknown encodings pass as they are.
pub(crate) fn transfer_decode<'a>(head: &[u8], raw: &'a [u8]) -> Cow<'a, [u8]> {
    let enc = header::first(head, "Content-Transfer-Encoding").and_then(params::encoding);
    match enc.map(|e| e.to_ascii_lowercase()).as_deref() {
        Some(b"base64") => Cow::Owned(decode::base64_lenient(raw)),
        Some(b"quoted-printable") => Cow::Owned(decode::quoted_printable(raw)),
        _ => Cow::Borrowed(raw),
    }
}

/// Decodes `bytes` in the charset labelled `label` (MIME charset names, RFC 2046 §4.1.2; the
/// WHATWG Encoding Standard's labels cover the IANA names mail uses). US-ASCII, a missing or an
/// unknown label: UTF-8 when the bytes are valid UTF-8 (mislabelled mail is common), else
/// windows-1252 (which decodes every byte). Malformed sequences become U+FFFD.
pub fn decode_charset<'a>(label: &[u8], bytes: &'a [u8]) -> Cow<'a, str> {
    let label = header::trim(label);
    let ascii = label.eq_ignore_ascii_case(b"us-ascii") || label.eq_ignore_ascii_case(b"ascii");
    match encoding_rs::Encoding::for_label(label) {
        Some(enc) if !ascii => enc.decode_without_bom_handling(bytes).0,
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
            }
        },
    }
}

/// Whether `label` names a charset [`decode_charset`] knows (for `SEARCH CHARSET`).
pub fn known_charset(label: &[u8]) -> bool {
    let label = header::trim(label);
    label.eq_ignore_ascii_case(b"us-ascii")
        || label.eq_ignore_ascii_case(b"ascii")
        || encoding_rs::Encoding::for_label(label).is_some()
}

/// Raw header bytes as text: UTF-8 if valid (RFC 6532), else windows-1252.
fn bytes_to_text(b: &[u8]) -> Cow<'_, str> {
    decode_charset(b"", b)
}

/// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`) in a header value. Whitespace
/// between two adjacent encoded words is dropped (RFC 2047 §6.2), and adjacent words in the same
/// charset are decoded together, so a character split across two words survives. Text that is
/// not an encoded word is kept (8-bit as UTF-8 or windows-1252).
pub fn decode_words(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending: Option<(Vec<u8>, Vec<u8>)> = None; // (charset, decoded bytes)
    let flush = |out: &mut String, pending: &mut Option<(Vec<u8>, Vec<u8>)>| {
        if let Some((cs, bytes)) = pending.take() {
            out.push_str(&decode_charset(&cs, &bytes));
        }
    };
    let finder = memchr::memmem::Finder::new(b"=?");
    let mut plain_start = 0;
    let mut search = 0;
    let mut after_word = false;
    while let Some(hit) = finder.find(&raw[search..]) {
        let at = search + hit;
        let Some((charset, bytes, len)) = encoded_word(&raw[at..]) else {
            search = at + 1;
            continue;
        };
        let gap = &raw[plain_start..at];
        let gap_is_space = gap
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        if !(after_word && gap_is_space) {
            flush(&mut out, &mut pending);
            out.push_str(&bytes_to_text(gap));
        }
        // Adjacent words of one charset are decoded together, for mailers that split a
        // multibyte character between them (RFC 2047 §5 forbids it, but it is seen). Not for
        // ISO-2022 charsets: each of their words ends back in ASCII (RFC 1468), and joined, the
        // escape sequence ending one word meets the one starting the next, which a WHATWG
        // decoder reads as an error (U+FFFD inside "Киселёва" split over two words).
        match &mut pending {
            Some((cs, acc)) if cs.eq_ignore_ascii_case(&charset) && !is_iso_2022(&charset) => {
                acc.extend_from_slice(&bytes)
            }
            _ => {
                flush(&mut out, &mut pending);
                pending = Some((charset, bytes));
            }
        }
        search = at + len;
        plain_start = search;
        after_word = true;
    }
    flush(&mut out, &mut pending);
    out.push_str(&bytes_to_text(&raw[plain_start..]));
    out
}

/// Whether `charset` is one of the stateful ISO-2022 encodings (ISO-2022-JP, -KR, -CN…).
fn is_iso_2022(charset: &[u8]) -> bool {
    charset.len() >= 8 && charset[..8].eq_ignore_ascii_case(b"iso-2022")
}

/// One encoded word at the start of `s`: (charset, decoded bytes, length in `s`). The charset
/// loses an RFC 2231 §5 `*language` suffix. Words are read leniently (longer than 75 characters,
/// spaces inside Q text) but never across a line end.
fn encoded_word(s: &[u8]) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = rest.iter().position(|&b| b == b'?')?;
    let charset = &rest[..q1];
    if charset.is_empty() || charset.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let charset = charset.split(|&b| b == b'*').next().unwrap_or(charset);
    let enc = *rest.get(q1 + 1)?;
    if rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let text_len = memchr::memmem::find(&rest[text_start..], b"?=")?;
    let text = &rest[text_start..text_start + text_len];
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        return None;
    }
    let bytes = match enc {
        b'B' | b'b' => decode::base64_lenient(text),
        b'Q' | b'q' => {
            let mut v = Vec::with_capacity(text.len());
            let mut i = 0;
            while i < text.len() {
                match text[i] {
                    b'_' => v.push(b' '),
                    b'=' => {
                        if let (Some(h), Some(l)) = (
                            text.get(i + 1).and_then(|&c| hex(c)),
                            text.get(i + 2).and_then(|&c| hex(c)),
                        ) {
                            v.push(h << 4 | l);
                            i += 3;
                            continue;
                        }
                        v.push(b'=');
                    }
                    c => v.push(c),
                }
                i += 1;
            }
            v
        }
        _ => return None,
    };
    Some((charset.to_vec(), bytes, 2 + text_start + text_len + 2))
}

/// HTML as the text a reader sees (enough for search, not a renderer): tags removed, `script`
/// and `style` content and comments dropped, character references decoded (HTML §13.5), runs of
/// whitespace collapsed to one space, block-level tags ending a line. Tags that do not break
/// lines (`<b>`, `<span>`) add nothing, so `Mü<b>ll</b>er` reads `Müller`.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut space = false;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                if let Some(after) = rest.strip_prefix("<!--") {
                    rest = after.find("-->").map_or("", |i| &after[i + 3..]);
                    continue;
                }
                // An unterminated tag runs to the end of the text (which may end in a
                // multi-byte character: slice at the '>' or the end, never one byte before it).
                let (tag, end) = match rest.find('>') {
                    Some(i) => (&rest[1..i], i + 1),
                    None => (&rest[1..], rest.len()),
                };
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                rest = &rest[end..];
                if (name == "script" || name == "style") && !tag.starts_with('/') {
                    let close = format!("</{name}");
                    rest = find_ascii_ci(rest, &close).map_or("", |i| {
                        rest[i..].find('>').map_or("", |j| &rest[i + j + 1..])
                    });
                    continue;
                }
                if BLOCK_TAGS.contains(&name.as_str()) && !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                    space = false;
                }
            }
            '&' => {
                let (decoded, used) = entity(rest);
                if space {
                    out.push(' ');
                    space = false;
                }
                out.push(decoded.unwrap_or('&'));
                rest = &rest[used..];
            }
            c if c.is_whitespace() && c != '\u{a0}' => {
                if !out.is_empty() && !out.ends_with('\n') {
                    space = true;
                }
                rest = &rest[c.len_utf8()..];
            }
            c => {
                if space {
                    out.push(' ');
                    space = false;
                }
                // The plain ASCII characters that follow go the same way: copied as a run.
                let run = c.len_utf8()
                    + rest.as_bytes()[c.len_utf8()..]
                        .iter()
                        .take_while(|&&b| b.is_ascii() && !HTML_ASCII_SPECIAL[usize::from(b)])
                        .count();
                out.push_str(&rest[..run]);
                rest = &rest[run..];
            }
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// The ASCII bytes [`html_to_text`] treats apart from other text: markup starts and the
/// whitespace `char::is_whitespace` knows (U+0009..U+000D and space).
static HTML_ASCII_SPECIAL: [bool; 128] = {
    let mut t = [false; 128];
    let special = b"<&\t\n\x0b\x0c\r ";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

/// Tags after which a reader sees a new line.
const BLOCK_TAGS: &[&str] = &[
    "br",
    "p",
    "div",
    "li",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "hr",
    "title",
    "dt",
    "dd",
    "section",
    "article",
    "header",
    "footer",
];

/// The byte offset of `needle` (ASCII) in `hay`, ASCII case-insensitively.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// A character reference at the start of `s` (which starts with `&`): the character and the
/// bytes used, or None and 1 (the `&` alone) when it is not one we know.
fn entity(s: &str) -> (Option<char>, usize) {
    let body_end = s
        .char_indices()
        .skip(1)
        .take(33)
        .find(|&(_, c)| c == ';' || !(c.is_ascii_alphanumeric() || c == '#'))
        .map(|(i, _)| i);
    let Some(end) = body_end else {
        return (None, 1);
    };
    let name = &s[1..end];
    let used = if s[end..].starts_with(';') {
        end + 1
    } else {
        end
    };
    let ch = if let Some(num) = name.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        n.map(|n| char::from_u32(n).unwrap_or('\u{fffd}'))
    } else {
        NAMED_ENTITIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, c)| c)
    };
    match ch {
        Some(c) => (Some(c), used),
        None => (None, 1),
    }
}

/// The named character references mail uses most (HTML §13.5 has 2,000+; the rest stay as
/// written): markup, punctuation, and the Latin-1 letters of the languages in our archives.
const NAMED_ENTITIES: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("copy", '©'),
    ("reg", '®'),
    ("trade", '™'),
    ("euro", '€'),
    ("pound", '£'),
    ("yen", '¥'),
    ("cent", '¢'),
    ("sect", '§'),
    ("deg", '°'),
    ("para", '¶'),
    ("middot", '·'),
    ("bull", '•'),
    ("hellip", '…'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("sbquo", '‚'),
    ("bdquo", '„'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("times", '×'),
    ("divide", '÷'),
    ("iexcl", '¡'),
    ("iquest", '¿'),
    ("szlig", 'ß'),
    ("Auml", 'Ä'),
    ("Ouml", 'Ö'),
    ("Uuml", 'Ü'),
    ("auml", 'ä'),
    ("ouml", 'ö'),
    ("uuml", 'ü'),
    ("Agrave", 'À'),
    ("Aacute", 'Á'),
    ("Acirc", 'Â'),
    ("Atilde", 'Ã'),
    ("Aring", 'Å'),
    ("AElig", 'Æ'),
    ("Ccedil", 'Ç'),
    ("Egrave", 'È'),
    ("Eacute", 'É'),
    ("Ecirc", 'Ê'),
    ("Euml", 'Ë'),
    ("Igrave", 'Ì'),
    ("Iacute", 'Í'),
    ("Icirc", 'Î'),
    ("Iuml", 'Ï'),
    ("Ntilde", 'Ñ'),
    ("Ograve", 'Ò'),
    ("Oacute", 'Ó'),
    ("Ocirc", 'Ô'),
    ("Otilde", 'Õ'),
    ("Oslash", 'Ø'),
    ("Ugrave", 'Ù'),
    ("Uacute", 'Ú'),
    ("Ucirc", 'Û'),
    ("Yacute", 'Ý'),
    ("agrave", 'à'),
    ("aacute", 'á'),
    ("acirc", 'â'),
    ("atilde", 'ã'),
    ("aring", 'å'),
    ("aelig", 'æ'),
    ("ccedil", 'ç'),
    ("egrave", 'è'),
    ("eacute", 'é'),
    ("ecirc", 'ê'),
    ("euml", 'ë'),
    ("igrave", 'ì'),
    ("iacute", 'í'),
    ("icirc", 'î'),
    ("iuml", 'ï'),
    ("ntilde", 'ñ'),
    ("ograve", 'ò'),
    ("oacute", 'ó'),
    ("ocirc", 'ô'),
    ("otilde", 'õ'),
    ("oslash", 'ø'),
    ("ugrave", 'ù'),
    ("uacute", 'ú'),
    ("ucirc", 'û'),
    ("yacute", 'ý'),
    ("yuml", 'ÿ'),
    ("OElig", 'Œ'),
    ("oelig", 'œ'),
];

/// Appends `sep` unless `out` is empty or full.
fn separate(out: &mut String, sep: &str, cap: usize) {
    if !out.is_empty() && out.len() < cap {
        push_capped(out, sep, cap);
    }
}

/// Appends as much of `s` as fits in `cap` bytes, cut at a character boundary.
fn push_capped(out: &mut String, s: &str, cap: usize) {
    let room = cap.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
        return;
    }
    let mut cut = room;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(&s[..cut]);
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by benches/search_bench.sh: Dovecot found this Cc in SEARCH TEXT, imapvault did not.
    #[test]
    fn iso_2022_jp_words_are_decoded_one_by_one() {
        assert_eq!(
            decode_words(
                b"=?ISO-2022-JP?B?GyRCJy8nUSdkJ1EnXSduJ3EbKEIgGyRCJywnWidjJ1YnXSdXJ1MbKEI=?=\r\n \
                  =?ISO-2022-JP?B?GyRCJ1EbKEI=?="
            ),
            "\u{41d}\u{430}\u{442}\u{430}\u{43b}\u{44c}\u{44f} \u{41a}\u{438}\u{441}\u{435}\u{43b}\u{451}\u{432}\u{430}"
        );
        // UTF-8 split inside a character is still joined.
        assert_eq!(
            decode_words(b"=?utf-8?q?M=C3?= =?utf-8?q?=BCller?="),
            "Müller"
        );
    }

    #[test]
    fn rfc2047_words_and_adjacent_whitespace() {
        assert_eq!(decode_words(b"=?utf-8?q?M=C3=BCller?="), "Müller");
        assert_eq!(
            decode_words(b"=?ISO-8859-1?Q?Caf=E9?= au lait"),
            "Café au lait"
        );
        // RFC 2047 §8 examples: space between words goes, space elsewhere stays.
        assert_eq!(decode_words(b"(=?ISO-8859-1?Q?a?= b)"), "(a b)");
        assert_eq!(
            decode_words(b"(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)"),
            "(ab)"
        );
        assert_eq!(decode_words(b"=?UTF-8?B?0J/RgNC40LLQtdGC?="), "Привет");
        // A character split across two words.
        assert_eq!(
            decode_words(b"=?utf-8?Q?M=C3?= =?utf-8?Q?=BCller?="),
            "Müller"
        );
        assert_eq!(decode_words(b"=?utf-8*de?Q?a_b?="), "a b");
        assert_eq!(decode_words(b"=?bogus"), "=?bogus");
        assert_eq!(
            decode_words(b"=?iso-2022-jp?B?GyRCRnxLXDhsGyhC?="),
            "日本語"
        );
    }

    #[test]
    fn charsets() {
        assert_eq!(
            decode_charset(b"koi8-r", b"\xf0\xd2\xc9\xd7\xc5\xd4"),
            "Привет"
        );
        assert_eq!(decode_charset(b"windows-1252", b"\x80"), "€");
        assert_eq!(decode_charset(b"us-ascii", "ü".as_bytes()), "ü");
        assert_eq!(decode_charset(b"x-nonsense", b"\xfc"), "ü");
        assert!(known_charset(b"ISO-8859-1") && !known_charset(b"x-nonsense"));
    }

    #[test]
    fn html_rendering() {
        assert_eq!(
            html_to_text(
                "<p>Mü<b>ll</b>er &amp; S&ouml;hne</p><script>x<y</script><p>a&#x41;&#66;"
            ),
            "Müller & Söhne\naAB"
        );
        assert_eq!(html_to_text("a <!-- hidden --> b\n\n  c"), "a b c");
        assert_eq!(
            html_to_text("<STYLE>p{}</STYLE>ok &bogus; &"),
            "ok &bogus; &"
        );
        assert_eq!(html_to_text("<unterminated"), "");
    }

    /// The character-at-a-time form [`html_to_text`] replaced.
    fn html_to_text_reference(html: &str) -> String {
        let mut out = String::with_capacity(html.len() / 2);
        let mut rest = html;
        let mut space = false;
        while let Some(c) = rest.chars().next() {
            match c {
                '<' => {
                    if let Some(after) = rest.strip_prefix("<!--") {
                        rest = after.find("-->").map_or("", |i| &after[i + 3..]);
                        continue;
                    }
                    // An unterminated tag runs to the end of the text (which may end in a
                    // multi-byte character: slice at the '>' or the end, never one byte before it).
                    let (tag, end) = match rest.find('>') {
                        Some(i) => (&rest[1..i], i + 1),
                        None => (&rest[1..], rest.len()),
                    };
                    let name: String = tag
                        .trim_start_matches('/')
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .map(|c| c.to_ascii_lowercase())
                        .collect();
                    rest = &rest[end..];
                    if (name == "script" || name == "style") && !tag.starts_with('/') {
                        let close = format!("</{name}");
                        rest = find_ascii_ci(rest, &close).map_or("", |i| {
                            rest[i..].find('>').map_or("", |j| &rest[i + j + 1..])
                        });
                        continue;
                    }
                    if BLOCK_TAGS.contains(&name.as_str())
                        && !out.ends_with('\n')
                        && !out.is_empty()
                    {
                        out.push('\n');
                        space = false;
                    }
                }
                '&' => {
                    let (decoded, used) = entity(rest);
                    if space {
                        out.push(' ');
                        space = false;
                    }
                    out.push(decoded.unwrap_or('&'));
                    rest = &rest[used..];
                }
                c if c.is_whitespace() && c != '\u{a0}' => {
                    if !out.is_empty() && !out.ends_with('\n') {
                        space = true;
                    }
                    rest = &rest[c.len_utf8()..];
                }
                c => {
                    if space {
                        out.push(' ');
                        space = false;
                    }
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out.truncate(out.trim_end().len());
        out
    }

    #[test]
    fn html_to_text_equals_reference() {
        for b in 0..128u8 {
            let c = char::from(b);
            assert_eq!(
                HTML_ASCII_SPECIAL[usize::from(b)],
                c == '<' || c == '&' || c.is_whitespace(),
                "{b}"
            );
        }
        let pieces = [
            "<p>",
            "</P>",
            "<br/>",
            "<b>",
            "<script>x<y</script>",
            "<style>",
            "</style>",
            "<!-- c -->",
            "<!--",
            "&amp;",
            "&#x41;",
            "&bogus;",
            "&",
            "<",
            ">",
            " ",
            "\t",
            "\r\n",
            "\u{a0}",
            "\u{2003}",
            "\u{85}",
            "\u{b}",
            "\u{c}",
            "word",
            "Grüße",
            "日本",
            "x",
            "-->",
        ];
        for seed in 0..3000u64 {
            let mut rng = crate::test_rng::Rng::new(seed);
            let len = rng.below(if seed % 10 == 0 { 300 } else { 14 });
            let html = rng.text_of(&pieces, len);
            assert_eq!(
                html_to_text(&html),
                html_to_text_reference(&html),
                "seed {seed}: {html:?}"
            );
        }
    }

    /// Found by the `mime` fuzz target: an unterminated tag whose last character is multi-byte
    /// was sliced one byte before the end, inside that character, and panicked (at ingest, for
    /// any HTML part ending that way).
    #[test]
    fn unterminated_tag_ending_in_a_multibyte_character_does_not_panic() {
        assert_eq!(html_to_text("ok <ü"), "ok");
        assert_eq!(html_to_text("<a href=\"x\">link</a> <b title=€"), "link");
        let message = "Content-Type: text/html; charset=utf-8\r\n\r\nbody <p title=\"Grüße\"";
        assert_eq!(extract(message.as_bytes()).body, "body");
    }

    #[test]
    fn whole_message() {
        let m = b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.de>, \"B, C\" <bc@x>\r\n\
To: group: a@b;\r\nSubject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n\x20aus Bonn\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
<p>Sch=C3=B6n</p>\r\n--b\r\nContent-Type: application/pdf\r\n\
Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: inner\r\n\r\ninner body\r\n--b--\r\n";
        let t = extract(m);
        assert_eq!(t.from, "Jürgen <j@example.de>, B, C <bc@x>");
        assert_eq!(t.to, "group, <a@b>");
        assert_eq!(t.subject, "Grüße aus Bonn");
        assert!(t.headers.contains("\nSubject: Grüße aus Bonn\n"));
        assert_eq!(t.body, "Schön\nRésumé.pdf\nSubject: inner\n\ninner body");
        let f = t.folded();
        assert_eq!(
            header_values(&f.headers, "SUBJECT").collect::<Vec<_>>(),
            ["grüsse aus bonn"]
        );
    }

    /// The character-at-a-time form [`fold`] replaced.
    fn fold_reference(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_ascii() {
                out.push(if c == '\0' {
                    ' '
                } else {
                    c.to_ascii_lowercase()
                });
            } else if let Ok(i) =
                super::super::casefold::EXCEPTIONS.binary_search_by_key(&c, |&(k, _)| k)
            {
                out.push_str(super::super::casefold::EXCEPTIONS[i].1);
            } else {
                out.extend(c.to_lowercase());
            }
        }
        out
    }

    #[test]
    fn fold_equals_reference() {
        let pieces = [
            "a",
            "Z",
            "Hello World, ",
            "\0",
            "\r\n",
            "~@[`{",
            "ß",
            "ẞ",
            "Σ",
            "ς",
            "İ",
            "ﬁ",
            "Ü",
            "日本語",
            "\u{10400}",
            "😀",
            "\u{7f}",
            "\u{80}",
            "0123456789ABCDEFGH",
        ];
        for seed in 0..2000u64 {
            let mut rng = crate::test_rng::Rng::new(seed);
            let len = rng.below(if seed % 10 == 0 { 500 } else { 20 });
            let s = rng.text_of(&pieces, len);
            assert_eq!(fold(&s), fold_reference(&s), "seed {seed}: {s:?}");
        }
    }

    /// Every character folds as the reference folds it (the tables and their fallbacks).
    #[test]
    fn fold_of_every_character_equals_reference() {
        for n in 0..=0x10_ffffu32 {
            let Some(c) = char::from_u32(n) else {
                continue;
            };
            let s = c.to_string();
            assert_eq!(fold(&s), fold_reference(&s), "U+{n:04X}");
        }
    }

    #[test]
    fn full_case_folding() {
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("STRASSE"), "strasse");
        assert_eq!(fold("GROẞE"), "grosse");
        // Final sigma: every sigma folds to σ, whatever follows (no context).
        assert_eq!(fold("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold("οδος"), "οδοσ");
        assert_eq!(fold("Σ"), fold("ς"));
        assert_eq!(fold("ﬁle ſ µ"), "file s μ");
        // Default (non-Turkic) folding of the dotted capital I.
        assert_eq!(fold("İ"), "i\u{307}");
        assert_eq!(fold("ıI"), "ıi");
        assert_eq!(fold("a\0B"), "a b");
        // The folding of a part is a part of the folding of the whole.
        let whole = "ΛΟΓΟΣ ΟΔΟΣ Maß";
        for (i, _) in whole.char_indices() {
            assert!(fold(whole).starts_with(&fold(&whole[..i])));
        }
        // The exceptions table is sorted (binary search).
        assert!(super::super::casefold::EXCEPTIONS
            .windows(2)
            .all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn preview_of_first_text_part() {
        let plain = b"Subject: x\r\n\r\n  Hello,\r\n\r\n\tthe  report\r\nis ready.\r\n";
        assert_eq!(preview(plain), "Hello, the report is ready.");
        // HTML only, quoted-printable, latin-1: rendered, decoded, whitespace collapsed.
        let html = b"Content-Type: text/html; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n\
<html><head><style>p {color: red}</style></head><body><p>Gr=FC=DFe</p>\r\n<p>aus &amp; nach K=F6ln</p></body></html>\r\n";
        assert_eq!(preview(html), "Grüße aus & nach Köln");
        // Attachments are passed over; attached messages are not entered.
        let mixed = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\r\n--b--\r\n";
        assert_eq!(preview(mixed), "日本語");
        let only_attachment = b"Content-Type: application/pdf; name=x.pdf\r\n\r\nJVBERg==\r\n";
        assert_eq!(preview(only_attachment), "");
        // At most 256 characters, counted as characters, not bytes.
        let long = format!("Subject: x\r\n\r\n{}\r\n", "ü ".repeat(300));
        let p = preview(long.as_bytes());
        assert_eq!(p.chars().count(), MAX_PREVIEW_CHARS - 1);
        assert!(p.starts_with("ü ü") && p.ends_with('ü'));
        let word = format!("Subject: x\r\n\r\n{}\r\n", "é".repeat(300));
        assert_eq!(preview(word.as_bytes()).chars().count(), MAX_PREVIEW_CHARS);
    }

    #[test]
    fn caps_hold() {
        let mut m = b"Subject: x\r\n\r\n".to_vec();
        m.extend(std::iter::repeat_n(b'a', MAX_BODY_TEXT + 10));
        assert_eq!(extract(&m).body.len(), MAX_BODY_TEXT);
        let mut s = String::new();
        push_capped(&mut s, "ééé", 3);
        assert_eq!(s, "é");
    }
}
