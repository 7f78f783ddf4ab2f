//! Parser tests: RFC example commands (`C:` lines), every command form, round trips, and
//! adversarial input.

use super::*;
use crate::imap::sequence::{SeqNumber, SeqRange};

fn ok(s: &str) -> CommandBody {
    match parse_command(s.as_bytes()) {
        Ok(c) => c.body,
        Err(e) => panic!("{s:?}: {e}"),
    }
}

fn ok_bytes(s: &[u8]) -> CommandBody {
    match parse_command(s) {
        Ok(c) => c.body,
        Err(e) => panic!("{:?}: {e}", String::from_utf8_lossy(s)),
    }
}

fn err(s: &[u8]) -> ParseError {
    match parse_command(s) {
        Ok(c) => panic!("{:?} parsed as {c:?}", String::from_utf8_lossy(s)),
        Err(e) => e,
    }
}

fn mbox(s: &str) -> Mailbox {
    Mailbox::new(s.as_bytes().to_vec()).unwrap()
}

fn astr(s: &str) -> AString {
    AString::new(s.as_bytes().to_vec()).unwrap()
}

fn set(s: &str) -> SequenceArg {
    SequenceArg::Set(SequenceSet::parse(s.as_bytes()).unwrap())
}

fn date(y: u16, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

// ---- RFC 3501 §8 sample session and §6 examples ------------------------------------------

#[test]
fn rfc3501_section8_session() {
    let c = parse_command(b"a001 login mrc secret\r\n").unwrap();
    assert_eq!(c.tag.as_str(), "a001");
    assert_eq!(
        c.body,
        CommandBody::Login {
            username: astr("mrc"),
            password: astr("secret")
        }
    );
    assert_eq!(
        ok("a002 select inbox"),
        CommandBody::Select {
            access: SelectAccess::ReadWrite,
            mailbox: mbox("inbox"),
            params: vec![]
        }
    );
    assert_eq!(
        ok("a003 fetch 12 full"),
        CommandBody::Fetch {
            addressing: Addressing::Sequence,
            set: set("12"),
            items: FetchItems::Full,
            modifiers: FetchModifiers::default()
        }
    );
    assert_eq!(
        ok("a004 fetch 12 body[header]"),
        CommandBody::Fetch {
            addressing: Addressing::Sequence,
            set: set("12"),
            items: FetchItems::Attributes(vec![FetchAttribute::BodySection {
                seen: SeenPolicy::MarkSeen,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::Header)
                },
                partial: None
            }]),
            modifiers: FetchModifiers::default()
        }
    );
    assert_eq!(
        ok("a005 store 12 +flags \\deleted"),
        CommandBody::Store {
            addressing: Addressing::Sequence,
            set: set("12"),
            action: StoreAction {
                kind: StoreKind::Add,
                response: StoreResponse::Answer,
                flags: vec![Flag::Deleted]
            },
            unchanged_since: None
        }
    );
    assert_eq!(ok("a006 logout"), CommandBody::Logout);
}

#[test]
fn rfc3501_section6_examples() {
    assert_eq!(ok("abcd CAPABILITY"), CommandBody::Capability);
    assert_eq!(ok("a002 NOOP"), CommandBody::Noop);
    assert_eq!(ok("a002 STARTTLS"), CommandBody::StartTls);
    assert_eq!(ok("A341 CLOSE"), CommandBody::Close);
    assert_eq!(ok("FXXZ CHECK"), CommandBody::Check);
    assert_eq!(ok("A202 EXPUNGE"), CommandBody::Expunge);
    assert!(matches!(
        ok("a001 AUTHENTICATE GSSAPI"),
        CommandBody::Authenticate {
            initial_response: None,
            ..
        }
    ));
    assert_eq!(
        ok("A932 EXAMINE blurdybloop"),
        CommandBody::Select {
            access: SelectAccess::ReadOnly,
            mailbox: mbox("blurdybloop"),
            params: vec![]
        }
    );
    assert_eq!(
        ok("A003 CREATE owatagusiam/"),
        CommandBody::Create {
            mailbox: mbox("owatagusiam/"),
            special_use: vec![]
        }
    );
    assert_eq!(
        ok("A683 DELETE blurdybloop"),
        CommandBody::Delete(mbox("blurdybloop"))
    );
    assert_eq!(
        ok("A683 RENAME blurdybloop sarasoop"),
        CommandBody::Rename {
            from: mbox("blurdybloop"),
            to: mbox("sarasoop")
        }
    );
    assert_eq!(
        ok("A002 SUBSCRIBE #news.comp.mail.mime"),
        CommandBody::Subscribe(mbox("#news.comp.mail.mime"))
    );
    assert_eq!(
        ok("A002 UNSUBSCRIBE #news.comp.mail.mime"),
        CommandBody::Unsubscribe(mbox("#news.comp.mail.mime"))
    );
    let CommandBody::List(l) = ok("A101 LIST \"\" \"\"") else {
        panic!()
    };
    assert_eq!(l.reference, mbox(""));
    assert_eq!(l.patterns, vec![ListMailbox::new(vec![]).unwrap()]);
    assert!(!l.is_extended());
    let CommandBody::List(l) = ok("A202 LIST ~/Mail/ %") else {
        panic!()
    };
    assert_eq!(l.reference, mbox("~/Mail/"));
    assert_eq!(l.patterns[0].as_bytes(), b"%");
    let CommandBody::List(l) = ok("A102 LIST #news.comp.mail.misc \"\"") else {
        panic!()
    };
    assert_eq!(l.reference, mbox("#news.comp.mail.misc"));
    assert_eq!(
        ok("A002 LSUB \"#news.\" \"comp.mail.*\""),
        CommandBody::Lsub {
            reference: mbox("#news."),
            pattern: ListMailbox::new(b"comp.mail.*".to_vec()).unwrap()
        }
    );
    assert_eq!(
        ok("A042 STATUS blurdybloop (UIDNEXT MESSAGES)"),
        CommandBody::Status {
            mailbox: mbox("blurdybloop"),
            items: vec![StatusItem::UidNext, StatusItem::Messages]
        }
    );
    assert_eq!(
        ok("A003 COPY 2:4 MEETING"),
        CommandBody::Copy {
            addressing: Addressing::Sequence,
            set: set("2:4"),
            mailbox: mbox("MEETING")
        }
    );
    assert!(matches!(
        ok("A999 UID FETCH 4827313:4828442 FLAGS"),
        CommandBody::Fetch {
            addressing: Addressing::Uid,
            ..
        }
    ));
}

