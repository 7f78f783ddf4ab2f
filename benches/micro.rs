//! Micro-benchmarks of the hot paths (issue 7, last point), so that a regression shows as a
//! number: command framing and parsing, ENVELOPE/BODYSTRUCTURE analysis and section extraction,
//! sequence-set parsing and resolution against a 100,000-message view, and the parts of SEARCH
//! reachable through the public API (command parsing, needle preparation, the FTS5 query), and
//! the sync window's index queries (issue 5) on a mailbox of ten years of mail.
//!
//! Owns: its own timing loop (no criterion: no new dependency) and the `BENCH` lines.
//! Does not own: anything it measures; it calls only the crate's public API.
//!
//! ```text
//! cargo bench --bench micro                      # full run (cargo passes --bench)
//! cargo bench --bench micro -- --filter mime.    # only names containing "mime."
//! cargo bench --bench micro -- --seconds 2       # measuring time per benchmark (default 0.5)
//! target/release/deps/micro-* --full             # the same without cargo
//! ```
//!
//! With no `--bench`/`--full` argument, or in a debug build (`cargo test --all-targets`), it is a
//! smoke run: every benchmark body runs a few times, every result is checked, `SMOKE` lines
//! are printed, and it exits 0 in well under two seconds.
//!
//! The loop: warm-up (100 ms, at least 10 calls), then a batch size chosen so that one sample
//! lasts about 200 µs (so `Instant` overhead is under 0.1 %), then samples until either
//! `MAX_SAMPLES` samples or `--seconds` have passed (at least `MIN_SAMPLES`). Each sample gives
//! ns per op; the line reports the median and 95th percentile of those, ops/s from the median,
//! and MB/s (10^6 bytes) of input from the median where the input is bytes (command bytes for
//! parsing, the whole message for `mime.*`, the set's text for `seqset.parse.*`). Inputs and
//! results pass through `std::hint::black_box`; results are dropped inside the timed loop, so
//! their deallocation is counted, as it is in the server.
//!
//! Output, one line per benchmark, keys always in this order (`-` when not applicable):
//! `BENCH name=N unit=U ns_per_op_median=F p95=F ops_per_s=I mb_per_s=F|- samples=I batch=I`

use std::hint::black_box;
use std::io::{self, Cursor};
use std::time::{Duration, Instant};

use imapvault::imap::command::thread::{self, ThreadMsg};
use imapvault::imap::encode;
use imapvault::imap::flags::{AttachmentKeyword, Flags};
use imapvault::imap::framing::{read_command, Joined};
use imapvault::imap::limits::FrameLimits;
use imapvault::imap::view::{Access, Addressing, MailboxView, ViewEntry};
use imapvault::imap::{parse_command, CommandBody, SequenceSet};
use imapvault::index::{needle_words, ContentRow, MailboxId, MailboxInfo, MessageId, Subscription};
use imapvault::mime::{self, text, Section, SectionText};

const WARM_UP: Duration = Duration::from_millis(100);
const SAMPLE_TARGET_NS: f64 = 200_000.0;
const MAX_SAMPLES: usize = 5000;
const MIN_SAMPLES: usize = 10;
const SMOKE_CALLS: usize = 3;

// ---- harness -------------------------------------------------------------------------------

struct Runner {
    full: bool,
    seconds: f64,
    filter: Option<String>,
    ran: usize,
}

