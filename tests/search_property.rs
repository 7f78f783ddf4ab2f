//! Property test of SEARCH's text keys (issue 3): random messages (several languages and
//! charsets, RFC 2047 headers, quoted-printable and base64 bodies, HTML parts) and random search
//! programs, run through a real session over an in-memory transport; imapvault's `UID SEARCH`
//! answer must equal a naive reference evaluator that scans every message of the mailbox with
//! the same text extraction (`mime::text`). This checks the index's words (no misses, and no
//! false hits where it answers alone), the exact check (no false hits), the mailbox
//! restriction and the boolean combination.
//!
//! The generator is a small deterministic xorshift; a failure prints the seed and the program.

mod common_session;

use common_session::{literal, MemSession};
use imapvault::mime::text;

/// Deterministic random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Words by the charsets that can carry them.
const LATIN: &[&str] = &[
    "Müller",
    "MÜLLER",
    "straße",
    "Café",
    "naïve",
    "über",
    "ÜBER",
    "Grüße",
    "façade",
    "Ångström",
    "hello",
    "World",
    "report",
    "budget",
    "NEAR",
    "OR",
    "AND",
    "a*b",
    "^x",
    "subject:x",
    "\"quoted\"",
    "x\"y",
    "{col}",
    "(paren)",
    "déjà",
    "Señor",
    "año",
];
const CYRILLIC: &[&str] = &["Привет", "мир", "ОТЧЁТ", "отчёт", "Бюджет", "встреча"];
const JAPANESE: &[&str] = &["日本語", "テスト", "会議", "予算", "報告書"];
const NAMES: &[&str] = &["Jürgen", "Ольга", "山田", "Zoë", "Bob", "Élodie"];
/// Words whose case folding is more than lowercasing: `ß`/`ẞ` (→ `ss`), every sigma (final `ς`
/// and `Σ` → `σ`), `ſ` and ligatures; `ẞ` and `ﬁ` exist in no legacy charset, so UTF-8 only.
const GREEK: &[&str] = &["ΛΟΓΟΣ", "λόγος", "Σοφία", "ΟΔΟΣ", "οδός", "σχέσεις"];
const FOLDING: &[&str] = &[
    "GROẞE",
    "Maß",
    "MASS",
    "Fußball",
    "STRASSE",
    "ﬁle",
    "Meſſe",
    "Σοφός",
];

#[derive(Clone, Copy)]
enum Lang {
    Latin,
    Cyrillic,
    Japanese,
    Greek,
    Folding,
}

fn words_of(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Latin => LATIN,
        Lang::Cyrillic => CYRILLIC,
        Lang::Japanese => JAPANESE,
        Lang::Greek => GREEK,
        Lang::Folding => FOLDING,
    }
}

fn charsets_of(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Latin => &["utf-8", "iso-8859-1", "windows-1252"],
        Lang::Cyrillic => &["utf-8", "koi8-r", "windows-1251"],
        Lang::Japanese => &["utf-8", "iso-2022-jp", "shift_jis"],
        Lang::Greek => &["utf-8", "iso-8859-7", "windows-1253"],
        Lang::Folding => &["utf-8"],
    }
}

fn encode(charset: &str, s: &str) -> Vec<u8> {
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).expect("known charset");
    let (bytes, _, unmappable) = enc.encode(s);
    assert!(!unmappable, "{s:?} in {charset}");
    bytes.into_owned()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn qp(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut col = 0;
    for &b in bytes {
        let piece = if (b.is_ascii_alphanumeric() || b == b' ' || b == b'.') && b != b'=' {
            (b as char).to_string()
        } else if b == b'\n' {
            col = 0;
            out.push_str("\r\n");
            continue;
        } else {
            format!("={b:02X}")
        };
        if col + piece.len() > 72 {
            out.push_str("=\r\n");
            col = 0;
        }
        col += piece.len();
        out.push_str(&piece);
    }
    out
}

