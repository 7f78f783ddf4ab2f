//! Journal messages (DESIGN §1, journal mode): who took part in a message, and the unwrapping of
//! Exchange journal reports to the original message they carry.
//!
//! Owns: reading participants from a message's headers or from a journal report's envelope
//! lines, finding the attached original, and the canonical form of an address (the addr-spec,
//! lower-cased) that the index matches users' addresses on. Pure over the canonical (CRLF)
//! bytes, like the rest of [`crate::mime`]; never fails on any input.
//!
//! An Exchange envelope journal report ([MS-XJRNL]; Exchange 2007 and later) is a message with
//! an `X-MS-Journal-Report` header field, whose body is a multipart with a text part of
//! envelope lines, one value per line:
//!
//! ```text
//! Sender: alice@example.org
//! Subject: Budget
//! Message-Id: <1@example.org>
//! On-Behalf-Of: boss@example.org                       (when sent on someone's behalf)
//! To: bob@example.org
//! Cc: carol@example.org
//! Bcc: dave@example.org
//! Recipient: erin@example.org                          (recipient of unverified type)
//! To: member@example.org, Expanded: team@example.org   (a distribution list, expanded)
//! Cc: fwd@example.org, Forwarded: frank@example.org    (an alternate recipient)
//! ```
//!
//! and the original message, unaltered, as a `message/rfc822` part. The original is what is
//! archived; the envelope lines name the participants, Bcc and expanded or forwarded
//! recipients included (both the member and the list or the forwarding address take part). The
//! older Exchange 2003 report is recognised by `Content-Identifier: ExJournalReport` and read
//! the same way. A report without an attached message (damaged, or cut by a size limit) is
//! archived as it is, as a plain message ([`Origin::ReportWithoutMessage`]); one whose envelope
//! lines are missing takes its participants from the original's header fields.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::tree::{self, Kind, Part};
use super::{address, header};

/// How a participant took part in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sent it (shown in the user's `Sent`).
    Sent,
    /// Received it, Bcc included (shown in the user's `INBOX`).
    Received,
}

impl Role {
    /// The role as the index stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sent => "sent",
            Role::Received => "received",
        }
    }
}

/// One address that took part in a message, in its canonical form ([`canonical`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Participant {
    /// The lower-cased addr-spec.
    pub address: String,
    /// Sender or recipient.
    pub role: Role,
}

/// Where the participants came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An Exchange journal report, unwrapped to its attached original.
    Report,
    /// A journal report with no attached message: archived as it is, participants from its own
    /// header fields.
    ReportWithoutMessage,
    /// A plain message: participants from its header fields.
    Plain,
}

/// A journal message, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journaled<'a> {
    /// The bytes to archive: the attached original for a report, else the message itself.
    pub message: Cow<'a, [u8]>,
    /// Every participant once, sorted.
    pub participants: Vec<Participant>,
    /// How the participants were found.
    pub origin: Origin,
}

/// Header fields whose addresses sent a plain message.
const SENDER_FIELDS: &[&str] = &["From", "Sender", "Resent-From", "Resent-Sender"];
/// Header fields whose addresses received a plain message.
const RECIPIENT_FIELDS: &[&str] = &[
    "To",
    "Cc",
    "Bcc",
    "Delivered-To",
    "X-Original-To",
    "Resent-To",
    "Resent-Cc",
    "Resent-Bcc",
];
/// Envelope lines of a journal report that name the sender.
const REPORT_SENDER_LINES: &[&str] = &["Sender", "On-Behalf-Of"];
/// Envelope lines of a journal report that name a recipient.
const REPORT_RECIPIENT_LINES: &[&str] = &["To", "Cc", "Bcc", "Recipient"];