impl Runner {
    fn from_args() -> Runner {
        let mut full = false;
        let mut seconds = 0.5;
        let mut filter = None;
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--bench" | "--full" => full = true,
                "--seconds" => {
                    seconds = args
                        .next()
                        .and_then(|s| s.parse::<f64>().ok())
                        .filter(|s| *s > 0.0)
                        .unwrap_or_else(|| usage("--seconds needs a positive number"));
                }
                "--filter" => {
                    filter = Some(
                        args.next()
                            .unwrap_or_else(|| usage("--filter needs a value")),
                    )
                }
                "-h" | "--help" => usage(""),
                // libtest-style arguments cargo may pass through (e.g. a bare filter): ignore.
                _ => {}
            }
        }
        if full && cfg!(debug_assertions) {
            eprintln!("micro: debug build: smoke run only (figures would be meaningless)");
            full = false;
        }
        Runner {
            full,
            seconds,
            filter,
            ran: 0,
        }
    }

    /// Times `f`, which performs `items` ops consuming `bytes` input octets in all per call.
    fn bench<R>(
        &mut self,
        name: &str,
        unit: &str,
        items: u64,
        bytes: u64,
        mut f: impl FnMut() -> R,
    ) {
        if let Some(filter) = &self.filter {
            if !name.contains(filter.as_str()) {
                return;
            }
        }
        self.ran += 1;
        if !self.full {
            let t = Instant::now();
            for _ in 0..SMOKE_CALLS {
                black_box(f());
            }
            println!(
                "SMOKE name={name} calls={SMOKE_CALLS} us_total={:.0}",
                t.elapsed().as_secs_f64() * 1e6
            );
            return;
        }
        // Warm-up, which also estimates the cost of one call.
        let t = Instant::now();
        let mut calls = 0u64;
        while calls < 10 || t.elapsed() < WARM_UP {
            black_box(f());
            calls += 1;
        }
        let per_call = t.elapsed().as_nanos() as f64 / calls as f64;
        let batch = ((SAMPLE_TARGET_NS / per_call).ceil() as u64).max(1);
        let budget = Duration::from_secs_f64(self.seconds);
        let mut per_op: Vec<f64> = Vec::with_capacity(MAX_SAMPLES);
        let start = Instant::now();
        while per_op.len() < MAX_SAMPLES && (per_op.len() < MIN_SAMPLES || start.elapsed() < budget)
        {
            let s = Instant::now();
            for _ in 0..batch {
                black_box(f());
            }
            let ns = s.elapsed().as_nanos() as f64;
            per_op.push(ns / (batch * items) as f64);
        }
        per_op.sort_by(|a, b| a.total_cmp(b));
        let median = percentile(&per_op, 0.50);
        let p95 = percentile(&per_op, 0.95);
        let mb = if bytes > 0 {
            // bytes per op / ns per op = GB/s; ×1000 = MB/s.
            format!("{:.1}", (bytes as f64 / items as f64) / median * 1e3)
        } else {
            "-".to_string()
        };
        println!(
            "BENCH name={name} unit={unit} ns_per_op_median={median:.1} p95={p95:.1} \
             ops_per_s={:.0} mb_per_s={mb} samples={} batch={batch}",
            1e9 / median,
            per_op.len()
        );
    }
}

/// Nearest-rank percentile of sorted, non-empty `v`.
fn percentile(v: &[f64], q: f64) -> f64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("micro: {msg}");
    }
    eprintln!(
        "usage: micro [--bench|--full] [--seconds S] [--filter SUBSTRING]\n\
         without --bench/--full (or in a debug build): a smoke run"
    );
    std::process::exit(2)
}

// ---- inputs --------------------------------------------------------------------------------

/// LF text to CRLF (the canonical form `mime` expects).
fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

/// A commands mix as a client sends them, each one framed (literals inline, CRLF at the end).
/// Thunderbird's folder-open FETCH, a SEARCH with OR/NOT/dates, a LIST-EXTENDED with
/// RETURN STATUS, a UID STORE, and a LOGIN with two synchronising literals.
const COMMANDS: [&[u8]; 5] = [
    b"a101 UID FETCH 1:4000 (UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS \
      (DATE FROM TO CC SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE X-PRIORITY)])\r\n",
    b"a102 UID SEARCH OR (FROM \"alice@example.org\" SINCE 1-Jan-2020) \
      (NOT SEEN BEFORE 15-Mar-2024) NOT DELETED SUBJECT \"quarterly report\"\r\n",
    b"a103 LIST (SUBSCRIBED) \"\" (\"INBOX\" \"Archive/%\") \
      RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))\r\n",
    b"a104 UID STORE 1:100,205,300:* +FLAGS.SILENT (\\Seen $Forwarded)\r\n",
    b"a105 LOGIN {5}\r\nalice {12}\r\nsecret-pw-99\r\n",
];
const COMMAND_NAMES: [&str; 5] = [
    "uid_fetch",
    "search",
    "list_extended",
    "store",
    "login_literal",
];