#[test]
fn rfc3501_search_examples() {
    let CommandBody::Search {
        charset,
        criteria,
        ret,
        ..
    } = ok("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"")
    else {
        panic!()
    };
    assert_eq!(charset, None);
    assert_eq!(ret, None);
    assert_eq!(
        criteria,
        SearchKey::And(vec![
            SearchKey::Flagged,
            SearchKey::Since(date(1994, 2, 1)),
            SearchKey::Not(Box::new(SearchKey::From(astr("Smith"))))
        ])
    );
    assert!(matches!(
        ok("A283 SEARCH TEXT \"string not in mailbox\""),
        CommandBody::Search {
            criteria: SearchKey::Text(_),
            ..
        }
    ));
    // RFC 3501 §6.4.4: CHARSET with a literal of 8-bit text.
    let cmd = b"A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n";
    let CommandBody::Search {
        charset, criteria, ..
    } = ok_bytes(cmd)
    else {
        panic!()
    };
    assert_eq!(charset, Some(astr("UTF-8")));
    assert_eq!(criteria, SearchKey::Text(astr("XXXXXX")));
}

#[test]
fn rfc3501_fetch_store_examples() {
    let CommandBody::Fetch { items, set: s, .. } =
        ok("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
    else {
        panic!()
    };
    assert_eq!(s, set("2:4"));
    assert_eq!(
        items,
        FetchItems::Attributes(vec![
            FetchAttribute::Flags,
            FetchAttribute::BodySection {
                seen: SeenPolicy::MarkSeen,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields(vec![
                        "DATE".into(),
                        "FROM".into()
                    ]))
                },
                partial: None
            }
        ])
    );
    let CommandBody::Store { action, .. } = ok("A003 STORE 2:4 +FLAGS (\\Deleted)") else {
        panic!()
    };
    assert_eq!(action.flags, vec![Flag::Deleted]);
    let CommandBody::Store { action, .. } =
        ok("A004 STORE 1 -FLAGS.SILENT \\Seen $Forwarded \\Recent")
    else {
        panic!()
    };
    assert_eq!(action.kind, StoreKind::Remove);
    assert_eq!(action.response, StoreResponse::Silent);
    assert_eq!(
        action.flags,
        vec![
            Flag::Seen,
            Flag::Keyword(Atom::new(b"$Forwarded").unwrap()),
            Flag::Extension(Atom::new(b"Recent").unwrap())
        ]
    );
    let CommandBody::Store { action, .. } = ok("A005 STORE 1 FLAGS ()") else {
        panic!()
    };
    assert_eq!((action.kind, action.flags.len()), (StoreKind::Replace, 0));
}

#[test]
fn rfc3501_append_example() {
    let msg = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\r\nHello Joe\r\n";
    let mut cmd = format!("A003 APPEND saved-messages (\\Seen) {{{}}}\r\n", msg.len()).into_bytes();
    cmd.extend_from_slice(msg);
    cmd.extend_from_slice(b"\r\n");
    let CommandBody::Append {
        mailbox,
        flags,
        date,
        message,
    } = ok_bytes(&cmd)
    else {
        panic!()
    };
    assert_eq!(mailbox, mbox("saved-messages"));
    assert_eq!(flags, vec![Flag::Seen]);
    assert_eq!(date, None);
    assert_eq!(message, AppendData::Text(msg.to_vec()));
}

#[test]
fn append_with_date_time_literal8_and_utf8() {
    let CommandBody::Append { date, message, .. } =
        ok_bytes(b"a APPEND INBOX \" 7-Feb-1994 21:52:25 -0800\" {3}\r\nabc\r\n")
    else {
        panic!()
    };
    let d = date.unwrap();
    assert_eq!(
        (d.date, d.hour, d.minute, d.second),
        (date_of(1994, 2, 7), 21, 52, 25)
    );
    assert_eq!(d.zone_minutes, -480);
    assert_eq!(d.to_string(), " 7-Feb-1994 21:52:25 -0800");
    assert_eq!(message.bytes(), b"abc");
    let CommandBody::Append { message, flags, .. } =
        ok_bytes(b"a APPEND INBOX () ~{3}\r\na\0c\r\n")
    else {
        panic!()
    };
    assert!(flags.is_empty());
    assert_eq!(message, AppendData::Binary(b"a\0c".to_vec()));
    let CommandBody::Append { message, .. } = ok_bytes(b"a APPEND INBOX UTF8 (~{3+}\r\nabc)\r\n")
    else {
        panic!()
    };
    assert_eq!(message, AppendData::Utf8(b"abc".to_vec()));
    // NUL is not allowed in a plain literal.
    let e = err(b"a APPEND INBOX {3}\r\na\0c\r\n");
    assert!(matches!(e.kind, ParseErrorKind::Literal(_)));
    // A literal8 outside APPEND is refused.
    assert!(matches!(
        err(b"a LOGIN ~{1}\r\na b").kind,
        ParseErrorKind::Literal(_)
    ));
}

fn date_of(y: u16, m: u8, d: u8) -> Date {
    date(y, m, d)
}

// ---- RFC 9051 / 4731 / 5182 search return options ----------------------------------------