/// Reads a journal message (canonical CRLF bytes): unwraps a journal report, else takes the
/// participants from the header fields.
pub fn unwrap(message: &[u8]) -> Journaled<'_> {
    let head = &message[..header::split(message).header_end];
    if is_report(head) {
        let root = tree::build(message);
        if let Some(original) = attached_original(message, &root) {
            let mut set = BTreeSet::new();
            if let Some(lines) = envelope_lines(message, &root) {
                report_participants(&lines, &mut set);
            }
            // No envelope lines to read: the original's own header fields are the best witness
            // left (Bcc recipients are then unknown, as they are for any plain message).
            let participants = if set.is_empty() {
                header_participants(&original[..header::split(&original).header_end])
            } else {
                set.into_iter().collect()
            };
            return Journaled {
                message: original,
                participants,
                origin: Origin::Report,
            };
        }
        return Journaled {
            message: Cow::Borrowed(message),
            participants: header_participants(head),
            origin: Origin::ReportWithoutMessage,
        };
    }
    Journaled {
        message: Cow::Borrowed(message),
        participants: header_participants(head),
        origin: Origin::Plain,
    }
}

/// Whether a header block is an Exchange journal report's.
fn is_report(head: &[u8]) -> bool {
    header::fields(head).any(|f| {
        f.name.eq_ignore_ascii_case(b"X-MS-Journal-Report")
            || (f.name.eq_ignore_ascii_case(b"Content-Identifier")
                && header::trim(f.value).eq_ignore_ascii_case(b"ExJournalReport"))
    })
}

/// The participants named by a plain message's header fields.
fn header_participants(head: &[u8]) -> Vec<Participant> {
    let mut set = BTreeSet::new();
    for field in header::fields(head) {
        let role = if SENDER_FIELDS.iter().any(|n| name_is(field.name, n)) {
            Role::Sent
        } else if RECIPIENT_FIELDS.iter().any(|n| name_is(field.name, n)) {
            Role::Received
        } else {
            continue;
        };
        add_addresses(&header::unfold(field.value), role, &mut set);
    }
    set.into_iter().collect()
}

/// The first `message/rfc822` part among the report's top-level parts, decoded if a
/// transfer encoding was (wrongly, RFC 2046 §5.2.1) applied to it.
fn attached_original<'a>(message: &'a [u8], root: &Part) -> Option<Cow<'a, [u8]>> {
    let Kind::Multipart(children) = &root.kind else {
        return None;
    };
    let part = children
        .iter()
        .find(|p| p.ctype.is_sub("message", "rfc822") || p.ctype.is_sub("message", "global"))?;
    let body = decoded_body(message, part)?;
    if body.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return None;
    }
    Some(match body {
        Cow::Borrowed(b) => Cow::Borrowed(b),
        Cow::Owned(b) => Cow::Owned(super::canonical_line_ends(&b).into_owned()),
    })
}

/// The report's envelope lines: the body of its first top-level `text/plain` part, decoded.
fn envelope_lines<'a>(message: &'a [u8], root: &Part) -> Option<Cow<'a, [u8]>> {
    let Kind::Multipart(children) = &root.kind else {
        return None;
    };
    let part = children.iter().find(|p| p.ctype.is_sub("text", "plain"))?;
    decoded_body(message, part)
}

/// A part's body with its Content-Transfer-Encoding undone (leniently, as for SEARCH).
fn decoded_body<'a>(message: &'a [u8], part: &Part) -> Option<Cow<'a, [u8]>> {
    let body = message.get(part.body.clone())?;
    let head = message.get(part.header.clone())?;
    Some(super::text::transfer_decode(head, body))
}

/// Reads the envelope lines of a report into `set`. A recipient line's value is the recipient
/// and, after `Expanded:` or `Forwarded:`, the list or address it was reached through: all are
/// read as one address list (the annotation parses as a group), so every address counts.
fn report_participants(lines: &[u8], set: &mut BTreeSet<Participant>) {
    for line in lines.split(|&b| b == b'\n') {
        let line = header::trim(line);
        let Some(colon) = header::memchr(b':', line) else {
            continue;
        };
        let (name, value) = (header::trim(&line[..colon]), &line[colon + 1..]);
        let role = if REPORT_SENDER_LINES.iter().any(|n| name_is(name, n)) {
            Role::Sent
        } else if REPORT_RECIPIENT_LINES.iter().any(|n| name_is(name, n)) {
            Role::Received
        } else {
            continue;
        };
        add_addresses(value, role, set);
    }
}