/// Complex SEARCH commands (the search "program" as far as the public API reaches).
const SEARCHES: [(&str, &[u8]); 3] = [
    (
        "or_not_dates",
        b"s1 UID SEARCH CHARSET UTF-8 OR OR (FROM \"bob@example.com\" SINCE 1-Jan-2020) \
          (TO \"carol\" NOT SEEN) (SUBJECT \"quarterly report\" BEFORE 15-Mar-2024 NOT DELETED) \
          LARGER 10000 TEXT {7}\r\nm\xc3\xbcller UID 1:5000,7000:*\r\n",
    ),
    (
        "esearch_header",
        b"s2 UID SEARCH RETURN (MIN MAX COUNT) NOT OR HEADER X-Spam-Flag YES \
          KEYWORD $Junk SENTSINCE 1-Jun-2023 SENTBEFORE 1-Jul-2023 UNDELETED \
          OR FLAGGED (ANSWERED SMALLER 200000) BODY \"invoice 2023-06\"\r\n",
    ),
    (
        "nested_or_16",
        // 16 levels of OR, as some clients write "any of these senders".
        b"s3 SEARCH OR FROM a1 OR FROM a2 OR FROM a3 OR FROM a4 OR FROM a5 OR FROM a6 \
          OR FROM a7 OR FROM a8 OR FROM a9 OR FROM b1 OR FROM b2 OR FROM b3 OR FROM b4 \
          OR FROM b5 OR FROM b6 OR FROM b7 FROM b8\r\n",
    ),
];

/// Deterministic text paragraphs (~`len` bytes) wrapped at 72 columns.
fn paragraphs(len: usize, seed: u32) -> String {
    const WORDS: [&str; 24] = [
        "the",
        "quarterly",
        "report",
        "budget",
        "meeting",
        "please",
        "review",
        "attached",
        "figures",
        "before",
        "Friday",
        "regards",
        "project",
        "timeline",
        "update",
        "team",
        "invoice",
        "customer",
        "delivery",
        "schedule",
        "approved",
        "draft",
        "minutes",
        "office",
    ];
    let mut s = String::with_capacity(len + 80);
    let mut col = 0;
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let w = WORDS[(x % WORDS.len() as u32) as usize];
        if col + w.len() + 1 > 72 {
            s.push('\n');
            col = 0;
        } else if col > 0 {
            s.push(' ');
            col += 1;
        }
        s.push_str(w);
        col += w.len();
        if x % 11 == 0 {
            s.push_str(".\n\n");
            col = 0;
        }
    }
    s.push('\n');
    s
}

/// `lines` lines of 76 base64 characters (pseudo-random; `mime` does not decode them).
fn base64_lines(lines: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u32 = 0x9e37_79b9;
    let mut s = String::with_capacity(lines * 78);
    for _ in 0..lines {
        for _ in 0..76 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            s.push(ALPHABET[(x % 64) as usize] as char);
        }
        s.push('\n');
    }
    s
}

const HEADER_COMMON: &str = "\
Return-Path: <alice@example.org>
Received: from mx1.example.org (mx1.example.org [192.0.2.10])
\tby mail.example.com (Postfix) with ESMTPS id 4Q1x2y3z4
\tfor <bob@example.com>; Tue, 14 Mar 2023 09:12:44 +0100 (CET)
Received: from [10.0.0.5] (laptop.example.org [10.0.0.5])
\tby mx1.example.org with ESMTPSA; Tue, 14 Mar 2023 09:12:40 +0100
";

fn message_plain() -> Vec<u8> {
    crlf(&format!(
        "{HEADER_COMMON}\
From: Alice Example <alice@example.org>
To: Bob Builder <bob@example.com>, \"Carol, Q.\" <carol@example.net>
Subject: Quarterly report figures
Date: Tue, 14 Mar 2023 09:12:38 +0100
Message-ID: <20230314081238.1234@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

{}",
        paragraphs(2400, 1)
    ))
}

fn alternative_body(boundary: &str, seed: u32) -> String {
    let text = paragraphs(2000, seed);
    let html: String = text
        .split("\n\n")
        .map(|p| format!("<p>{}</p>\n", p.replace('\n', " ")))
        .collect();
    format!(
        "--{boundary}
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

{text}
--{boundary}
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><body>
{html}</body></html>

--{boundary}--
"
    )
}

fn message_alternative() -> Vec<u8> {
    crlf(&format!(
        "{HEADER_COMMON}\
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>
To: Bob Builder <bob@example.com>
Cc: team@example.com
Subject: =?UTF-8?B?UXVhcnRhbHNiZXJpY2h0OiBaYWhsZW4gZsO8ciBRMQ==?=
Date: Wed, 15 Mar 2023 17:40:02 +0100
Message-ID: <a1b2c3d4@example.de>
In-Reply-To: <20230314081238.1234@example.org>
References: <20230314081238.1234@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"alt-b1\"

{}",
        alternative_body("alt-b1", 2)
    ))
}

