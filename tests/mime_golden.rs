//! Golden tests of the MIME layer: `analyze()` over `tests/corpus/*.eml`, a few `section()` and
//! `binary_section()` results, the caps of `mime::limits`, and Dovecot as an independent oracle.
//!
//! Golden file format (`NNN-name.imap` beside `NNN-name.eml`): exactly three lines, each ended by
//! a bare LF: `ENVELOPE <list>`, `BODYSTRUCTURE <list>`, `BODY <list>`, the lists byte for byte
//! as `analyze()` gives them. A string sent as a literal appears inline as `{n}` CR LF and its n
//! bytes (literals never contain CR or LF themselves, so a line ends at the first LF not preceded
//! by CR). On mismatch the test writes `NNN-name.imap.actual` and names it: updating a golden is a
//! reviewed `mv` of that file.
//!
//! Every `.eml` is fed through `canonical_line_ends()` first (009 is stored with bare LFs).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use imapvault::mime::{
    analyze, binary_section, canonical_line_ends, limits, section, BinaryError, Section,
    SectionText,
};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let raw = std::fs::read(&p).expect("read eml");
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (name, canonical_line_ends(&raw).into_owned())
        })
        .collect()
}

fn load(name: &str) -> Vec<u8> {
    corpus()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, m)| m)
        .expect("corpus file")
}

