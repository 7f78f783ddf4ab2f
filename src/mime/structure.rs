//! ENVELOPE, BODYSTRUCTURE and BODY (RFC 3501 §7.4.2, RFC 9051 §7.5.2) from a part tree.
//!
//! Owns the response grammar of these three items and the choices the RFCs leave open, which
//! follow Dovecot's where it is sensible:
//! - type, subtype, parameter names and encodings keep the case the message used; defaults are
//!   lowercase (`"text" "plain"`, `"7bit"`);
//! - a text/* part without a `charset` parameter gets `"charset" "us-ascii"` appended
//!   (RFC 2045 §5.2 default); other parts without parameters get NIL;
//! - a multipart without parts (no boundary, or no delimiter found) shows one empty text/plain
//!   part, because `body-type-mpart` needs at least one body (RFC 3501 §9);
//! - Content-Language is always a list; an empty one is NIL; disposition without parameters
//!   is `("attachment" NIL)`.
//! - ENVELOPE strings are raw (RFC 2047 words still encoded) with line ends removed; the
//!   subject also has its whitespace runs collapsed to one space and trimmed, as Dovecot does.
//! - body-fld-lines counts LF bytes of the body (the body is canonical CRLF).
//!
//! Writing recurses once per level of the tree, whose depth [`super::tree`] caps.

use super::address::{self, Address};
use super::header::{self, unfold};
use super::imapstr::{nstring, string};
use super::params::{self, ContentType};
use super::tree::{Kind, Part};

/// Which of the two body forms to write.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// BODY: no extension data.
    Body,
    /// BODYSTRUCTURE: with extension data.
    Structure,
}

/// The ENVELOPE list of the message whose header is `head`.
pub(crate) fn envelope(out: &mut Vec<u8>, head: &[u8]) {
    out.push(b'(');
    field_nstring(out, head, "Date");
    out.push(b' ');
    match header::first(head, "Subject") {
        Some(v) => string(out, &humane(v)),
        None => out.extend_from_slice(b"NIL"),
    }
    let from = addresses(head, "From");
    for (i, name) in ["From", "Sender", "Reply-To", "To", "Cc", "Bcc"]
        .into_iter()
        .enumerate()
    {
        out.push(b' ');
        let list = if i == 0 {
            from.clone()
        } else {
            addresses(head, name)
        };
        // RFC 3501 §7.4.2: Sender and Reply-To default to From.
        let list = if (i == 1 || i == 2) && list.is_empty() {
            from.clone()
        } else {
            list
        };
        address_list(out, &list);
    }
    out.push(b' ');
    field_nstring(out, head, "In-Reply-To");
    out.push(b' ');
    field_nstring(out, head, "Message-ID");
    out.push(b')');
}

fn field_nstring(out: &mut Vec<u8>, head: &[u8], name: &str) {
    nstring(out, header::first(head, name).map(unfold).as_deref());
}

/// The subject for humans: line ends removed, tabs and whitespace runs become one space,
/// trimmed (what Dovecot sends; the encoded words themselves are untouched).
fn humane(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for &b in v {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => {
                if !out.is_empty() && out.last() != Some(&b' ') {
                    out.push(b' ');
                }
            }
            _ => out.push(b),
        }
    }
    if out.last() == Some(&b' ') {
        out.pop();
    }
    out
}

fn addresses(head: &[u8], name: &str) -> Vec<Address> {
    header::first(head, name)
        .map(address::parse_list)
        .unwrap_or_default()
}