#[test]
fn esearch_and_searchres() {
    let CommandBody::Search { ret, .. } =
        ok("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"")
    else {
        panic!()
    };
    assert_eq!(
        ret,
        Some(vec![SearchReturnOption::Min, SearchReturnOption::Count])
    );
    let CommandBody::Search { ret, .. } =
        ok("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"")
    else {
        panic!()
    };
    assert_eq!(ret, Some(vec![SearchReturnOption::All]));
    let CommandBody::Search {
        ret,
        addressing,
        criteria,
        ..
    } = ok("B283 UID SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM \"Smith\"")
    else {
        panic!()
    };
    assert_eq!(addressing, Addressing::Uid);
    assert_eq!(ret, Some(vec![SearchReturnOption::Save]));
    assert!(matches!(criteria, SearchKey::And(_)));
    assert!(matches!(
        ok("A284 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)"),
        CommandBody::Fetch {
            set: SequenceArg::SavedResult,
            ..
        }
    ));
    let CommandBody::Search { criteria, .. } = ok("A285 SEARCH $ SMALLER 4096") else {
        panic!()
    };
    assert_eq!(
        criteria,
        SearchKey::And(vec![
            SearchKey::SequenceSet(SequenceArg::SavedResult),
            SearchKey::Smaller(4096)
        ])
    );
    assert!(matches!(
        ok("A286 UID SEARCH UID $"),
        CommandBody::Search {
            criteria: SearchKey::Uid(SequenceArg::SavedResult),
            ..
        }
    ));
    assert!(matches!(
        ok("A287 UID COPY $ Other"),
        CommandBody::Copy {
            set: SequenceArg::SavedResult,
            ..
        }
    ));
}

#[test]
fn every_search_key() {
    let q = "S SEARCH ALL ANSWERED BCC a BEFORE 1-Jan-2000 BODY b CC c DELETED DRAFT FLAGGED \
             FROM d HEADER X-Spam yes KEYWORD $Junk LARGER 10 NEW NOT SEEN OLD ON 29-Feb-2000 \
             OR SEEN UNSEEN RECENT SEEN SENTBEFORE 2-Jan-2000 SENTON 3-Jan-2000 \
             SENTSINCE \"4-Jan-2000\" SINCE 5-jan-2000 SMALLER 20 SUBJECT e TEXT f TO g \
             UID 1:*,5 UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $Junk UNSEEN 1,2:3 \
             MODSEQ 0 MODSEQ \"/flags/\\\\draft\" all 620162338 OLDER 3600 YOUNGER 60 \
             EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9 (SEEN FLAGGED) (DRAFT)";
    let CommandBody::Search {
        criteria: SearchKey::And(keys),
        ..
    } = ok(q)
    else {
        panic!()
    };
    use SearchKey as K;
    let expected = vec![
        K::All,
        K::Answered,
        K::Bcc(astr("a")),
        K::Before(date(2000, 1, 1)),
        K::Body(astr("b")),
        K::Cc(astr("c")),
        K::Deleted,
        K::Draft,
        K::Flagged,
        K::From(astr("d")),
        K::Header(astr("X-Spam"), astr("yes")),
        K::Keyword(Atom::new(b"$Junk").unwrap()),
        K::Larger(10),
        K::New,
        K::Not(Box::new(K::Seen)),
        K::Old,
        K::On(date(2000, 2, 29)),
        K::Or(Box::new(K::Seen), Box::new(K::Unseen)),
        K::Recent,
        K::Seen,
        K::SentBefore(date(2000, 1, 2)),
        K::SentOn(date(2000, 1, 3)),
        K::SentSince(date(2000, 1, 4)),
        K::Since(date(2000, 1, 5)),
        K::Smaller(20),
        K::Subject(astr("e")),
        K::Text(astr("f")),
        K::To(astr("g")),
        K::Uid(set("1:*,5")),
        K::Unanswered,
        K::Undeleted,
        K::Undraft,
        K::Unflagged,
        K::Unkeyword(Atom::new(b"$Junk").unwrap()),
        K::Unseen,
        K::SequenceSet(set("1,2:3")),
        K::ModSeq {
            entry: None,
            mod_seq: 0,
        },
        K::ModSeq {
            entry: Some((astr("/flags/\\draft"), EntryType::All)),
            mod_seq: 620162338,
        },
        K::Older(nz(3600)),
        K::Younger(nz(60)),
        K::EmailId(ObjectId::new(b"M6d99ac3275bb4e").unwrap()),
        K::ThreadId(ObjectId::new(b"T64b478a75b7ea9").unwrap()),
        K::And(vec![K::Seen, K::Flagged]),
        K::Draft,
    ];
    assert_eq!(keys, expected);
}

#[test]
fn search_key_errors() {
    for bad in [
        "S SEARCH",
        "S SEARCH FOO",
        "S SEARCH BEFORE 30-Feb-2000",
        "S SEARCH BEFORE 1-Foo-2000",
        "S SEARCH BEFORE 1-Jan-20",
        "S SEARCH LARGER 4294967296",
        "S SEARCH OLDER 0",
        "S SEARCH OR SEEN",
        "S SEARCH (SEEN",
        "S SEARCH ()",
        "S SEARCH SEEN  UNSEEN",
        "S SEARCH MODSEQ 9223372036854775808",
        "S SEARCH EMAILID bad!id",
        "S SEARCH CHARSET",
        "S SEARCH RETURN (FOO) ALL",
        "S SEARCH HEADER X",
        "S SEARCH 0",
        "S SEARCH KEYWORD \\Seen",
    ] {
        let e = err(bad.as_bytes());
        assert_eq!(e.tag.as_ref().map(Tag::as_str), Some("S"), "{bad}");
    }
}

// ---- LIST-EXTENDED, LIST-STATUS, SPECIAL-USE ----------------------------------------------

fn list(s: &str) -> ListCommand {
    match ok(s) {
        CommandBody::List(l) => l,
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc5258_list_examples() {
    let l = list("A01 LIST \"\" % RETURN (CHILDREN)");
    assert_eq!(l.return_options, vec![ListReturnOption::Children]);
    assert!(l.is_extended());
    let l = list("A02 LIST (SUBSCRIBED) \"\" \"*\"");
    assert_eq!(l.selection, vec![ListSelectOption::Subscribed]);
    let l = list("A03 LIST () \"\" \"%\" RETURN (CHILDREN)");
    assert!(l.selection.is_empty());
    let l = list("A04 LIST (REMOTE SUBSCRIBED) \"\" \"*\"");
    assert_eq!(
        l.selection,
        vec![ListSelectOption::Remote, ListSelectOption::Subscribed]
    );
    let l = list("A06 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)");
    assert_eq!(l.selection.len(), 2);
    let l = list("A09 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")");
    assert_eq!(l.patterns.len(), 3);
    assert_eq!(l.patterns[2].as_bytes(), b"Sent/%");
    // RFC 5258 §3.1: RECURSIVEMATCH alone is BAD.
    assert!(matches!(
        err(b"A10 LIST (RECURSIVEMATCH) \"\" %").kind,
        ParseErrorKind::Invalid(_)
    ));
    assert!(parse_command(b"A11 LIST (BOGUS) \"\" %").is_err());
    assert!(parse_command(b"A12 LIST \"\" % RETURN").is_err());
}

#[test]
fn rfc5819_rfc6154_list() {
    let l = list("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))");
    assert_eq!(
        l.return_options,
        vec![ListReturnOption::Status(vec![
            StatusItem::Messages,
            StatusItem::Unseen
        ])]
    );
    let l = list("t1 LIST (SPECIAL-USE) \"\" \"*\" RETURN (SPECIAL-USE SUBSCRIBED STATUS (SIZE))");
    assert_eq!(l.selection, vec![ListSelectOption::SpecialUse]);
    assert_eq!(l.return_options.len(), 3);
    assert_eq!(
        ok("t3 CREATE MySpecial (USE (\\Drafts \\Sent))"),
        CommandBody::Create {
            mailbox: mbox("MySpecial"),
            special_use: vec![
                Flag::Extension(Atom::new(b"Drafts").unwrap()),
                Flag::Extension(Atom::new(b"Sent").unwrap())
            ]
        }
    );
}

#[test]
fn status_every_item() {
    let CommandBody::Status { items, .. } = ok(
        "s STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ \
         APPENDLIMIT MAILBOXID)",
    ) else {
        panic!()
    };
    assert_eq!(items.len(), 10);
    assert!(parse_command(b"s STATUS INBOX ()").is_err());
    assert!(parse_command(b"s STATUS INBOX (FOO)").is_err());
    assert!(parse_command(b"s STATUS INBOX").is_err());
}

// ---- CONDSTORE / QRESYNC (RFC 7162) --------------------------------------------------------

#[test]
fn rfc7162_examples() {
    assert_eq!(
        ok("a SELECT INBOX (CONDSTORE)"),
        CommandBody::Select {
            access: SelectAccess::ReadWrite,
            mailbox: mbox("INBOX"),
            params: vec![SelectParam::CondStore]
        }
    );
    let CommandBody::Store {
        unchanged_since,
        action,
        addressing,
        ..
    } = ok("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)")
    else {
        panic!()
    };
    assert_eq!(addressing, Addressing::Uid);
    assert_eq!(unchanged_since, Some(12121230045));
    assert_eq!(action.response, StoreResponse::Silent);
    let CommandBody::Fetch { modifiers, .. } =
        ok("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")
    else {
        panic!()
    };
    assert_eq!(modifiers.changed_since.map(NonZeroU64::get), Some(12345));
    assert_eq!(modifiers.vanished, Vanished::Omit);
    let CommandBody::Fetch { modifiers, .. } =
        ok("s101 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
    else {
        panic!()
    };
    assert_eq!(modifiers.vanished, Vanished::Report);
    // VANISHED needs UID FETCH and CHANGEDSINCE.
    assert!(matches!(
        err(b"s102 FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)").kind,
        ParseErrorKind::Invalid(_)
    ));
    assert!(parse_command(b"s103 UID FETCH 1:* (FLAGS) (VANISHED)").is_err());
    assert!(parse_command(b"s104 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)").is_err());

    let CommandBody::Select { params, .. } =
        ok("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))")
    else {
        panic!()
    };
    let [SelectParam::QResync(q)] = params.as_slice() else {
        panic!()
    };
    assert_eq!(q.uid_validity.get(), 67890007);
    assert_eq!(q.mod_seq.get(), 20050715194045000);
    assert_eq!(
        q.known_uids.as_ref().unwrap().to_string(),
        "41,43:211,214:541"
    );
    assert_eq!(q.seq_match, None);
    let CommandBody::Select { params, .. } =
        ok("B04 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29 (5,7,9 117,1102,2010)))")
    else {
        panic!()
    };
    let [SelectParam::QResync(q)] = params.as_slice() else {
        panic!()
    };
    let (seqs, uids) = q.seq_match.as_ref().unwrap();
    assert_eq!(
        (seqs.to_string(), uids.to_string()),
        ("5,7,9".into(), "117,1102,2010".into())
    );
    assert!(parse_command(b"a SELECT INBOX (QRESYNC (1 2 1:*))").is_err());
    assert!(parse_command(b"a SELECT INBOX (QRESYNC (0 2))").is_err());
    assert!(parse_command(b"a SELECT INBOX (BOGUS)").is_err());
    let CommandBody::Search { criteria, .. } =
        ok("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338")
    else {
        panic!()
    };
    assert!(matches!(
        criteria,
        SearchKey::ModSeq {
            entry: Some(_),
            mod_seq: 620162338
        }
    ));
}

// ---- FETCH attributes ----------------------------------------------------------------------

fn fetch_atts(s: &str) -> Vec<FetchAttribute> {
    match ok(s) {
        CommandBody::Fetch {
            items: FetchItems::Attributes(a),
            ..
        } => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_fetch_attribute() {
    use FetchAttribute as A;
    let atts = fetch_atts(
        "f FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE UID MODSEQ \
         EMAILID THREADID RFC822 RFC822.HEADER RFC822.TEXT BODY[] BODY.PEEK[TEXT]<0.2048> \
         body.peek[1.2.HEADER.FIELDS.NOT (Received X-Spam)] BODY[1.MIME] BODY[3] \
         BINARY[1.2]<10.20> BINARY.PEEK[] BINARY.SIZE[4] PREVIEW PREVIEW (LAZY))",
    );
    let peek = SeenPolicy::Peek;
    let mark = SeenPolicy::MarkSeen;
    let expected = vec![
        A::Flags,
        A::InternalDate,
        A::Rfc822Size,
        A::Envelope,
        A::Body,
        A::BodyStructure,
        A::Uid,
        A::ModSeq,
        A::EmailId,
        A::ThreadId,
        A::Rfc822,
        A::Rfc822Header,
        A::Rfc822Text,
        A::BodySection {
            seen: mark,
            section: Section::default(),
            partial: None,
        },
        A::BodySection {
            seen: peek,
            section: Section {
                part: vec![],
                text: Some(SectionText::Text),
            },
            partial: Some(Partial {
                offset: 0,
                length: nz(2048),
            }),
        },
        A::BodySection {
            seen: peek,
            section: Section {
                part: vec![1, 2],
                text: Some(SectionText::HeaderFieldsNot(vec![
                    "Received".into(),
                    "X-Spam".into(),
                ])),
            },
            partial: None,
        },
        A::BodySection {
            seen: mark,
            section: Section {
                part: vec![1],
                text: Some(SectionText::Mime),
            },
            partial: None,
        },
        A::BodySection {
            seen: mark,
            section: Section {
                part: vec![3],
                text: None,
            },
            partial: None,
        },
        A::Binary {
            seen: mark,
            part: vec![1, 2],
            partial: Some(Partial {
                offset: 10,
                length: nz(20),
            }),
        },
        A::Binary {
            seen: peek,
            part: vec![],
            partial: None,
        },
        A::BinarySize { part: vec![4] },
        A::Preview(PreviewMode::Compute),
        A::Preview(PreviewMode::Lazy),
    ];
    assert_eq!(atts, expected);
}

#[test]
fn fetch_macros_single_items_and_modifier_ambiguity() {
    assert!(matches!(
        ok("f FETCH 1 ALL"),
        CommandBody::Fetch {
            items: FetchItems::All,
            ..
        }
    ));
    assert!(matches!(
        ok("f FETCH 1 fast"),
        CommandBody::Fetch {
            items: FetchItems::Fast,
            ..
        }
    ));
    assert_eq!(FetchItems::Full.attributes().len(), 5);
    assert_eq!(
        fetch_atts("f FETCH 1 BODY[]"),
        fetch_atts("f FETCH 1 (BODY[])")
    );
    // "PREVIEW (CHANGEDSINCE ...)" is PREVIEW followed by fetch modifiers.
    let CommandBody::Fetch {
        items, modifiers, ..
    } = ok("f FETCH 1 PREVIEW (CHANGEDSINCE 7)")
    else {
        panic!()
    };
    assert_eq!(
        items,
        FetchItems::Attributes(vec![FetchAttribute::Preview(PreviewMode::Compute)])
    );
    assert_eq!(modifiers.changed_since.map(NonZeroU64::get), Some(7));
    assert_eq!(
        fetch_atts("f FETCH 1 PREVIEW (LAZY)"),
        vec![FetchAttribute::Preview(PreviewMode::Lazy)]
    );
}

#[test]
fn fetch_errors() {
    for bad in [
        "f FETCH 1 BODY[MIME]",
        "f FETCH 1 BODY[1.FOO]",
        "f FETCH 1 BODY[HEADER.FIELDS ()]",
        "f FETCH 1 BODY[HEADER.FIELDS (a:b)]",
        "f FETCH 1 BODY[0]",
        "f FETCH 1 BODY[]<0.0>",
        "f FETCH 1 BODY[]<1>",
        "f FETCH 1 BODY.PEEK",
        "f FETCH 1 BINARY[TEXT]",
        "f FETCH 1 BINARY.SIZE[]<0.1>",
        "f FETCH 1 ()",
        "f FETCH 1 (FLAGS",
        "f FETCH 1 FOO",
        "f FETCH 1",
        "f FETCH FLAGS",
        "f FETCH 0 FLAGS",
        "f FETCH 1 FLAGS (FOO 1)",
    ] {
        assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
    }
}

// ---- SORT, THREAD -----------------------------------------------------------------------

#[test]
fn rfc5256_sort_thread() {
    let CommandBody::Sort {
        criteria,
        charset,
        search,
        ret,
        ..
    } = ok("A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994")
    else {
        panic!()
    };
    assert_eq!(
        criteria,
        vec![SortCriterion {
            order: SortOrder::Ascending,
            key: SortKey::Subject
        }]
    );
    assert_eq!(charset, astr("UTF-8"));
    assert_eq!(search, SearchKey::Since(date(1994, 2, 1)));
    assert_eq!(ret, None);
    let CommandBody::Sort { criteria, .. } = ok("A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL")
    else {
        panic!()
    };
    assert_eq!(criteria[1].order, SortOrder::Reverse);
    let CommandBody::Sort {
        addressing,
        criteria,
        ..
    } = ok("A285 UID SORT (REVERSE DISPLAYFROM DISPLAYTO ARRIVAL CC FROM SIZE TO) US-ASCII ALL")
    else {
        panic!()
    };
    assert_eq!((addressing, criteria.len()), (Addressing::Uid, 7));
    let CommandBody::Sort { ret, .. } = ok("A282 SORT RETURN (MIN) (DATE) UTF-8 SUBJECT \"Test\"")
    else {
        panic!()
    };
    assert_eq!(ret, Some(vec![SearchReturnOption::Min]));
    assert!(
        parse_command(b"A SORT (SUBJECT) ALL").is_err(),
        "charset is mandatory"
    );
    assert!(parse_command(b"A SORT () UTF-8 ALL").is_err());
    assert!(parse_command(b"A SORT (REVERSE) UTF-8 ALL").is_err());

    let CommandBody::Thread { algorithm, .. } =
        ok("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000")
    else {
        panic!()
    };
    assert_eq!(algorithm, ThreadAlgorithm::OrderedSubject);
    let CommandBody::Thread {
        algorithm,
        addressing,
        ..
    } = ok("A284 UID THREAD REFERENCES US-ASCII TEXT \"gewp\"")
    else {
        panic!()
    };
    assert_eq!(
        (algorithm, addressing),
        (ThreadAlgorithm::References, Addressing::Uid)
    );
    assert!(matches!(
        ok("A285 THREAD X-OTHER UTF-8 ALL"),
        CommandBody::Thread {
            algorithm: ThreadAlgorithm::Other(_),
            ..
        }
    ));
}

// ---- Session-level commands ----------------------------------------------------------------

#[test]
fn auth_id_enable_and_friends() {
    assert_eq!(
        ok("a AUTHENTICATE plain AGJvYgBwdw=="),
        CommandBody::Authenticate {
            mechanism: Atom::new(b"PLAIN").unwrap(),
            initial_response: Some(InitialResponse::Base64(b"AGJvYgBwdw==".to_vec()))
        }
    );
    assert!(matches!(
        ok("a AUTHENTICATE PLAIN ="),
        CommandBody::Authenticate {
            initial_response: Some(InitialResponse::Empty),
            ..
        }
    ));
    assert!(parse_command(b"a AUTHENTICATE PLAIN AGJ").is_err());
    assert!(parse_command(b"a AUTHENTICATE PLAIN A===").is_err());

    let CommandBody::Id(Some(params)) =
        ok("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\" \"x\" NIL)")
    else {
        panic!()
    };
    assert_eq!(params.len(), 4);
    assert_eq!(params[3].value, None);
    assert_eq!(ok("a ID NIL"), CommandBody::Id(None));
    assert_eq!(ok("a ID ()"), CommandBody::Id(Some(vec![])));
    let many: String = (0..31).map(|i| format!("\"f{i}\" \"v\" ")).collect();
    assert!(matches!(
        err(format!("a ID ({})", many.trim_end()).as_bytes()).kind,
        ParseErrorKind::TooMany { .. }
    ));
    let long_field = format!("a ID (\"{}\" NIL)", "f".repeat(31));
    assert!(parse_command(long_field.as_bytes()).is_err());
    assert!(
        parse_command(b"a ID (name \"x\")").is_err(),
        "field must be a string"
    );

    assert_eq!(
        ok("t2 ENABLE CONDSTORE X-GOOD-IDEA"),
        CommandBody::Enable(vec![
            Atom::new(b"CONDSTORE").unwrap(),
            Atom::new(b"X-GOOD-IDEA").unwrap()
        ])
    );
    assert!(parse_command(b"t2 ENABLE").is_err());
    assert_eq!(ok("n NAMESPACE"), CommandBody::Namespace);
    assert_eq!(ok("i IDLE"), CommandBody::Idle);
    assert_eq!(ok("u UNSELECT"), CommandBody::Unselect);
    assert_eq!(
        ok("c COMPRESS DEFLATE"),
        CommandBody::Compress(CompressionAlgorithm::Deflate)
    );
    assert!(parse_command(b"c COMPRESS LZ4").is_err());
    assert_eq!(ok("A001 GETACL INBOX"), CommandBody::GetAcl(mbox("INBOX")));
    assert_eq!(
        ok("A035 SETACL INBOX/Drafts John lrQswicda"),
        CommandBody::SetAcl {
            mailbox: mbox("INBOX/Drafts"),
            identifier: astr("John"),
            rights: astr("lrQswicda")
        }
    );
    assert!(matches!(
        ok("A036 DELETEACL INBOX/Drafts Fred"),
        CommandBody::DeleteAcl { .. }
    ));
    assert!(matches!(
        ok("a LISTRIGHTS ~/Mail/saved smith"),
        CommandBody::ListRights { .. }
    ));
    assert_eq!(
        ok("A003 MYRIGHTS INBOX"),
        CommandBody::MyRights(mbox("INBOX"))
    );
    assert_eq!(
        ok("G GETQUOTAROOT INBOX"),
        CommandBody::GetQuotaRoot(mbox("INBOX"))
    );
    assert_eq!(ok("G GETQUOTA \"\""), CommandBody::GetQuota(astr("")));
    assert!(matches!(
        ok("m UID MOVE 42:69 foo"),
        CommandBody::Move {
            addressing: Addressing::Uid,
            ..
        }
    ));
    assert!(matches!(
        ok("m MOVE 1 foo"),
        CommandBody::Move {
            addressing: Addressing::Sequence,
            ..
        }
    ));
    assert_eq!(
        ok("e UID EXPUNGE 3000:3002"),
        CommandBody::UidExpunge(set("3000:3002"))
    );
}

#[test]
fn strings_quoted_literal_utf8() {
    assert_eq!(
        ok("a LOGIN \"fred \\\"the\\\\ man\\\"\" {0}\r\n\r\n"),
        CommandBody::Login {
            username: astr("fred \"the\\ man\""),
            password: astr("")
        }
    );
    assert_eq!(
        ok_bytes(b"a LOGIN {4+}\r\nfred {3}\r\nx y\r\n"),
        CommandBody::Login {
            username: astr("fred"),
            password: astr("x y")
        }
    );
    // UTF-8 is fine in quoted strings; other 8-bit bytes are not.
    assert!(matches!(
        ok("a SEARCH SUBJECT \"Grüße\""),
        CommandBody::Search {
            criteria: SearchKey::Subject(_),
            ..
        }
    ));
    assert!(parse_command(b"a SEARCH SUBJECT \"Gr\xfc\xdfe\"").is_err());
    // Escapes other than \" and \\ are errors; so are CR/LF/NUL in quotes.
    assert!(parse_command(b"a LOGIN \"a\\b\" c").is_err());
    assert!(parse_command(b"a LOGIN \"a\rb\" c").is_err());
    assert!(parse_command(b"a LOGIN \"a\0b\" c").is_err());
    assert!(parse_command(b"a LOGIN \"abc c").is_err());
    // Atom-style astring may contain ']' but not '(' or '{'.
    assert!(parse_command(b"a LOGIN a]b c").is_ok());
    assert!(parse_command(b"a LOGIN a(b c").is_err());
    // Mailbox in UTF-8 and the INBOX helper.
    let CommandBody::Select { mailbox, .. } = ok("a SELECT \"Entwürfe\"") else {
        panic!()
    };
    assert_eq!(mailbox.decode(MailboxEncoding::Utf8).unwrap(), "Entwürfe");
    let CommandBody::Select { mailbox, .. } = ok("a SELECT Entw&APw-rfe") else {
        panic!()
    };
    assert_eq!(
        mailbox.decode(MailboxEncoding::ModifiedUtf7).unwrap(),
        "Entwürfe"
    );
    assert!(mbox("iNbOx").is_inbox());
    assert_eq!(&*mbox("inbox/Sub").normalized(Some(b'/')), b"INBOX/Sub");
    assert_eq!(&*mbox("inboxes").normalized(Some(b'/')), b"inboxes");
}

// ---- Tags, names, structure ----------------------------------------------------------------

#[test]
fn tags_and_command_names() {
    assert_eq!(err(b"*tag NOOP").kind, ParseErrorKind::BadTag);
    assert_eq!(err(b"+a NOOP").tag, None);
    assert_eq!(err(b"+a NOOP").kind, ParseErrorKind::BadTag);
    assert_eq!(err(b"a(b NOOP").kind, ParseErrorKind::BadTag);
    assert_eq!(err(b"\"a\" NOOP").kind, ParseErrorKind::BadTag);
    assert!(parse_command(b"a]b NOOP").is_ok(), "']' is an ASTRING-CHAR");
    assert_eq!(
        parse_command(b"x.1 NoOp\r\n").unwrap().body,
        CommandBody::Noop
    );
    assert_eq!(
        parse_command(b"x.1 noop\n").unwrap().body,
        CommandBody::Noop
    );
    let e = err(b"a1 FROB x");
    assert_eq!(e.kind, ParseErrorKind::UnknownCommand("FROB".into()));
    assert_eq!(e.tag.unwrap().as_str(), "a1");
    assert!(err(b"a1 UID NOOP")
        .to_string()
        .contains("UID must be followed"));
    assert!(matches!(
        err(b"a1 UID FROB 1").kind,
        ParseErrorKind::Invalid(_)
    ));
    let long_tag = format!("{} NOOP", "t".repeat(65));
    assert_eq!(err(long_tag.as_bytes()).kind, ParseErrorKind::BadTag);
}

#[test]
fn malformed_lines() {
    assert_eq!(err(b"").kind, ParseErrorKind::Empty);
    assert_eq!(err(b"\r\n").kind, ParseErrorKind::Empty);
    assert_eq!(err(b"\n").tag, None);
    let e = err(b"a1\r\n");
    assert_eq!(
        (e.tag.unwrap().as_str(), e.kind),
        ("a1", ParseErrorKind::MissingCommand)
    );
    assert_eq!(err(b"a1 ").kind, ParseErrorKind::MissingCommand);
    assert!(matches!(
        err(b"a1  NOOP").kind,
        ParseErrorKind::MissingCommand
    ));
    assert!(
        matches!(err(b"a1 LOGIN foobar").kind, ParseErrorKind::Expected(_)),
        "missing SP"
    );
    assert!(matches!(
        err(b"a1 LOGINfoo bar").kind,
        ParseErrorKind::UnknownCommand(_)
    ));
    assert_eq!(err(b"a1 NOOP extra").kind, ParseErrorKind::Trailing);
    assert_eq!(err(b"a1 NOOP ").kind, ParseErrorKind::Trailing);
    assert_eq!(err(b"a1 NOOP\r\n\r\n").kind, ParseErrorKind::Trailing);
    assert_eq!(err(b"a1 NOOP\rX").kind, ParseErrorKind::Trailing);
    // NUL and 8-bit in atoms.
    assert!(parse_command(b"a1 SELECT IN\0BOX").is_err());
    assert!(parse_command(b"a1 SELECT \xe9t\xe9").is_err());
    assert!(parse_command(b"a1\0 NOOP").is_err());
    assert!(parse_command(b"a1 NO\xffOP").is_err());
    assert!(parse_command(b"a1 SELECT {3}\r\nI\0X").is_err());
}

#[test]
fn literal_edge_cases() {
    // Leading zeros are fine (number = 1*DIGIT).
    assert_eq!(
        ok_bytes(b"a LOGIN {003}\r\nbob x"),
        CommandBody::Login {
            username: astr("bob"),
            password: astr("x")
        }
    );
    // Bare LF after the marker is accepted.
    assert!(parse_command(b"a LOGIN {3}\nbob x").is_ok());
    for bad in [
        &b"a LOGIN {4294967296}\r\nbob x"[..],
        b"a LOGIN {99999999999999999999999}\r\nbob x",
        b"a LOGIN {}\r\n x",
        b"a LOGIN {3\r\nbob x",
        b"a LOGIN {3}bob x",
        b"a LOGIN {-1}\r\nbob x",
        b"a LOGIN {10}\r\nbob",
        b"a LOGIN {3}",
    ] {
        let e = err(bad);
        assert_eq!(e.tag.as_ref().map(Tag::as_str), Some("a"));
    }
}

// ---- Adversarial ---------------------------------------------------------------------------

#[test]
fn hundred_thousand_open_parens() {
    let mut cmd = b"a SEARCH ".to_vec();
    cmd.extend(std::iter::repeat_n(b'(', 100_000));
    assert_eq!(err(&cmd).kind, ParseErrorKind::TooDeep(MAX_SEARCH_DEPTH));
}

#[test]
fn sixty_thousand_nots() {
    let mut nested = b"a SEARCH ".to_vec();
    for _ in 0..60_000 {
        nested.extend_from_slice(b"NOT ");
    }
    nested.extend_from_slice(b"ALL");
    assert_eq!(err(&nested).kind, ParseErrorKind::TooDeep(MAX_SEARCH_DEPTH));
    // Nesting just under the cap parses.
    let mut fine = b"a SEARCH ".to_vec();
    for _ in 0..MAX_SEARCH_DEPTH - 1 {
        fine.extend_from_slice(b"NOT ");
    }
    fine.extend_from_slice(b"ALL");
    assert!(parse_command(&fine).is_ok());
}

#[test]
fn nesting_at_the_cap_fits_a_small_stack() {
    // A right-nested OR chain just under the cap, parsed on a 512 KiB stack (debug build).
    let mut cmd = b"a SEARCH ".to_vec();
    for _ in 0..MAX_SEARCH_DEPTH {
        cmd.extend_from_slice(b"OR SEEN ");
    }
    cmd.extend_from_slice(b"ALL");
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let at_cap = parse_command(&cmd).map(|_| ()).map_err(|e| e.kind);
            let under = parse_command(
                &cmd[..cmd.len() - b"OR SEEN ALL".len()]
                    .iter()
                    .chain(b"ALL")
                    .copied()
                    .collect::<Vec<u8>>(),
            );
            (at_cap, under.is_ok())
        })
        .unwrap();
    let (at_cap, under) = handle.join().unwrap();
    assert_eq!(at_cap, Err(ParseErrorKind::TooDeep(MAX_SEARCH_DEPTH)));
    assert!(under);
}

#[test]
fn deep_or_chain_and_many_keys() {
    let mut cmd = b"a SEARCH ".to_vec();
    for _ in 0..50_000 {
        cmd.extend_from_slice(b"OR ALL ");
    }
    cmd.extend_from_slice(b"ALL");
    assert_eq!(err(&cmd).kind, ParseErrorKind::TooDeep(MAX_SEARCH_DEPTH));
    let mut flat = b"a SEARCH ALL".to_vec();
    for _ in 0..MAX_SEARCH_KEYS {
        flat.extend_from_slice(b" SEEN");
    }
    assert!(matches!(err(&flat).kind, ParseErrorKind::TooMany { .. }));
}

#[test]
fn million_range_sequence_set() {
    let mut cmd = b"a FETCH ".to_vec();
    for i in 0..1_000_000u32 {
        if i > 0 {
            cmd.push(b',');
        }
        cmd.extend_from_slice((i % 7 + 1).to_string().as_bytes());
    }
    cmd.extend_from_slice(b" FLAGS");
    assert_eq!(
        err(&cmd).kind,
        ParseErrorKind::Sequence(SequenceSetError::TooManyRanges)
    );
}

#[test]
fn many_list_items_capped() {
    let flags: String = (0..MAX_LIST_ITEMS + 1).map(|i| format!("k{i} ")).collect();
    let cmd = format!("a STORE 1 +FLAGS ({})", flags.trim_end());
    assert!(matches!(
        err(cmd.as_bytes()).kind,
        ParseErrorKind::TooMany { .. }
    ));
    let parts: String = (0..MAX_SECTION_PARTS + 1).map(|_| "1.").collect();
    let cmd = format!("a FETCH 1 BODY[{}TEXT]", parts);
    assert!(matches!(
        err(cmd.as_bytes()).kind,
        ParseErrorKind::TooMany { .. }
    ));
}

/// Every prefix of every valid example, and a cheap deterministic fuzz: nothing may panic.
#[test]
fn no_panic_on_prefixes_and_noise() {
    let samples: &[&[u8]] = &[
        b"a1 UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.10> PREVIEW (LAZY)) (CHANGEDSINCE 5 VANISHED)\r\n",
        b"a2 SEARCH RETURN (MIN) CHARSET UTF-8 OR (SEEN FROM {3}\r\nabc) NOT UID $ MODSEQ \"/flags/x\" all 5\r\n",
        b"a3 APPEND INBOX (\\Seen) \"01-Jan-2000 00:00:00 +0000\" ~{2}\r\n\0\0\r\n",
        b"a4 SELECT INBOX (QRESYNC (1 2 3:4 (1 2)) CONDSTORE)\r\n",
        b"a5 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (a b) RETURN (STATUS (MESSAGES) CHILDREN)\r\n",
        b"a6 UID STORE 1 (UNCHANGEDSINCE 3) -FLAGS.SILENT (\\Seen)\r\n",
        b"a7 ID (\"a\" NIL)\r\n",
        b"a8 UID SORT RETURN (ALL) (REVERSE DATE) UTF-8 ALL\r\n",
    ];
    for s in samples {
        parse_command(s).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(s)));
        for n in 0..s.len() {
            let _ = parse_command(&s[..n]);
        }
    }
    let alphabet: &[u8] = b"a1 (){}[]<>*%$\\\"+-.:,~\r\n\0\xffSEARCHFETCHNOTOR0123456789BODY";
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let len = (state % 64) as usize;
        let mut input = b"t ".to_vec();
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            input.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        let _ = parse_command(&input);
    }
}

// ---- Round trips ---------------------------------------------------------------------------

#[test]
fn round_trips_through_display() {
    // Dates: Display writes what the parser reads.
    for d in [date(2000, 2, 29), date(1994, 2, 1), date(9999, 12, 31)] {
        let cmd = format!("a SEARCH ON {d}");
        assert_eq!(
            ok(&cmd),
            CommandBody::Search {
                addressing: Addressing::Sequence,
                ret: None,
                charset: None,
                criteria: SearchKey::On(d)
            }
        );
    }
    // Flags.
    let flags = [
        "\\Seen",
        "\\Answered",
        "\\Flagged",
        "\\Deleted",
        "\\Draft",
        "$Forwarded",
        "\\X-Ext",
    ];
    let cmd = format!("a STORE 1 FLAGS ({})", flags.join(" "));
    let CommandBody::Store { action, .. } = ok(&cmd) else {
        panic!()
    };
    let shown: Vec<String> = action.flags.iter().map(ToString::to_string).collect();
    assert_eq!(shown, flags);
    // Sequence sets.
    let CommandBody::Fetch {
        set: SequenceArg::Set(s),
        ..
    } = ok("a FETCH 1,3:5,*:9,* UID")
    else {
        panic!()
    };
    assert_eq!(s.to_string(), "1,3:5,*:9,*");
    assert_eq!(s.as_ranges()[3], SeqRange::single(SeqNumber::Largest));
    // Strings through the encoder.
    for raw in [
        &b"plain"[..],
        b"with space",
        b"quote\"back\\slash",
        b"",
        b"line\r\nbreak",
        b"caf\xc3\xa9",
    ] {
        let mut cmd = b"a LOGIN ".to_vec();
        crate::imap::encode::write_astring(&mut cmd, raw, crate::imap::encode::EightBit::Literal);
        cmd.extend_from_slice(b" x");
        let CommandBody::Login { username, .. } = ok_bytes(&cmd) else {
            panic!()
        };
        assert_eq!(username.as_bytes(), raw);
    }
    // Date-time through Display.
    let CommandBody::Append { date: Some(dt), .. } =
        ok_bytes(b"a APPEND x \"17-Jul-1996 02:44:25 +0530\" {1}\r\nx")
    else {
        panic!()
    };
    let again = format!("a APPEND x \"{dt}\" {{1}}\r\nx");
    let CommandBody::Append {
        date: Some(dt2), ..
    } = ok(&again)
    else {
        panic!()
    };
    assert_eq!(dt, dt2);
    assert_eq!(dt.zone_minutes, 330);
}

#[test]
fn date_time_errors() {
    for bad in [
        "a APPEND x \"32-Jan-2000 00:00:00 +0000\" {1}\r\nx",
        "a APPEND x \"1-Jan-2000 00:00:00 +0000\" {1}\r\nx",
        "a APPEND x \"01-Jan-2000 24:00:00 +0000\" {1}\r\nx",
        "a APPEND x \"01-Jan-2000 00:60:00 +0000\" {1}\r\nx",
        "a APPEND x \"01-Jan-2000 00:00:00 0000\" {1}\r\nx",
        "a APPEND x \"01-Jan-2000 00:00:00 +2400\" {1}\r\nx",
        "a APPEND x \"01-Jan-2000 00:00:00 +0000 {1}\r\nx",
        "a APPEND x 01-Jan-2000 {1}\r\nx",
        "a APPEND x (\\Seen) \"01-Jan-2000 00:00:00 +0000\"",
    ] {
        assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
    }
}