/// An RFC 2047 encoded word (or raw UTF-8, as RFC 6532 mail has it).
fn header_text(rng: &mut Rng, lang: Lang, s: &str) -> String {
    let charset = *rng.pick(charsets_of(lang));
    match rng.below(4) {
        0 if s.is_ascii() => s.to_owned(),
        0 | 1 => format!("=?{charset}?B?{}?=", b64(&encode(charset, s))),
        2 => {
            let q: String = encode(charset, s)
                .iter()
                .map(|&b| {
                    if b.is_ascii_alphanumeric() {
                        (b as char).to_string()
                    } else if b == b' ' {
                        "_".to_owned()
                    } else {
                        format!("={b:02X}")
                    }
                })
                .collect();
            format!("=?{charset}?Q?{q}?=")
        }
        _ => s.to_owned(),
    }
}

fn phrase(rng: &mut Rng, lang: Lang, n: usize) -> String {
    (0..n)
        .map(|_| *rng.pick(words_of(lang)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn address(rng: &mut Rng, i: usize) -> String {
    let name = *rng.pick(NAMES);
    let lang = if name.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c)) {
        Lang::Cyrillic
    } else if name.chars().any(|c| c > '\u{3000}') {
        Lang::Japanese
    } else {
        Lang::Latin
    };
    format!("{} <user{i}@example.org>", header_text(rng, lang, name))
}

/// Runs of letters and digits longer than the index's words (64 characters), of few letters
/// so that their pieces repeat, in both cases (folding applies).
fn long_runs() -> Vec<String> {
    let mut rng = Rng(0x0010_c42b);
    [65, 66, 97, 130, 200]
        .iter()
        .map(|&n| (0..n).map(|_| *rng.pick(&['a', 'B', 'b', '7'])).collect())
        .collect()
}

/// A text part: (MIME header, encoded body).
fn text_part(rng: &mut Rng, lang: Lang, html: bool) -> String {
    let charset = *rng.pick(charsets_of(lang));
    let count = 4 + rng.below(20);
    let mut words = phrase(rng, lang, count);
    if rng.chance(25) {
        words.push(' ');
        let runs = long_runs();
        words.push_str(rng.pick(&runs[..]).as_str());
    }
    let text = if html {
        // Entities and inline tags: the index sees the rendered text.
        let escaped = words.replace('&', "&amp;").replace('"', "&quot;");
        format!("<html><style>p{{x:y}}</style><p>{escaped}</p><p>Gr&uuml;&szlig;e <b>zur</b>&#252;ck</p></html>")
    } else {
        format!("{words}\nsecond line {}\n", phrase(rng, lang, 3))
    };
    let bytes = encode(charset, &text);
    let sub = if html { "html" } else { "plain" };
    let (cte, body) = match rng.below(3) {
        0 => ("base64", b64(&bytes)),
        1 => ("quoted-printable", qp(&bytes)),
        // 8bit for the charsets whose bytes are line-safe; iso-2022-jp is 7bit anyway.
        _ => ("8bit", String::from_utf8_lossy(&bytes).into_owned()),
    };
    let body = if cte == "8bit" && std::str::from_utf8(&bytes).is_err() {
        // Keep the raw bytes out of a Rust String: fall back to base64 for non-UTF-8 charsets.
        return format!(
            "Content-Type: text/{sub}; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(&bytes)
        );
    } else {
        body
    };
    format!("Content-Type: text/{sub}; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n")
}

fn lang(rng: &mut Rng) -> Lang {
    *rng.pick(&[
        Lang::Latin,
        Lang::Latin,
        Lang::Cyrillic,
        Lang::Japanese,
        Lang::Greek,
        Lang::Folding,
    ])
}

/// A random message (CRLF) and the plain subject it carries.
fn message(rng: &mut Rng, n: usize) -> (Vec<u8>, String) {
    let l = lang(rng);
    let count = 1 + rng.below(4);
    let subject = phrase(rng, l, count);
    let mut m = format!("From: {}\r\n", address(rng, n));
    m.push_str(&format!(
        "To: {}, {}\r\n",
        address(rng, n + 1),
        address(rng, n + 2)
    ));
    if rng.chance(40) {
        m.push_str(&format!("Cc: {}\r\n", address(rng, n + 3)));
    }
    if rng.chance(20) {
        m.push_str(&format!("Bcc: {}\r\n", address(rng, n + 4)));
    }
    // Long subjects are folded after the first word.
    let encoded: Vec<String> = subject.split(' ').map(|w| header_text(rng, l, w)).collect();
    m.push_str(&format!("Subject: {}\r\n", join_encoded(&encoded)));
    if rng.chance(50) {
        let project = phrase(rng, l, 2);
        let project = header_text(rng, l, &project);
        m.push_str(&format!("X-Project: {project}\r\n"));
    }
    m.push_str(&format!(
        "Message-ID: <m{n}@example.org>\r\nMIME-Version: 1.0\r\n"
    ));
    match rng.below(4) {
        0 => {
            let part = text_part(rng, l, false);
            m.push_str(&part);
        }
        1 => {
            m.push_str("Content-Type: multipart/alternative; boundary=\"=alt\"\r\n\r\n");
            let l2 = lang(rng);
            m.push_str(&format!("--=alt\r\n{}", text_part(rng, l2, false)));
            m.push_str(&format!(
                "--=alt\r\n{}--=alt--\r\n",
                text_part(rng, l2, true)
            ));
        }
        2 => {
            m.push_str("Content-Type: multipart/mixed; boundary=mix\r\n\r\npreamble\r\n");
            m.push_str(&format!("--mix\r\n{}", text_part(rng, l, false)));
            let fl = lang(rng);
            let fname = phrase(rng, fl, 1);
            m.push_str(&format!(
                "--mix\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''{}.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n",
                fname.bytes().map(|b| format!("%{b:02X}")).collect::<String>()
            ));
            let inner_l = lang(rng);
            let inner_subject = phrase(rng, inner_l, 2);
            let inner_subject = header_text(rng, inner_l, &inner_subject);
            let inner_from = address(rng, n + 5);
            let html = rng.chance(50);
            let inner_part = text_part(rng, inner_l, html);
            m.push_str(&format!(
                "--mix\r\nContent-Type: message/rfc822\r\n\r\nSubject: {inner_subject}\r\nFrom: {inner_from}\r\n{inner_part}--mix--\r\n",
            ));
        }
        _ => {
            let part = text_part(rng, l, true);
            m.push_str(&part);
        }
    }
    (m.into_bytes(), subject)
}

/// Encoded words and plain words joined as a mailer would (RFC 2047 §5: words separated by
/// folding whitespace). Two adjacent encoded words lose the space between them when decoded,
/// so a plain space is carried inside the next encoded word instead.
fn join_encoded(words: &[String]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            let prev_enc = words[i - 1].starts_with("=?");
            if prev_enc && w.starts_with("=?") {
                out.push_str(" =?utf-8?Q?_?= ");
            } else {
                out.push_str(if i % 2 == 0 { "\r\n " } else { " " });
            }
        }
        out.push_str(w);
    }
    out
}