fn message_mixed_attachment() -> Vec<u8> {
    crlf(&format!(
        "{HEADER_COMMON}\
From: Alice Example <alice@example.org>
To: Bob Builder <bob@example.com>
Subject: Re: Quarterly report figures
Date: Thu, 16 Mar 2023 10:01:00 +0000
Message-ID: <20230316100100.777@example.org>
In-Reply-To: <a1b2c3d4@example.de>
References: <20230314081238.1234@example.org> <a1b2c3d4@example.de>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"mix-b2\"

This is a multi-part message in MIME format.
--mix-b2
Content-Type: multipart/alternative; boundary=\"alt-b2\"

{}
--mix-b2
Content-Type: application/pdf; name=\"Q1-report.pdf\"
Content-Disposition: attachment; filename*=UTF-8''Q1-Bericht-%C3%BCbersicht.pdf
Content-Transfer-Encoding: base64

{}
--mix-b2--
",
        alternative_body("alt-b2", 3),
        base64_lines(270) // ~20 KB encoded, ~15 KB decoded
    ))
}

fn message_forward() -> Vec<u8> {
    let inner_inner = format!(
        "From: Carol <carol@example.net>
To: Alice Example <alice@example.org>
Subject: Original numbers
Date: Mon, 13 Mar 2023 08:00:00 -0500
Message-ID: <orig-1@example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

{}",
        paragraphs(800, 5)
    );
    let inner = format!(
        "From: Alice Example <alice@example.org>
To: Dave <dave@example.com>
Subject: Fwd: Original numbers
Date: Tue, 14 Mar 2023 12:00:00 +0100
Message-ID: <fwd-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"in-b3\"

--in-b3
Content-Type: multipart/alternative; boundary=\"alt-b3\"

{}
--in-b3
Content-Type: message/rfc822

{inner_inner}
--in-b3--
",
        alternative_body("alt-b3", 4)
    );
    crlf(&format!(
        "{HEADER_COMMON}\
From: Dave <dave@example.com>
To: Bob Builder <bob@example.com>
Subject: Fwd: Fwd: Original numbers
Date: Fri, 17 Mar 2023 15:30:00 +0100
Message-ID: <fwd-2@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"out-b4\"

--out-b4
Content-Type: text/plain; charset=us-ascii

See the forwarded message below.

--out-b4
Content-Type: message/rfc822
Content-Disposition: inline

{inner}
--out-b4--
"
    ))
}

/// A view of `n` messages as SELECT builds it; UIDs ascend with gaps (about one in eight
/// expunged), like a real archive folder.
fn view(n: u32) -> MailboxView {
    let entries: Vec<ViewEntry> = (0..n)
        .map(|i| {
            let uid = i + 1 + i / 7;
            ViewEntry {
                uid,
                message: MessageId(i64::from(uid)),
                flags: Flags::default(),
                modseq: 1,
                attachment: AttachmentKeyword::HasNoAttachment,
                internal_date: 0,
            }
        })
        .collect();
    let last = entries.last().map_or(0, |e| e.uid);
    let info = MailboxInfo {
        id: MailboxId(1),
        name: "Archive/2023".into(),
        uidvalidity: 1,
        uidnext: u64::from(last) + 1,
        highestmodseq: 1,
        special_use: None,
        subscribed: Subscription::Subscribed,
        messages: u64::from(n),
        unseen: 0,
        size: 0,
    };
    MailboxView::new(info, Access::ReadOnly, entries)
}

/// `k*100+1:k*100+50` for k in 0..1000: 1,000 ranges, 50,000 numbers, up to 99,950.
fn thousand_ranges() -> String {
    (0..1000)
        .map(|k| format!("{}:{}", k * 100 + 1, k * 100 + 50))
        .collect::<Vec<_>>()
        .join(",")
}

// ---- benchmarks ----------------------------------------------------------------------------