fn name_is(name: &[u8], wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted.as_bytes())
}

/// Adds every complete address (local part and domain) of an address list.
fn add_addresses(value: &[u8], role: Role, set: &mut BTreeSet<Participant>) {
    for a in address::parse_list(value) {
        let (Some(mailbox), Some(host)) = (&a.mailbox, &a.host) else {
            continue;
        };
        if mailbox.as_slice() == address::MISSING_MAILBOX
            || host.as_slice() == address::MISSING_DOMAIN
        {
            continue;
        }
        let spec = format!(
            "{}@{}",
            String::from_utf8_lossy(mailbox),
            String::from_utf8_lossy(host)
        );
        set.insert(Participant {
            address: canonical(&spec),
            role,
        });
    }
}

/// The form addresses are stored and matched in: the addr-spec, lower-cased (local parts are
/// case-sensitive by RFC 5321 §2.4, but no mail system in use treats them so, and users write
/// their addresses in any case).
pub fn canonical(addr_spec: &str) -> String {
    addr_spec.to_lowercase()
}

/// Why an address given by an administrator is not an addr-spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrSpecError {
    #[error("{0:?} is not an address: it needs exactly one @ between a local part and a domain")]
    Shape(String),
    #[error("{0:?} is not an address: the local part must be a dot-atom (RFC 5322 §3.4.1; quoted local parts are not supported)")]
    LocalPart(String),
    #[error(
        "{0:?} is not an address: the domain must be a host name or a [literal] (RFC 5322 §3.4.1)"
    )]
    Domain(String),
    #[error("{0:?} is not an address: longer than 254 bytes (RFC 5321 §4.5.3.1)")]
    TooLong(String),
}

/// Checks an address as an administrator types it (`alice@example.org`, or with angle brackets)
/// and returns its canonical form.
pub fn addr_spec(text: &str) -> Result<String, AddrSpecError> {
    let trimmed = text.trim();
    let bare = trimmed
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(trimmed);
    if bare.len() > 254 {
        return Err(AddrSpecError::TooLong(text.to_owned()));
    }
    let Some((local, domain)) = bare.rsplit_once('@') else {
        return Err(AddrSpecError::Shape(text.to_owned()));
    };
    if local.is_empty() || domain.is_empty() || local.contains('@') {
        return Err(AddrSpecError::Shape(text.to_owned()));
    }
    if local.len() > 64 || !dot_atom(local, is_atext) {
        return Err(AddrSpecError::LocalPart(text.to_owned()));
    }
    let literal = domain.starts_with('[')
        && domain.ends_with(']')
        && domain.len() > 2
        && domain[1..domain.len() - 1]
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '[' | ']' | '\\'));
    if !literal && !dot_atom(domain, |c| c.is_alphanumeric() || c == '-') {
        return Err(AddrSpecError::Domain(text.to_owned()));
    }
    Ok(canonical(bare))
}

/// RFC 5322 §3.2.3: atoms of `atom_char` separated by single dots.
fn dot_atom(s: &str, atom_char: impl Fn(char) -> bool) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(&atom_char))
}