/// A search program: the IMAP text (with literals) and a reference evaluator.
#[derive(Debug, Clone)]
enum Prog {
    Text(&'static str, String),
    Header(String, String),
    Uid(u32, u32),
    Smaller(u64),
    All,
    Not(Box<Prog>),
    Or(Box<Prog>, Box<Prog>),
    And(Vec<Prog>),
}

const KEYS: &[&str] = &["FROM", "TO", "CC", "BCC", "SUBJECT", "BODY", "TEXT"];
const HEADER_NAMES: &[&str] = &[
    "Subject",
    "x-project",
    "MESSAGE-ID",
    "Content-Type",
    "X-None",
];

fn needle(rng: &mut Rng) -> String {
    let all: Vec<&str> = LATIN
        .iter()
        .chain(CYRILLIC)
        .chain(JAPANESE)
        .chain(NAMES)
        .chain(GREEK)
        .chain(FOLDING)
        .chain(&[
            "ß",
            "SS",
            "ẞ",
            "ς",
            "Σ",
            "σ",
            "ΟΣ Ο",
            "ss",
            "example",
            "user1",
            "line",
            "@ex",
            "<",
            "zur",
            "züruck",
            "Grüße zurück",
        ])
        .copied()
        .collect();
    // Mostly a piece of one word; sometimes a piece of a long run (the index keeps runs past
    // 64 characters as overlapping pieces; needles past 32 are checked against the text), or
    // a piece of a phrase across the spaces between words (candidates, then the check).
    let (w, most): (Vec<char>, usize) = match rng.below(10) {
        0 => {
            let runs = long_runs();
            (rng.pick(&runs).chars().collect(), 45)
        }
        1 => {
            let l = lang(rng);
            let n = 2 + rng.below(2);
            (phrase(rng, l, n).chars().collect(), 24)
        }
        _ => (rng.pick(&all).chars().collect(), 7),
    };
    let len = 1 + rng.below(w.len().min(most));
    let start = rng.below(w.len() - len + 1);
    let s: String = w[start..start + len].iter().collect();
    match rng.below(4) {
        0 => s.to_uppercase(),
        1 => s.to_lowercase(),
        _ => s,
    }
}

fn prog(rng: &mut Rng, depth: usize) -> Prog {
    let leaf = depth >= 3 || rng.chance(55);
    if leaf {
        return match rng.below(10) {
            0 => Prog::Header(
                rng.pick(HEADER_NAMES).to_string(),
                if rng.chance(30) {
                    String::new()
                } else {
                    needle(rng)
                },
            ),
            1 => {
                let a = 1 + rng.below(40) as u32;
                Prog::Uid(a, a + rng.below(30) as u32)
            }
            2 => Prog::Smaller(500 + rng.below(3000) as u64),
            3 if rng.chance(20) => Prog::All,
            _ => Prog::Text(KEYS[rng.below(KEYS.len())], needle(rng)),
        };
    }
    match rng.below(3) {
        0 => Prog::Not(Box::new(prog(rng, depth + 1))),
        1 => Prog::Or(
            Box::new(prog(rng, depth + 1)),
            Box::new(prog(rng, depth + 1)),
        ),
        _ => Prog::And(
            (0..2 + rng.below(2))
                .map(|_| prog(rng, depth + 1))
                .collect(),
        ),
    }
}

/// The program as IMAP search-key bytes (every string a LITERAL+ literal).
fn imap(p: &Prog, out: &mut Vec<u8>) {
    match p {
        Prog::Text(k, s) => {
            out.extend_from_slice(k.as_bytes());
            out.push(b' ');
            out.extend(literal(s.as_bytes()));
        }
        Prog::Header(name, s) => {
            out.extend_from_slice(b"HEADER ");
            out.extend(literal(name.as_bytes()));
            out.push(b' ');
            out.extend(literal(s.as_bytes()));
        }
        Prog::Uid(a, b) => out.extend(format!("UID {a}:{b}").bytes()),
        Prog::Smaller(n) => out.extend(format!("SMALLER {n}").bytes()),
        Prog::All => out.extend_from_slice(b"ALL"),
        Prog::Not(k) => {
            out.extend_from_slice(b"NOT ");
            imap(k, out);
        }
        Prog::Or(a, b) => {
            out.extend_from_slice(b"OR ");
            imap(a, out);
            out.push(b' ');
            imap(b, out);
        }
        Prog::And(ks) => {
            out.push(b'(');
            for (i, k) in ks.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                imap(k, out);
            }
            out.push(b')');
        }
    }
}