fn golden_text(message: &[u8]) -> Vec<u8> {
    let a = analyze(message);
    let mut out = Vec::new();
    for (label, v) in [
        ("ENVELOPE ", &a.envelope),
        ("BODYSTRUCTURE ", &a.body_structure),
        ("BODY ", &a.body),
    ] {
        out.extend_from_slice(label.as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

#[test]
fn corpus_matches_goldens() {
    let mut failures = Vec::new();
    let all = corpus();
    assert!(all.len() >= 25, "corpus too small: {}", all.len());
    for (name, message) in &all {
        let got = golden_text(message);
        let golden = corpus_dir().join(format!("{name}.imap"));
        let actual = corpus_dir().join(format!("{name}.imap.actual"));
        match std::fs::read(&golden) {
            Ok(expected) if expected == got => {
                let _ = std::fs::remove_file(&actual);
            }
            _ => {
                std::fs::write(&actual, &got).expect("write .actual");
                failures.push(actual.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch; review and move into place:\n{}",
        failures.join("\n")
    );
}

#[test]
fn bare_lf_file_is_canonicalised_and_borrowed_when_clean() {
    let raw = std::fs::read(corpus_dir().join("009-bare-lf.eml")).expect("read");
    assert!(
        !raw.windows(2).any(|w| w == b"\r\n"),
        "009 must be stored with bare LFs"
    );
    let canon = canonical_line_ends(&raw);
    assert!(matches!(canon, Cow::Owned(_)));
    assert!(matches!(canonical_line_ends(&canon), Cow::Borrowed(_)));
}

#[test]
fn analysis_dates_and_attachments() {
    let a = analyze(&load("027-lowercase-date-tz"));
    assert_eq!(a.sent_day, Some((2023, 12, 31)));
    assert_eq!(a.sent_date, Some(1_704_094_200));
    assert_eq!(analyze(&load("007-missing-date")).sent_date, None);
    for (name, attached) in [
        ("001-plain-ascii", false),
        ("002-alternative", false),
        ("003-mixed-attachments", true),
        ("017-rfc2231", true),
        ("018-disposition-params", true),
        ("020-content-location", false),
    ] {
        assert_eq!(analyze(&load(name)).has_attachment, attached, "{name}");
    }
}

fn sec(m: &[u8], part: &[u32], text: Option<SectionText>) -> Option<Vec<u8>> {
    section(
        m,
        &Section {
            part: part.to_vec(),
            text,
        },
    )
    .map(Cow::into_owned)
}

/// Section results checked against what Dovecot 2.3 returned for the same FETCH.
#[test]
fn section_goldens() {
    let m = load("004-forward-rfc822");
    assert_eq!(sec(&m, &[2, 1], None).unwrap(), b"plain");
    assert_eq!(
        sec(&m, &[2, 1], Some(SectionText::Mime)).unwrap(),
        b"Content-Type: text/plain\r\n\r\n"
    );
    assert_eq!(sec(&m, &[2, 2], None).unwrap(), b"<b>html</b>");
    assert_eq!(sec(&m, &[2, 3], None), None);
    let h = sec(&m, &[2], Some(SectionText::Header)).unwrap();
    assert!(
        h.starts_with(b"Date: Tue, 2 Jan 2024 11:30:00 -0500\r\n")
            && h.ends_with(b"boundary=\"inner\"\r\n\r\n")
    );
    assert_eq!(h.len(), 216);
    let t = sec(&m, &[2], Some(SectionText::Text)).unwrap();
    assert!(t.starts_with(b"--inner\r\n") && t.ends_with(b"--inner--\r\n"));
    assert_eq!(t.len(), 104);
    assert_eq!(sec(&m, &[2], None).unwrap().len(), 320);

    let m = load("001-plain-ascii");
    assert_eq!(
        sec(&m, &[1], None).unwrap(),
        b"Hello Bob,\r\nthis is plain ASCII.\r\n"
    );
    assert_eq!(sec(&m, &[1], Some(SectionText::Mime)).unwrap().len(), 160);
    assert_eq!(sec(&m, &[1], Some(SectionText::Header)).unwrap(), b"");
    assert_eq!(sec(&m, &[2], None), None);
    assert_eq!(
        sec(
            &m,
            &[],
            Some(SectionText::HeaderFields(vec![
                "subject".into(),
                "to".into()
            ]))
        )
        .unwrap(),
        b"To: Bob <bob@example.net>\r\nSubject: Plain hello\r\n\r\n"
    );

    let m = load("003-mixed-attachments");
    assert_eq!(sec(&m, &[2], Some(SectionText::Mime)).unwrap().len(), 202);
    assert_eq!(sec(&m, &[1], Some(SectionText::Header)).unwrap(), b"");
    assert_eq!(sec(&m, &[4], None), None);

    // 026: no delimiter at all: the structure shows one empty part.
    let m = load("026-empty-multipart");
    assert_eq!(sec(&m, &[1], None).unwrap(), b"");
    assert_eq!(sec(&m, &[2], None), None);
}

#[test]
fn binary_goldens() {
    let m = load("003-mixed-attachments");
    assert_eq!(
        binary_section(&m, &[3]).unwrap().unwrap().as_ref(),
        b"caf\xe9 au lait ok"
    );
    assert_eq!(
        binary_section(&m, &[2]).unwrap().unwrap().as_ref(),
        b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n"
    );
    assert!(matches!(
        binary_section(&m, &[1]).unwrap(),
        Some(Cow::Borrowed(b"See attached."))
    ));
    assert_eq!(binary_section(&m, &[7]).unwrap(), None);
    let m = load("010-nul-body");
    assert_eq!(
        binary_section(&m, &[1]).unwrap().unwrap().as_ref(),
        b"ab\0cd\r\n\0\r\n"
    );
    let m = b"Content-Transfer-Encoding: x-gzip64\r\n\r\nxx\r\n";
    assert!(
        matches!(binary_section(m, &[1]), Err(BinaryError::UnknownEncoding(e)) if e == "x-gzip64")
    );
    let m = b"Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n";
    assert!(matches!(
        binary_section(m, &[1]),
        Err(BinaryError::InvalidBase64 { .. })
    ));
}

// ---- caps -------------------------------------------------------------------------------------

/// `levels` multiparts nested inside each other, each with one text part beside the next level.
fn nested_multiparts(levels: usize) -> Vec<u8> {
    let mut m = b"Subject: deep\r\n".to_vec();
    for i in 0..levels {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}x\"\r\n\r\n--b{i}x\r\n")
                .as_bytes(),
        );
    }
    m.extend_from_slice(b"Content-Type: text/plain\r\n\r\nleaf\r\n");
    for i in (0..levels).rev() {
        m.extend_from_slice(format!("--b{i}x--\r\n").as_bytes());
    }
    m
}

/// `levels` message/rfc822 parts nested inside each other.
fn nested_messages(levels: usize) -> Vec<u8> {
    let mut m = Vec::new();
    for _ in 0..levels {
        m.extend_from_slice(b"Subject: wrap\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    m.extend_from_slice(b"Subject: leaf\r\n\r\nleaf\r\n");
    m
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn depth_cap_at_n_and_n_plus_one() {
    let n = limits::MAX_DEPTH;
    let a = analyze(&nested_multiparts(n));
    assert_eq!(count(&a.body, b"\"mixed\""), n);
    assert_eq!(count(&a.body, b"\"octet-stream\""), 0);
    assert_eq!(count(&a.body, b"\"plain\""), 1);

    let m = nested_multiparts(n + 1);
    let a = analyze(&m);
    assert_eq!(count(&a.body, b"\"mixed\""), n);
    assert_eq!(count(&a.body, b"\"octet-stream\""), 1);
    assert_eq!(count(&a.body, b"\"plain\""), 0);
    // The opaque part is still served byte for byte.
    let path = vec![1; n];
    let inner = section(
        &m,
        &Section {
            part: path,
            text: None,
        },
    )
    .expect("opaque part exists");
    assert!(inner.starts_with(format!("--b{n}x\r\n").as_bytes()));

    let a = analyze(&nested_messages(n));
    assert_eq!(count(&a.body, b"\"rfc822\""), n);
    assert_eq!(count(&a.body, b"\"octet-stream\""), 0);
    let a = analyze(&nested_messages(n + 1));
    assert_eq!(count(&a.body, b"\"rfc822\""), n);
    assert_eq!(count(&a.body, b"\"octet-stream\""), 1);
}

/// A multipart holding `k` text parts: `k + 1` parts in all.
fn wide_multipart(k: usize) -> Vec<u8> {
    let mut m = b"Content-Type: multipart/mixed; boundary=w\r\n\r\n".to_vec();
    for i in 0..k {
        m.extend_from_slice(format!("--w\r\n\r\n{i}\r\n").as_bytes());
    }
    m.extend_from_slice(b"--w--\r\n");
    m
}

#[test]
fn part_cap_at_n_and_n_plus_one() {
    let n = limits::MAX_PARTS;
    let a = analyze(&wide_multipart(n - 1));
    assert_eq!(count(&a.body, b"\"plain\""), n - 1);
    assert_eq!(count(&a.body, b"\"octet-stream\""), 0);

    let m = wide_multipart(n);
    let a = analyze(&m);
    assert_eq!(count(&a.body, b"\"plain\""), n - 2);
    assert_eq!(count(&a.body, b"\"octet-stream\""), 1);
    let last = section(
        &m,
        &Section {
            part: vec![(n - 1) as u32],
            text: None,
        },
    )
    .expect("opaque rest");
    assert!(
        last.starts_with(format!("{}\r\n--w\r\n", n - 2).as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&last[..20])
    );
    assert_eq!(
        section(
            &m,
            &Section {
                part: vec![n as u32],
                text: None
            }
        ),
        None
    );
}

#[test]
fn hundred_thousand_levels_are_fast_and_do_not_overflow() {
    for m in [nested_multiparts(100_000), nested_messages(100_000)] {
        let t = Instant::now();
        let a = analyze(&m);
        assert_eq!(count(&a.body, b"\"octet-stream\""), 1);
        let deep = section(
            &m,
            &Section {
                part: vec![1; 40],
                text: None,
            },
        );
        let _ = deep;
        let _ = binary_section(&m, &[1; 40]);
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "took {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn hostile_inputs_do_not_panic() {
    let samples: &[&[u8]] = &[
        b"",
        b"\r\n",
        b"\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a",
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n--a\r\n--a--",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: message/rfc822",
        b"From: <<<@@@>>>;;;:::\"\r\nTo: (((\r\nCc: \\\r\nDate: 99 Foo 99999999999999999999 99:99\r\n\r\n",
        b"\0\0\0: \0\r\n\r\n\0",
        b"Content-Type: text/plain; charset*0*=a; charset*99999999999=b\r\n\r\n",
    ];
    for m in samples {
        let a = analyze(m);
        assert!(a.envelope.starts_with(b"(") && a.body.starts_with(b"("));
        for part in [&[][..], &[1], &[1, 1], &[2], &[u32::MAX], &[0]] {
            for text in [
                None,
                Some(SectionText::Header),
                Some(SectionText::Text),
                Some(SectionText::Mime),
            ] {
                let _ = section(
                    m,
                    &Section {
                        part: part.to_vec(),
                        text,
                    },
                );
            }
            let _ = binary_section(m, part);
        }
    }
}

// ---- Dovecot as an oracle ---------------------------------------------------------------------

const DOVECOT_IMAP: &str = "/usr/lib/dovecot/imap";

/// Messages on which we differ from Dovecot 2.3 on purpose, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "027-lowercase-date-tz",
        "Content-Transfer-Encoding: 7BIT: Dovecot's BODY lowercases it to \"7bit\" while its own \
         BODYSTRUCTURE keeps \"7BIT\"; we keep the case as written in both, so they agree",
    ),
    (
        "028-empty-list-items",
        "To: ,, bob@example.net,,: Dovecot invents MISSING_MAILBOX@MISSING_DOMAIN entries for some \
         (not all) empty list elements; RFC 5322 §4.4 obs-addr-list says empty elements are \
         ignored, so we list only bob",
    ),
];

/// A parsed IMAP value, for comparing two responses regardless of how strings were sent.
#[derive(Clone, PartialEq, Eq)]
enum Value {
    Nil,
    Number(u64),
    Atom(Vec<u8>),
    Str(Vec<u8>),
    List(Vec<Value>),
}

impl std::fmt::Debug for Value {
    /// Readable diffs: strings shown as (lossy) text, lists in parentheses.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Nil => write!(f, "NIL"),
            Value::Number(n) => write!(f, "{n}"),
            Value::Atom(a) => write!(f, "{}", String::from_utf8_lossy(a)),
            Value::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
            Value::List(items) => {
                write!(f, "(")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{v:?}")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// Parses one IMAP value at `*pos` (quoted strings, literals, numbers, atoms, lists).
///
/// Normalisation: a quoted string and a literal with the same content are equal; atoms compare
/// case-insensitively (`NIL`); nothing else is folded, so case and spacing inside strings count.
fn parse_value(s: &[u8], pos: &mut usize) -> Value {
    while s.get(*pos) == Some(&b' ') {
        *pos += 1;
    }
    match s.get(*pos) {
        Some(b'(') => {
            *pos += 1;
            let mut items = Vec::new();
            loop {
                while s.get(*pos) == Some(&b' ') {
                    *pos += 1;
                }
                match s.get(*pos) {
                    Some(b')') => {
                        *pos += 1;
                        return Value::List(items);
                    }
                    None => panic!("unterminated list"),
                    _ => items.push(parse_value(s, pos)),
                }
            }
        }
        Some(b'"') => {
            *pos += 1;
            let mut v = Vec::new();
            loop {
                match s.get(*pos) {
                    Some(b'\\') => {
                        v.push(s[*pos + 1]);
                        *pos += 2;
                    }
                    Some(b'"') => {
                        *pos += 1;
                        return Value::Str(v);
                    }
                    Some(&c) => {
                        v.push(c);
                        *pos += 1;
                    }
                    None => panic!("unterminated string"),
                }
            }
        }
        Some(b'{') => {
            let close = *pos
                + s[*pos..]
                    .iter()
                    .position(|&b| b == b'}')
                    .expect("literal length");
            let n: usize = std::str::from_utf8(&s[*pos + 1..close])
                .unwrap()
                .parse()
                .unwrap();
            let start = close + 3; // "}\r\n"
            *pos = start + n;
            Value::Str(s[start..start + n].to_vec())
        }
        Some(_) => {
            let start = *pos;
            while let Some(&c) = s.get(*pos) {
                if c == b' ' || c == b')' || c == b'(' || c == b'\r' {
                    break;
                }
                *pos += 1;
            }
            let atom = &s[start..*pos];
            if atom.eq_ignore_ascii_case(b"NIL") {
                Value::Nil
            } else if let Some(n) = std::str::from_utf8(atom).ok().and_then(|a| a.parse().ok()) {
                Value::Number(n)
            } else {
                Value::Atom(atom.to_ascii_uppercase())
            }
        }
        None => panic!("value expected"),
    }
}

fn parse_all(s: &[u8]) -> Value {
    let mut pos = 0;
    let v = parse_value(s, &mut pos);
    assert_eq!(
        pos,
        s.len(),
        "trailing bytes after {:?}",
        String::from_utf8_lossy(s)
    );
    v
}

/// Runs Dovecot over a temporary Maildir holding `messages` and returns, per message, the
/// FETCH item list (`ENVELOPE v BODYSTRUCTURE v BODY v BODY[HEADER] v`).
fn dovecot_fetch(messages: &[(String, Vec<u8>)]) -> Vec<Vec<Value>> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().expect("tempdir");
    let maildir = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("mkdir");
    }
    for (name, m) in messages {
        std::fs::write(maildir.join("cur").join(format!("{name}:2,S")), m).expect("write message");
    }
    // Dovecot refuses to run mail processes as root: run as nobody then, owning the Maildir.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let (mail_uid, mail_gid) = if uid == 0 { (65534, 65534) } else { (uid, gid) };
    if uid == 0 {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let mut paths = vec![maildir.clone()];
        for sub in ["cur", "new", "tmp"] {
            paths.push(maildir.join(sub));
        }
        for (name, _) in messages {
            paths.push(maildir.join("cur").join(format!("{name}:2,S")));
        }
        for p in paths {
            std::os::unix::fs::chown(&p, Some(mail_uid), Some(mail_gid)).expect("chown");
        }
    }
    let conf = dir.path().join("dovecot.conf");
    std::fs::write(
        &conf,
        format!(
            "mail_location = maildir:{}\nssl = no\nlog_path = /dev/stderr\nmail_uid = {mail_uid}\n\
             mail_gid = {mail_gid}\nfirst_valid_uid = 1\nfirst_valid_gid = 1\n",
            maildir.display()
        ),
    )
    .expect("write config");
    let mut child = Command::new(DOVECOT_IMAP)
        .arg("-c")
        .arg(&conf)
        .env_clear()
        .env("USER", "imapvault-test")
        .env("HOME", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dovecot imap");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a SELECT INBOX\r\nb FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[HEADER])\r\nc LOGOUT\r\n")
        .expect("write commands");
    let out = child.wait_with_output().expect("dovecot output");
    let stdout = out.stdout;
    assert!(
        stdout.windows(5).any(|w| w == b"b OK "),
        "Dovecot FETCH failed:\n{}\n{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Pick every "* N FETCH (" and parse the list after it (literals included).
    let mut results = Vec::new();
    let mut i = 0;
    while let Some(off) = stdout[i..].windows(8).position(|w| w == b" FETCH (") {
        let at = i + off + 7;
        let mut pos = at;
        match parse_value(&stdout, &mut pos) {
            Value::List(items) => results.push(items),
            other => panic!("FETCH items expected, got {other:?}"),
        }
        i = pos;
    }
    results
}

fn item<'v>(items: &'v [Value], name: &str) -> &'v Value {
    let i = items
        .iter()
        .position(|v| *v == Value::Atom(name.as_bytes().to_vec()))
        .unwrap_or_else(|| panic!("{name} missing"));
    &items[i + 1]
}

#[test]
fn goldens_agree_with_dovecot() {
    assert!(
        Path::new(DOVECOT_IMAP).exists(),
        "{DOVECOT_IMAP} is missing: this test needs Debian's dovecot-imapd as an oracle. Run the \
         project's test script (it installs it), or `apt-get install -y dovecot-imapd`."
    );
    let messages = corpus();
    let started = Instant::now();
    let fetched = dovecot_fetch(&messages);
    assert_eq!(
        fetched.len(),
        messages.len(),
        "Dovecot did not return one FETCH per message"
    );

    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    for ((name, message), items) in messages.iter().zip(&fetched) {
        // Dovecot numbers by file name order, as we sorted: check it is the same message.
        let header = section(
            message,
            &Section {
                part: vec![],
                text: Some(SectionText::Header),
            },
        )
        .unwrap();
        assert_eq!(
            item(items, "BODY[HEADER]"),
            &Value::Str(header.into_owned()),
            "{name}: order differs"
        );

        let a = analyze(message);
        let mut diffs = Vec::new();
        for (label, ours) in [
            ("ENVELOPE", &a.envelope),
            ("BODYSTRUCTURE", &a.body_structure),
            ("BODY", &a.body),
        ] {
            let theirs = item(items, label);
            let ours = parse_all(ours);
            if &ours != theirs {
                diffs.push(format!(
                    "  {label}\n    ours:    {ours:?}\n    dovecot: {theirs:?}"
                ));
            }
        }
        let known = KNOWN_DIFFERENCES.iter().any(|(f, _)| f == name);
        match (diffs.is_empty(), known) {
            (false, false) => unexpected.push(format!("{name}:\n{}", diffs.join("\n"))),
            (true, true) => stale.push(name.clone()),
            _ => {}
        }
    }
    assert!(
        unexpected.is_empty(),
        "unexpected differences from Dovecot:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "KNOWN_DIFFERENCES lists messages that now agree: {stale:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "oracle took {:?}",
        started.elapsed()
    );
}