/// RFC 5322 §3.2.3 atext, with RFC 6532's UTF-8.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(address: &str, role: Role) -> Participant {
        Participant {
            address: address.into(),
            role,
        }
    }

    const ORIGINAL: &[u8] = b"From: Alice <Alice@Example.org>\r\n\
        To: Bob <bob@example.org>\r\n\
        Subject: Budget\r\n\
        Message-Id: <1@example.org>\r\n\
        \r\n\
        The numbers.\r\n";

    fn report(envelope: &str, attached: Option<&[u8]>) -> Vec<u8> {
        let mut r = b"From: Journal Agent <journal@example.org>\r\n\
            To: archive@example.org\r\n\
            Subject: Budget\r\n\
            X-MS-Journal-Report:\r\n\
            Content-Type: multipart/mixed; boundary=\"jr\"\r\n\
            \r\n\
            --jr\r\n\
            Content-Type: text/plain; charset=us-ascii\r\n\
            \r\n"
            .to_vec();
        r.extend_from_slice(envelope.as_bytes());
        if let Some(original) = attached {
            r.extend_from_slice(b"\r\n--jr\r\nContent-Type: message/rfc822\r\n\r\n");
            r.extend_from_slice(original);
        }
        r.extend_from_slice(b"\r\n--jr--\r\n");
        r
    }

    #[test]
    fn plain_message_participants_from_every_address_field() {
        let m = b"From: \"Alice A.\" <ALICE@example.org>\r\n\
            Sender: secretary@example.org\r\n\
            To: bob@example.org, Team: carol@example.org, dave@example.org;\r\n\
            Cc: Bob <Bob@Example.org>\r\n\
            Bcc: erin@example.org\r\n\
            Delivered-To: frank@example.org\r\n\
            X-Original-To: list@example.org\r\n\
            Resent-From: gina@example.org\r\n\
            Resent-To: hank@example.org\r\n\
            Reply-To: nobody@example.org\r\n\
            \r\n\
            body\r\n";
        let j = unwrap(m);
        assert_eq!(j.origin, Origin::Plain);
        assert_eq!(j.message.as_ref(), &m[..]);
        let mut want = vec![
            p("alice@example.org", Role::Sent),
            p("secretary@example.org", Role::Sent),
            p("gina@example.org", Role::Sent),
            p("bob@example.org", Role::Received),
            p("carol@example.org", Role::Received),
            p("dave@example.org", Role::Received),
            p("erin@example.org", Role::Received),
            p("frank@example.org", Role::Received),
            p("list@example.org", Role::Received),
            p("hank@example.org", Role::Received),
        ];
        want.sort();
        assert_eq!(j.participants, want, "Reply-To takes no part; bob once");
    }

    #[test]
    fn report_unwraps_to_the_original_bytes_with_envelope_participants() {
        let envelope = "Sender: alice@example.org\r\n\
            Subject: Budget\r\n\
            Message-Id: <1@example.org>\r\n\
            On-Behalf-Of: Boss@example.org\r\n\
            To: bob@example.org\r\n\
            Bcc: dave@example.org\r\n\
            Recipient: erin@example.org\r\n\
            To: member@example.org, Expanded: team@example.org\r\n\
            Cc: fwd@example.org, Forwarded: frank@example.org\r\n";
        let r = report(envelope, Some(ORIGINAL));
        let j = unwrap(&r);
        assert_eq!(j.origin, Origin::Report);
        assert_eq!(j.message.as_ref(), ORIGINAL, "the original byte for byte");
        let mut want = vec![
            p("alice@example.org", Role::Sent),
            p("boss@example.org", Role::Sent),
            p("bob@example.org", Role::Received),
            p("dave@example.org", Role::Received),
            p("erin@example.org", Role::Received),
            p("member@example.org", Role::Received),
            p("team@example.org", Role::Received),
            p("fwd@example.org", Role::Received),
            p("frank@example.org", Role::Received),
        ];
        want.sort();
        assert_eq!(
            j.participants, want,
            "the report's own From/To and the Message-Id line are no participants"
        );
    }

    #[test]
    fn report_without_attached_message_is_archived_as_a_plain_message() {
        let r = report("Sender: alice@example.org\r\nTo: bob@example.org\r\n", None);
        let j = unwrap(&r);
        assert_eq!(j.origin, Origin::ReportWithoutMessage);
        assert_eq!(j.message.as_ref(), &r[..]);
        let mut want = vec![
            p("journal@example.org", Role::Sent),
            p("archive@example.org", Role::Received),
        ];
        want.sort();
        assert_eq!(j.participants, want);
    }

    #[test]
    fn report_without_envelope_lines_takes_the_originals_header_fields() {
        let mut r = report("", Some(ORIGINAL));
        let at = r.windows(11).position(|w| w == b"--jr\r\nConte").unwrap();
        // Drop the text part: the report holds only the attached message.
        let second = at
            + 1
            + r[at + 1..]
                .windows(6)
                .position(|w| w == b"--jr\r\n")
                .unwrap();
        r.drain(at..second);
        let j = unwrap(&r);
        assert_eq!(j.origin, Origin::Report);
        assert_eq!(j.message.as_ref(), ORIGINAL);
        let mut want = vec![
            p("alice@example.org", Role::Sent),
            p("bob@example.org", Role::Received),
        ];
        want.sort();
        assert_eq!(j.participants, want);
    }

    #[test]
    fn report_that_is_not_multipart_is_archived_as_it_is() {
        let r = b"X-MS-Journal-Report:\r\nFrom: journal@example.org\r\n\r\nSender: a@b.c\r\n";
        let j = unwrap(r);
        assert_eq!(j.origin, Origin::ReportWithoutMessage);
        assert_eq!(j.participants, vec![p("journal@example.org", Role::Sent)]);
    }

    #[test]
    fn base64_attached_original_is_decoded_and_canonicalised() {
        let mut r = report("Sender: alice@example.org\r\n", None);
        r.truncate(r.len() - "\r\n--jr--\r\n".len());
        r.extend_from_slice(
            b"\r\n--jr\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        );
        // "From: a@b.c\nSubject: x\n\nhi\n" with bare LFs.
        r.extend_from_slice(b"RnJvbTogYUBiLmMKU3ViamVjdDogeAoKaGkK\r\n--jr--\r\n");
        let j = unwrap(&r);
        assert_eq!(j.origin, Origin::Report);
        assert_eq!(
            j.message.as_ref(),
            b"From: a@b.c\r\nSubject: x\r\n\r\nhi\r\n"
        );
    }

    #[test]
    fn exchange_2003_report_is_recognised() {
        let mut r = report(
            "Sender: alice@example.org\r\nTo: bob@example.org\r\n",
            Some(ORIGINAL),
        );
        let at = r
            .windows(20)
            .position(|w| w == b"X-MS-Journal-Report:")
            .unwrap();
        r.splice(
            at..at + 20,
            b"Content-Identifier: ExJournalReport".iter().copied(),
        );
        assert_eq!(unwrap(&r).origin, Origin::Report);
    }

    #[test]
    fn malformed_headers_never_panic() {
        for m in [
            &b""[..],
            b"X-MS-Journal-Report:",
            b"To: <@>, @, a@, @b, \"x\r\n\r\n",
            b"From: ((((\r\n\r\n",
        ] {
            let j = unwrap(m);
            assert!(j.participants.iter().all(|p| p.address.contains('@')));
        }
    }

    #[test]
    fn addr_spec_accepts_addresses_and_canonicalises_case() {
        assert_eq!(addr_spec("Alice@Example.ORG").unwrap(), "alice@example.org");
        assert_eq!(
            addr_spec(" <bob.b+x@example.org> ").unwrap(),
            "bob.b+x@example.org"
        );
        assert_eq!(addr_spec("ops@[192.0.2.1]").unwrap(), "ops@[192.0.2.1]");
        assert_eq!(
            addr_spec("Jörg@Bücher.example").unwrap(),
            "jörg@bücher.example"
        );
    }

    #[test]
    fn addr_spec_rejects_what_is_not_an_address() {
        for bad in [
            "",
            "alice",
            "@example.org",
            "alice@",
            "a@b@c",
            "a b@example.org",
            ".a@example.org",
            "a..b@example.org",
            "a@example..org",
            "a@exa mple.org",
            "\"a b\"@example.org",
            "a@[x",
            "a,b@example.org",
        ] {
            assert!(addr_spec(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            addr_spec(&format!("{}@example.org", "a".repeat(250))),
            Err(AddrSpecError::TooLong(_))
        ));
    }
}