struct Msg {
    uid: u32,
    size: u64,
    text: text::SearchText,
}

/// The reference's own case folding, independent of `text::fold` so that a folding bug shows:
/// each character lowercased, uppercased and lowercased again (`ß` → `SS` → `ss`, `ẞ` → `ß` →
/// `ss`, `ς` → `Σ` → `σ`, `ſ` → `S` → `s`, `ﬁ` → `FI` → `fi`), character by character.
fn ref_fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .map(|c| if c == '\0' { ' ' } else { c })
        .collect()
}

/// The naive reference: a plain scan of the text, both sides folded by [`ref_fold`].
fn eval(p: &Prog, m: &Msg) -> bool {
    match p {
        Prog::Text(k, s) => {
            let n = ref_fold(s);
            let t = &m.text;
            match *k {
                "FROM" => t.from.contains(&n),
                "TO" => t.to.contains(&n),
                "CC" => t.cc.contains(&n),
                "BCC" => t.bcc.contains(&n),
                "SUBJECT" => t.subject.contains(&n),
                "BODY" => t.body.contains(&n),
                "TEXT" => t.headers.contains(&n) || t.body.contains(&n),
                _ => unreachable!(),
            }
        }
        Prog::Header(name, s) => {
            let n = ref_fold(s);
            let name = ref_fold(name);
            let hit = text::header_values(&m.text.headers, &name).any(|v| v.contains(&n));
            hit
        }
        Prog::Uid(a, b) => (*a..=*b).contains(&m.uid),
        Prog::Smaller(n) => m.size < *n,
        Prog::All => true,
        Prog::Not(k) => !eval(k, m),
        Prog::Or(a, b) => eval(a, m) || eval(b, m),
        Prog::And(ks) => ks.iter().all(|k| eval(k, m)),
    }
}