fn bench_parse(r: &mut Runner) {
    for (cmd, name) in COMMANDS.iter().zip(COMMAND_NAMES) {
        let c = parse_command(cmd).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        black_box(c);
        r.bench(
            &format!("parse.{name}"),
            "command",
            1,
            cmd.len() as u64,
            || parse_command(black_box(cmd)),
        );
    }
    let total: u64 = COMMANDS.iter().map(|c| c.len() as u64).sum();
    r.bench("parse.mix5", "command", 5, total, || {
        for cmd in COMMANDS {
            black_box(parse_command(black_box(cmd)).is_ok());
        }
    });

    // Framing over an in-memory stream holding the five commands back to back; the LOGIN's
    // literals make read_command write (to a sink) and flush two continuation requests.
    let stream: Vec<u8> = COMMANDS.concat();
    let limits = FrameLimits::AUTHENTICATED;
    let frame_all = |parse: bool| {
        let mut reader = Cursor::new(black_box(&stream[..]));
        let mut writer = io::sink();
        let mut io = Joined {
            reader: &mut reader,
            writer: &mut writer,
        };
        let mut n = 0;
        for _ in 0..COMMANDS.len() {
            let frame = read_command(&mut io, &limits).expect("framing");
            if parse {
                n += usize::from(parse_command(&frame).is_ok());
            } else {
                n += frame.len();
            }
        }
        n
    };
    assert_eq!(
        frame_all(false),
        stream.len(),
        "framing must give back every byte"
    );
    assert_eq!(
        frame_all(true),
        COMMANDS.len(),
        "every framed command must parse"
    );
    r.bench("frame.read_command.mix5", "command", 5, total, || {
        frame_all(false)
    });
    r.bench("frame_parse.mix5", "command", 5, total, || frame_all(true));
}

fn bench_mime(r: &mut Runner) {
    let messages: [(&str, Vec<u8>); 4] = [
        ("plain", message_plain()),
        ("alternative", message_alternative()),
        ("mixed_attachment", message_mixed_attachment()),
        ("nested_forward", message_forward()),
    ];
    // Check that the inputs have the structure their names promise.
    let expect: [(&str, bool); 4] = [
        ("(\"TEXT\" \"PLAIN\"", false),
        ("\"ALTERNATIVE\"", false),
        ("\"MIXED\"", true),
        ("\"RFC822\"", false),
    ];
    for ((name, m), (needle, attachment)) in messages.iter().zip(expect) {
        let a = mime::analyze(m);
        let bs = String::from_utf8_lossy(&a.body_structure).to_ascii_uppercase();
        assert!(bs.contains(needle), "{name}: {bs}");
        assert!(
            !a.envelope.is_empty() && a.sent_date.is_some(),
            "{name}: envelope/date"
        );
        assert_eq!(a.has_attachment, attachment, "{name}: has_attachment");
    }
    for (name, m) in &messages {
        r.bench(
            &format!("mime.analyze.{name}"),
            "message",
            1,
            m.len() as u64,
            || mime::analyze(black_box(m)),
        );
    }
    let total: u64 = messages.iter().map(|(_, m)| m.len() as u64).sum();
    r.bench("mime.analyze.mix4", "message", 4, total, || {
        for (_, m) in &messages {
            black_box(mime::analyze(black_box(m)));
        }
    });

    // The content index's cutting of a message's folded text into each field's distinct words
    // (ContentRow::new): on the ingest's preparing threads, a quarter of their time.
    let folded: Vec<text::SearchText> = messages
        .iter()
        .map(|(_, m)| text::extract(m).folded())
        .collect();
    let text_bytes: u64 = folded
        .iter()
        .map(|t| (t.headers.len() + t.body.len()) as u64)
        .sum();
    assert!(
        folded
            .iter()
            .all(|t| !ContentRow::new(t.clone()).text().body.is_empty()),
        "every message has body text"
    );
    r.bench("content.row.mix4", "message", 4, text_bytes, || {
        for t in &folded {
            black_box(ContentRow::new(black_box(t.clone())));
        }
    });

    // BODY[1.2]: the HTML alternative inside the multipart/mixed message.
    let mixed = &messages[2].1;
    let html = Section {
        part: vec![1, 2],
        text: None,
    };
    let got = mime::section(mixed, &html).expect("BODY[1.2] exists");
    assert!(got.starts_with(b"<html>"), "BODY[1.2] is the HTML part");
    r.bench(
        "mime.section.body_1_2",
        "fetch",
        1,
        mixed.len() as u64,
        || mime::section(black_box(mixed), black_box(&html)).map(|c| c.len()),
    );

    // BODY.PEEK[HEADER.FIELDS (...)] as in the UID FETCH above, on the forward's root.
    let fwd = &messages[3].1;
    let fields = Section {
        part: vec![],
        text: Some(SectionText::HeaderFields(
            [
                "DATE",
                "FROM",
                "TO",
                "CC",
                "SUBJECT",
                "MESSAGE-ID",
                "IN-REPLY-TO",
                "REFERENCES",
                "CONTENT-TYPE",
                "X-PRIORITY",
            ]
            .map(String::from)
            .to_vec(),
        )),
    };
    let got = mime::section(fwd, &fields).expect("HEADER.FIELDS");
    assert!(
        got.starts_with(b"From: Dave") && got.ends_with(b"\r\n\r\n"),
        "HEADER.FIELDS"
    );
    r.bench(
        "mime.section.header_fields",
        "fetch",
        1,
        fwd.len() as u64,
        || mime::section(black_box(fwd), black_box(&fields)).map(|c| c.len()),
    );
}