fn address_list(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        nstring(out, a.name.as_deref());
        out.push(b' ');
        nstring(out, a.adl.as_deref());
        out.push(b' ');
        nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        nstring(out, a.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

/// Writes the body structure of `part` (recursing into children and encapsulated messages).
pub(crate) fn body(out: &mut Vec<u8>, msg: &[u8], part: &Part, form: Form) {
    match &part.kind {
        Kind::Multipart(children) => {
            out.push(b'(');
            if children.is_empty() {
                out.extend_from_slice(
                    b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0",
                );
                if form == Form::Structure {
                    out.extend_from_slice(b" NIL NIL NIL NIL");
                }
                out.push(b')');
            }
            for child in children {
                body(out, msg, child, form);
            }
            out.push(b' ');
            string(out, &part.ctype.sub);
            if form == Form::Structure {
                out.push(b' ');
                param_list(out, &part.ctype.params);
                extension(out, msg, part);
            }
            out.push(b')');
        }
        Kind::Leaf | Kind::Message(_) | Kind::Opaque => leaf(out, msg, part, form),
    }
}

fn leaf(out: &mut Vec<u8>, msg: &[u8], part: &Part, form: Form) {
    let head = &msg[part.header.clone()];
    let content = &msg[part.body.clone()];
    let opaque_type;
    let ctype: &ContentType = if matches!(part.kind, Kind::Opaque) {
        opaque_type = ContentType::new("application", "octet-stream");
        &opaque_type
    } else {
        &part.ctype
    };
    out.push(b'(');
    string(out, &ctype.main);
    out.push(b' ');
    string(out, &ctype.sub);
    out.push(b' ');
    if ctype.is("text") && ctype.param("charset").is_none() {
        let mut p = ctype.params.clone();
        p.push((b"charset".to_vec(), b"us-ascii".to_vec()));
        param_list(out, &p);
    } else {
        param_list(out, &ctype.params);
    }
    out.push(b' ');
    trimmed_nstring(out, head, "Content-ID");
    out.push(b' ');
    trimmed_nstring(out, head, "Content-Description");
    out.push(b' ');
    let enc = header::first(head, "Content-Transfer-Encoding").and_then(params::encoding);
    string(out, enc.as_deref().unwrap_or(b"7bit"));
    out.push_str_num(content.len());
    match &part.kind {
        Kind::Message(inner) => {
            out.push(b' ');
            envelope(out, &msg[inner.header.clone()]);
            out.push(b' ');
            body(out, msg, inner, form);
            out.push_str_num(lines(content));
        }
        Kind::Leaf if ctype.is("text") => out.push_str_num(lines(content)),
        _ => {}
    }
    if form == Form::Structure {
        out.push(b' ');
        trimmed_nstring(out, head, "Content-MD5");
        extension(out, msg, part);
    }
    out.push(b')');
}

/// `body-ext-*` after the md5 (leaf) or the parameters (multipart): disposition, language,
/// location (RFC 3501 §7.4.2, RFC 9051 adds nothing new here).
fn extension(out: &mut Vec<u8>, msg: &[u8], part: &Part) {
    let head = &msg[part.header.clone()];
    out.push(b' ');
    match header::first(head, "Content-Disposition").and_then(params::disposition) {
        Some(d) => {
            out.push(b'(');
            string(out, &d.kind);
            out.push(b' ');
            param_list(out, &d.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    let langs = header::first(head, "Content-Language")
        .map(params::languages)
        .unwrap_or_default();
    if langs.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        for (i, l) in langs.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            string(out, l);
        }
        out.push(b')');
    }
    out.push(b' ');
    trimmed_nstring(out, head, "Content-Location");
}

fn trimmed_nstring(out: &mut Vec<u8>, head: &[u8], name: &str) {
    let v = header::first(head, name).map(|v| unfold(header::trim(v)));
    nstring(out, v.as_deref());
}

fn param_list(out: &mut Vec<u8>, params: &[(Vec<u8>, Vec<u8>)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (n, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, n);
        out.push(b' ');
        string(out, v);
    }
    out.push(b')');
}

pub(crate) fn lines(content: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', content).count()
}

trait PushNum {
    fn push_str_num(&mut self, n: usize);
}

impl PushNum for Vec<u8> {
    /// Appends `" " n`.
    fn push_str_num(&mut self, n: usize) {
        self.push(b' ');
        self.extend_from_slice(n.to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::tree;

    fn bs(m: &[u8], form: Form) -> String {
        let t = tree::build(m);
        let mut out = Vec::new();
        body(&mut out, m, &t, form);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn default_text_plain() {
        assert_eq!(
            bs(b"Subject: x\r\n\r\nhello\r\n", Form::Structure),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL)"
        );
        assert_eq!(
            bs(b"Subject: x\r\n\r\nhello\r\n", Form::Body),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)"
        );
    }

    #[test]
    fn empty_multipart_gets_a_dummy_part() {
        assert_eq!(
            bs(b"Content-Type: multipart/mixed\r\n\r\nx\r\n", Form::Body),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")"
        );
    }

    #[test]
    fn envelope_defaults_and_raw_strings() {
        let mut out = Vec::new();
        envelope(
            &mut out,
            b"Subject: =?utf-8?q?a?=  \r\n\tb \r\nFrom: A <a@b>\r\n\r\n",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "(NIL \"=?utf-8?q?a?= b\" ((\"A\" NIL \"a\" \"b\")) ((\"A\" NIL \"a\" \"b\")) ((\"A\" NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn humane_subject() {
        assert_eq!(humane(b"a  b\t\tc "), b"a b c");
        assert_eq!(humane(b"\r\n x"), b"x");
    }
}