#[test]
fn search_equals_reference_scan() {
    let seed = std::env::var("SEARCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_u64);
    let mut rng = Rng(seed);
    const MESSAGES: usize = 80;
    const PROGRAMS: usize = 250;

    // Messages into INBOX, and decoys into another folder that must never be answered.
    let mut inbox = Vec::new();
    let mut other = Vec::new();
    for n in 0..MESSAGES {
        let (raw, subject) = message(&mut rng, n);
        // Decoding check: the generated subject comes back from the RFC 2047 words.
        let t = text::extract(&raw);
        assert_eq!(
            t.subject,
            subject,
            "seed {seed:#x}, message {n}:\n{}",
            String::from_utf8_lossy(&raw)
        );
        if n % 4 == 3 {
            other.push(raw);
        } else {
            inbox.push(raw);
        }
    }
    let session = MemSession::with_mail(&[("INBOX", &inbox), ("Other", &other)]);
    let msgs: Vec<Msg> = inbox
        .iter()
        .enumerate()
        .map(|(i, raw)| Msg {
            uid: i as u32 + 1,
            // RFC822.SIZE is of the message with CRLF line ends (the 8bit parts have bare
            // LFs, which the archive stores as CRLF).
            size: (raw.len()
                + raw
                    .iter()
                    .enumerate()
                    .filter(|&(i, &b)| b == b'\n' && (i == 0 || raw[i - 1] != b'\r'))
                    .count()) as u64,
            text: text::extract(raw).map(ref_fold),
        })
        .collect();

    let mut keys = Vec::new();
    let mut programs = Vec::new();
    for _ in 0..PROGRAMS {
        let p = prog(&mut rng, 0);
        let mut key = b"CHARSET UTF-8 ".to_vec();
        imap(&p, &mut key);
        keys.push(key);
        programs.push(p);
    }
    let answers = session.uid_searches(&keys);
    let mut nonempty = 0;
    for (i, p) in programs.iter().enumerate() {
        let want: Vec<u32> = msgs.iter().filter(|m| eval(p, m)).map(|m| m.uid).collect();
        let got = answers[i]
            .as_ref()
            .unwrap_or_else(|e| panic!("q{i} failed: {e}: {p:?}"));
        assert_eq!(got, &want, "seed {seed:#x}, q{i}: {p:?}");
        if !want.is_empty() && want.len() < msgs.len() {
            nonempty += 1;
        }
    }
    // The generator must produce discriminating programs, or the test proves little.
    assert!(
        nonempty > PROGRAMS / 4,
        "only {nonempty} discriminating programs"
    );
}