fn bench_sequence(r: &mut Runner) {
    let t = Instant::now();
    let v = view(100_000);
    let built = t.elapsed();
    let largest_uid = v.largest_uid();
    let thousand = thousand_ranges();
    let sets: [(&str, &str, Addressing, usize); 6] = [
        ("seq.all", "1:*", Addressing::Sequence, 100_000),
        (
            "seq.mixed",
            "1,3,5:100,200:*",
            Addressing::Sequence,
            2 + 96 + 99_801,
        ),
        ("seq.1000_ranges", &thousand, Addressing::Sequence, 50_000),
        ("uid.all", "1:*", Addressing::Uid, 100_000),
        ("uid.mixed", "1,3,5:100,200:*", Addressing::Uid, 0), // checked below
        ("uid.1000_ranges", &thousand, Addressing::Uid, 0),
    ];
    for (name, text, addressing, expect) in sets {
        let set = SequenceSet::parse(text.as_bytes()).expect("set parses");
        let got = v.resolve(&set, addressing).expect("set resolves").len();
        if expect > 0 {
            assert_eq!(got, expect, "{name}");
        } else {
            // UID sets: count the view's UIDs inside the set's ranges, by a merge walk.
            let ranges: Vec<_> = set.ranges(largest_uid).collect();
            let mut k = 0;
            let mut want = 0;
            for e in v.entries() {
                while k < ranges.len() && *ranges[k].end() < e.uid {
                    k += 1;
                }
                want += usize::from(ranges.get(k).is_some_and(|r| r.contains(&e.uid)));
            }
            assert_eq!(got, want, "{name}");
        }
        r.bench(&format!("view.resolve.{name}"), "resolve", 1, 0, || {
            v.resolve(black_box(&set), addressing).map(|x| x.len())
        });
    }
    for (name, text) in [
        ("all", "1:*"),
        ("mixed", "1,3,5:100,200:*"),
        ("1000_ranges", thousand.as_str()),
    ] {
        r.bench(
            &format!("seqset.parse.{name}"),
            "set",
            1,
            text.len() as u64,
            || SequenceSet::parse(black_box(text.as_bytes())).map(|s| s.as_ranges().len()),
        );
    }
    if !r.full {
        println!(
            "SMOKE view_build entries=100000 ms={:.1}",
            built.as_secs_f64() * 1e3
        );
    }
}

fn bench_search(r: &mut Runner) {
    for (name, cmd) in SEARCHES {
        let c = parse_command(cmd).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(
            matches!(c.body, CommandBody::Search { .. }),
            "{name} is a SEARCH"
        );
        r.bench(
            &format!("search.parse.{name}"),
            "command",
            1,
            cmd.len() as u64,
            || parse_command(black_box(cmd)),
        );
    }

    // What the server does to each text key before touching the index: decode the needle
    // from the command's charset, fold it (search.rs `text_test`), and cut it into the runs
    // the vocabulary is asked for (`Index::content_candidates` → `needle_words`).
    let needles: [(&str, &[u8]); 5] = [
        ("subject_ascii", b"Quarterly Report"),
        ("from_latin", "J\u{fc}rgen M\u{fc}ller".as_bytes()),
        (
            "text_cyrillic",
            "\u{41e}\u{442}\u{447}\u{451}\u{442} \u{437}\u{430} \u{43c}\u{430}\u{440}\u{442}"
                .as_bytes(),
        ),
        (
            "body_japanese",
            "\u{4f1a}\u{8b70}\u{306e}\u{8b70}\u{4e8b}\u{9332}".as_bytes(),
        ),
        (
            "body_long_phrase",
            b"please review the attached figures before Friday and send the approved draft",
        ),
    ];
    let prepare = |needle: &[u8]| {
        let folded = text::fold(&text::decode_charset(b"utf-8", needle));
        needle_words(&folded).probes.len()
    };
    for (name, needle) in needles {
        assert!(prepare(needle) >= 1, "{name}: no lookups");
        let folded = text::fold(&text::decode_charset(b"utf-8", needle));
        r.bench(
            &format!("search.needle_words.{name}"),
            "query",
            1,
            0,
            || needle_words(black_box(&folded)).probes.len(),
        );
        r.bench(&format!("search.needle.{name}"), "key", 1, 0, || {
            prepare(black_box(needle))
        });
    }
    // The `* SEARCH` line of a common word (40 % of 1,000,000 messages): the numbers written
    // out (`encode::write_number_list`, as search.rs `write_answer` does).
    let uids: Vec<u32> = (1..=1_000_000u32).filter(|u| u % 5 < 2).collect();
    r.bench(
        "search.answer.uids400k",
        "uid",
        uids.len() as u64,
        0,
        || {
            let mut line = Vec::with_capacity(uids.len() * 8);
            encode::write_number_list(&mut line, black_box(&uids).iter().copied());
            line.len()
        },
    );
}

fn bench_sort(r: &mut Runner) {
    // The keys SORT and THREAD store per message, computed at ingest (`mime::sort::keys`).
    let messages = [message_plain(), message_forward()];
    for (name, m) in ["plain", "nested_forward"].iter().zip(&messages) {
        let k = mime::sort::keys(m);
        assert!(!k.subject.is_empty() && !k.from.is_empty(), "{name}: {k:?}");
        r.bench(
            &format!("sort.keys.{name}"),
            "message",
            1,
            m.len() as u64,
            || mime::sort::keys(black_box(m)),
        );
    }
    let decorated = "[list] Re: Fwd: Re[2]: [fwd: Quarterly R\u{e9}port des Gesch\u{e4}fts (fwd)]";
    assert_eq!(
        mime::sort::base_subject(decorated).0,
        "Quarterly R\u{e9}port des Gesch\u{e4}fts"
    );
    r.bench("sort.base_subject.decorated", "subject", 1, 0, || {
        mime::sort::base_subject(black_box(decorated))
    });
    r.bench("sort.casemap.latin", "subject", 1, 0, || {
        mime::sort::casemap(black_box("Quarterly R\u{e9}port des Gesch\u{e4}fts"))
    });

    // THREAD=REFERENCES over 10,000 messages in threads of 1 to 8 (parents 1 to 3 back),
    // a tenth of them referring to a message outside the set (a dummy).
    let n = 10_000;
    let ids: Vec<String> = (0..n).map(|i| format!("m{i}@example.org")).collect();
    let subjects: Vec<String> = (0..n).map(|i| format!("topic {}", i / 8)).collect();
    let refs: Vec<Vec<String>> = (0..n)
        .map(|i| match i % 8 {
            0 if i % 80 == 0 => vec![format!("gone{i}@example.org")],
            0 => vec![],
            k => vec![ids[i - 1 - (i * 7) % k.min(3)].clone()],
        })
        .collect();
    let msgs: Vec<ThreadMsg<'_>> = (0..n)
        .map(|i| ThreadMsg {
            sent: 1_700_000_000 + (i as i64 * 37) % 100_000,
            subject: &subjects[i],
            reply: i % 8 != 0,
            message_id: Some(&ids[i]),
            references: &refs[i],
        })
        .collect();
    let far = Instant::now() + Duration::from_secs(3600);
    let numbers: Vec<u32> = (1..=n as u32).collect();
    let mut line = String::new();
    thread::write_threads(
        &mut line,
        &thread::references(&msgs, far).expect("in time"),
        &numbers,
    );
    assert_eq!(line.matches('(').count(), line.matches(')').count());
    r.bench("thread.references.10k", "thread", 1, 0, || {
        thread::references(black_box(&msgs), far).map(|f| {
            let mut line = String::with_capacity(80_000);
            thread::write_threads(&mut line, &f, &numbers);
            line.len()
        })
    });
    r.bench("thread.orderedsubject.10k", "thread", 1, 0, || {
        let f = thread::ordered_subject(black_box(&msgs));
        let mut line = String::with_capacity(80_000);
        thread::write_threads(&mut line, &f, &numbers);
        line.len()
    });
}

/// The sync window's queries (issue 5) on one mailbox holding `n` messages spread evenly over
/// ten years, 7-day window: STATUS counts over the window (`visible_counts`), the SELECT
/// snapshot of the window against the whole mailbox's, and the per-command departure check
/// when nothing left (`note_departures`). STATUS counts the smaller side of the edge, so its
/// worst case is an edge in the middle of the mailbox (`half_mailbox`); a window as wide as the
/// mailbox (`whole_mailbox`) costs about what a phone's week does.
fn bench_window(r: &mut Runner) {
    use imapvault::imap::window::DAY;
    use imapvault::import::ingest::Ingester;
    use imapvault::index::InternalDate;

    // Enough mail for the full run to mean something; few in the smoke run (debug build).
    let n: i64 = if r.full { 50_000 } else { 300 };
    let now: i64 = 2_000_000_000;
    let span = 10 * 365 * DAY;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut archive = imapvault::archive::Archive::open(&dir.path().join("a")).expect("archive");
    let (index, store) = archive.parts_mut();
    let user = index.add_user("u", "x").expect("user");
    let mut ingester = Ingester::new(index, store);
    let mailbox = ingester
        .index()
        .ensure_mailbox(user, "INBOX")
        .expect("mailbox");
    let t = Instant::now();
    for i in 0..n {
        let date = now - span + span * i / n;
        let raw = crlf(&format!(
            "From: a{i}@example.org\nTo: u@example.org\nSubject: message {i}\n\nBody {i}.\n"
        ));
        let internal = InternalDate {
            unix: date,
            tz_minutes: 0,
        };
        ingester
            .add(raw, mailbox, String::new(), Some(internal))
            .expect("ingest");
    }
    ingester.flush().expect("flush");
    drop(ingester);
    println!(
        "# window: {n} messages over 10 years imported in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let index = archive.open_index().expect("index");
    let edge = now - 7 * DAY;
    let in_window = index
        .visible_counts(mailbox, edge)
        .expect("counts")
        .messages;
    // 7 days of 10 years, give or take one message at each end.
    let expected = n * 7 / 3650;
    assert!(
        (in_window as i64 - expected).abs() <= 1,
        "{in_window} visible, about {expected} expected"
    );
    let all = index.visible_counts(mailbox, i64::MIN).expect("counts");
    assert_eq!(all.messages as i64, n);
    r.bench("window.status_counts.7_days", "status", 1, 0, || {
        index
            .visible_counts(mailbox, black_box(edge))
            .map(|c| c.messages)
    });
    // The worst case: the edge halves the mailbox, so either side is n / 2 messages.
    let half = now - span / 2;
    r.bench("window.status_counts.half_mailbox", "status", 1, 0, || {
        index
            .visible_counts(mailbox, black_box(half))
            .map(|c| c.messages)
    });
    r.bench("window.status_counts.whole_mailbox", "status", 1, 0, || {
        index
            .visible_counts(mailbox, black_box(i64::MIN))
            .map(|c| c.messages)
    });
    r.bench("window.select_entries.7_days", "select", 1, 0, || {
        index
            .mailbox_entries_since(mailbox, black_box(Some(edge)))
            .map(|e| e.len())
    });
    r.bench("window.select_entries.no_window", "select", 1, 0, || {
        index
            .mailbox_entries_since(mailbox, black_box(None))
            .map(|e| e.len())
    });
    // The first call notes the departures of ten years; the rest find nothing new.
    index.note_departures(mailbox, edge).expect("note");
    r.bench("window.note_departures.nothing_left", "check", 1, 0, || {
        index.note_departures(mailbox, black_box(edge))
    });
}

fn main() {
    let mut r = Runner::from_args();
    let t = Instant::now();
    if r.full {
        println!(
            "# micro: full run, {:.1} s per benchmark, {} CPUs",
            r.seconds,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    bench_parse(&mut r);
    bench_mime(&mut r);
    bench_sequence(&mut r);
    bench_search(&mut r);
    bench_sort(&mut r);
    bench_window(&mut r);
    println!(
        "# micro: {} benchmarks, {} run, {:.2} s",
        r.ran,
        if r.full { "full" } else { "smoke" },
        t.elapsed().as_secs_f64()
    );
}
