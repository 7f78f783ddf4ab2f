//! A strict reader of what an IMAP server sends (RFC 3501 §9, RFC 9051 §9), written for the fuzz
//! targets: independent of the server's encoder, it cuts the output into responses and checks each
//! one's syntax, and the exact shape of ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 §7.4.2).
//!
//! Stricter than the RFCs' leniencies a client would need: quoted strings are 7-bit, text is
//! UTF-8 without controls, literals hold no NUL (RFC 3501 `CHAR8`; `literal8` may), every line
//! ends in CRLF, and nesting deeper than [`MAX_NESTING`] is refused (this checker must not
//! overflow its own stack either).

use std::fmt;

/// Deepest list nesting accepted. A BODYSTRUCTURE at the MIME depth cap (32 containers, each
/// message/rfc822 adding its envelope's two levels) stays far below it.
pub const MAX_NESTING: usize = 256;

/// One value of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Nil,
    Number(u64),
    /// An atom, a flag (`\Seen`), or a FETCH item name with its section (`BODY[1.MIME]<0>`).
    Atom(&'a [u8]),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    /// A list, and the indices of its elements that follow the previous one without a space
    /// (RFC 3501 §9 juxtaposes the addresses of an address list and the bodies of a multipart:
    /// `1*address`, `1*body`; everywhere else elements are separated by SP).
    List(Vec<Value<'a>>, Vec<usize>),
}

/// Where and why the output is not well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub at: usize,
    pub why: String,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at octet {}: {}", self.at, self.why)
    }
}

type R<T> = Result<T, Malformed>;

/// What a well-formed output held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Tagged responses (OK, NO, BAD), in order, as (tag, status).
    pub tagged: Vec<(Vec<u8>, Vec<u8>)>,
    /// Untagged responses.
    pub untagged: usize,
    /// Continuation requests.
    pub continuations: usize,
    /// Whether a `* BYE` was seen.
    pub bye: bool,
}

/// Checks a whole server output: every response well-formed, every tagged response's tag one
/// that `sent_tag` accepts (the client sent it).
pub fn check_stream(out: &[u8], sent_tag: &dyn Fn(&[u8]) -> bool) -> R<Summary> {
    let mut r = Reader {
        buf: out,
        pos: 0,
        keyword_like: Vec::new(),
    };
    let mut summary = Summary::default();
    // Every response consumes at least one octet (its CRLF), so this loop is bounded by the
    // output's length.
    while !r.at_end() {
        if r.eat(b"+") {
            // continue-req = "+" SP (resp-text / base64) CRLF
            r.expect(b" ")?;
            r.text(false)?;
            r.crlf()?;
            summary.continuations += 1;
        } else if r.eat(b"* ") {
            if r.untagged()? {
                summary.bye = true;
            }
            summary.untagged += 1;
        } else {
            let tag = r.tag()?;
            if !sent_tag(tag) {
                return Err(r.fail(format!(
                    "tagged response for tag {:?}, which the client never sent",
                    String::from_utf8_lossy(tag)
                )));
            }
            r.expect(b" ")?;
            let status = r.atom()?;
            if !matches!(status, b"OK" | b"NO" | b"BAD") {
                return Err(r.fail(format!(
                    "tagged status {:?} is not OK, NO or BAD",
                    String::from_utf8_lossy(status)
                )));
            }
            r.expect(b" ")?;
            r.resp_text()?;
            r.crlf()?;
            summary.tagged.push((tag.to_vec(), status.to_vec()));
        }
    }
    Ok(summary)
}

/// Parses `bytes` as exactly one value (a whole ENVELOPE or BODYSTRUCTURE list).
pub fn value(bytes: &[u8]) -> R<Value<'_>> {
    let mut r = Reader {
        buf: bytes,
        pos: 0,
        keyword_like: Vec::new(),
    };
    let v = r.value(0)?;
    if !r.at_end() {
        return Err(r.fail("octets after the value".into()));
    }
    Ok(v)
}

/// Checks that `v` is an ENVELOPE (RFC 3501 §9 `envelope`).
pub fn envelope(v: &Value<'_>) -> Result<(), String> {
    let items = list(v, "envelope")?;
    if items.len() != 10 {
        return Err(format!("envelope has {} fields, not 10", items.len()));
    }
    nstring(&items[0], "env-date")?;
    nstring(&items[1], "env-subject")?;
    for (i, name) in ["from", "sender", "reply-to", "to", "cc", "bcc"]
        .iter()
        .enumerate()
    {
        match &items[2 + i] {
            Value::Nil => {}
            Value::List(addrs, joined) if !addrs.is_empty() => {
                // env-from = "(" 1*address ")": addresses follow each other without SP.
                if *joined != (1..addrs.len()).collect::<Vec<_>>() {
                    return Err(format!("env-{name}: addresses separated by spaces"));
                }
                for a in addrs {
                    let parts = list(a, "address")?;
                    if parts.len() != 4 {
                        return Err(format!("env-{name}: an address has {} fields", parts.len()));
                    }
                    for p in parts {
                        nstring(p, "address field")?;
                    }
                }
            }
            other => return Err(format!("env-{name} is {other:?}, not NIL or addresses")),
        }
    }
    nstring(&items[8], "env-in-reply-to")?;
    nstring(&items[9], "env-message-id")?;
    Ok(())
}

/// Whether a body is BODY (no extension data) or BODYSTRUCTURE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyForm {
    Body,
    Structure,
}

/// Checks that `v` is a `body` (RFC 3501 §9) of the given form. Recursion is bounded by the
/// nesting cap [`value`] enforced when `v` was read.
pub fn body(v: &Value<'_>, form: BodyForm) -> Result<(), String> {
    let Value::List(items, joined) = v else {
        return Err(format!("body is {v:?}, not a list"));
    };
    let Some(first) = items.first() else {
        return Err("empty body list".into());
    };
    if matches!(first, Value::List(..)) {
        // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]: the bodies follow
        // each other without SP, everything after them is separated by SP.
        let parts = items.iter().take_while(|i| matches!(i, Value::List(..)));
        let n = parts.clone().count();
        if *joined != (1..n).collect::<Vec<_>>() {
            return Err("multipart bodies not juxtaposed, or a join after them".into());
        }
        for p in parts {
            body(p, form)?;
        }
        let rest = &items[n..];
        let Some(subtype) = rest.first() else {
            return Err("multipart without a subtype".into());
        };
        string(subtype, "multipart subtype")?;
        let ext = &rest[1..];
        return match form {
            BodyForm::Body if !ext.is_empty() => Err("BODY with extension data".into()),
            BodyForm::Body => Ok(()),
            BodyForm::Structure => {
                // body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang
                //                  [SP body-fld-loc *(SP body-extension)]]]
                if let Some(p) = ext.first() {
                    params(p)?;
                }
                extension_tail(&ext[ext.len().min(1)..])
            }
        };
    }
    // body-type-1part: type subtype params id desc encoding size [...]
    if !joined.is_empty() {
        return Err("single part with elements not separated by SP".into());
    }
    if items.len() < 7 {
        return Err(format!("single part with {} fields", items.len()));
    }
    let media = string(&items[0], "media type")?;
    let sub = string(&items[1], "media subtype")?;
    params(&items[2])?;
    nstring(&items[3], "body-fld-id")?;
    nstring(&items[4], "body-fld-desc")?;
    string(&items[5], "body-fld-enc")?;
    number(&items[6], "body-fld-octets")?;
    let mut rest = &items[7..];
    if media.eq_ignore_ascii_case(b"MESSAGE")
        && (sub.eq_ignore_ascii_case(b"RFC822") || sub.eq_ignore_ascii_case(b"GLOBAL"))
    {
        if rest.len() < 3 {
            return Err("message/rfc822 without envelope, body and lines".into());
        }
        envelope(&rest[0])?;
        body(&rest[1], form)?;
        number(&rest[2], "body-fld-lines")?;
        rest = &rest[3..];
    } else if media.eq_ignore_ascii_case(b"TEXT") {
        let Some(lines) = rest.first() else {
            return Err("text part without lines".into());
        };
        number(lines, "body-fld-lines")?;
        rest = &rest[1..];
    }
    match form {
        BodyForm::Body if !rest.is_empty() => Err("BODY with extension data".into()),
        BodyForm::Body => Ok(()),
        BodyForm::Structure => {
            // body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang ...]]
            if let Some(md5) = rest.first() {
                nstring(md5, "body-fld-md5")?;
            }
            extension_tail(&rest[rest.len().min(1)..])
        }
    }
}

/// `[body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]`.
fn extension_tail(rest: &[Value<'_>]) -> Result<(), String> {
    if let Some(dsp) = rest.first() {
        match dsp {
            Value::Nil => {}
            Value::List(d, j) if d.len() == 2 && j.is_empty() => {
                string(&d[0], "disposition")?;
                params(&d[1])?;
            }
            other => return Err(format!("body-fld-dsp is {other:?}")),
        }
    }
    if let Some(lang) = rest.get(1) {
        match lang {
            Value::List(l, j) if !l.is_empty() && j.is_empty() => {
                for s in l {
                    string(s, "body-fld-lang")?;
                }
            }
            other => {
                nstring(other, "body-fld-lang")?;
            }
        }
    }
    if let Some(loc) = rest.get(2) {
        nstring(loc, "body-fld-loc")?;
    }
    Ok(())
}

/// Checks that no list inside `v` juxtaposes elements (only addresses and bodies may).
/// Bounded by the nesting cap of the reader that built `v`.
fn spaced(v: &Value<'_>) -> Result<(), String> {
    match v {
        Value::List(items, joined) if joined.is_empty() => items.iter().try_for_each(spaced),
        Value::List(..) => Err("list elements without a space between them".into()),
        _ => Ok(()),
    }
}

/// RFC 5256 §4: `thread-list = "(" (thread-members / thread-nested) ")"`, where
/// `thread-members = nz-number *(SP nz-number) [SP thread-nested]` and
/// `thread-nested = 2*thread-list`: numbers separated by SP, then nested lists juxtaposed.
fn thread_list(v: &Value<'_>) -> Result<(), String> {
    let Value::List(items, joined) = v else {
        return Err(format!("thread is {v:?}, not a list"));
    };
    let numbers = items
        .iter()
        .take_while(|i| matches!(i, Value::Number(n) if *n > 0))
        .count();
    let nested = &items[numbers..];
    if nested.len() == 1 || (numbers == 0 && nested.is_empty()) {
        return Err("a thread list needs a message or two nested threads, and never one".into());
    }
    for (i, item) in nested.iter().enumerate() {
        let at = numbers + i;
        let must_join = i > 0;
        if joined.contains(&at) != must_join {
            return Err(format!("thread element {at} spaced wrongly"));
        }
        thread_list(item)?;
    }
    if joined.iter().any(|&j| j < numbers) {
        return Err("thread numbers without a space between them".into());
    }
    Ok(())
}

/// `body-fld-param = "(" string SP string *(SP string SP string) ")" / nil`.
fn params(v: &Value<'_>) -> Result<(), String> {
    match v {
        Value::Nil => Ok(()),
        Value::List(p, j) if !p.is_empty() && p.len() % 2 == 0 && j.is_empty() => p
            .iter()
            .try_for_each(|s| string(s, "parameter").map(|_| ())),
        other => Err(format!("body-fld-param is {other:?}")),
    }
}

fn list<'v, 'a>(v: &'v Value<'a>, what: &str) -> Result<&'v [Value<'a>], String> {
    match v {
        Value::List(l, joined) if joined.is_empty() => Ok(l),
        Value::List(..) => Err(format!("{what} has elements without a space between them")),
        other => Err(format!("{what} is {other:?}, not a list")),
    }
}

fn string<'v>(v: &'v Value<'_>, what: &str) -> Result<&'v [u8], String> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(format!("{what} is {other:?}, not a string")),
    }
}

fn nstring(v: &Value<'_>, what: &str) -> Result<(), String> {
    match v {
        Value::Nil | Value::Str(_) => Ok(()),
        other => Err(format!("{what} is {other:?}, not a string or NIL")),
    }
}

fn number(v: &Value<'_>, what: &str) -> Result<u64, String> {
    match v {
        Value::Number(n) if *n <= u64::from(u32::MAX) => Ok(*n),
        other => Err(format!("{what} is {other:?}, not a number")),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Where atoms start that begin like a FETCH item with a section (`BODY[`) but whose `[`
    /// opens no well-formed section: flag keywords such as `BODY[x` (`[` is an ATOM-CHAR).
    /// Valid as flags; as a FETCH item name, a malformed section (see `msg_att`).
    keyword_like: Vec<usize>,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn fail(&self, why: String) -> Malformed {
        let from = self.pos.saturating_sub(40);
        let to = (self.pos + 40).min(self.buf.len());
        Malformed {
            at: self.pos,
            why: format!(
                "{why} (near {:?})",
                String::from_utf8_lossy(&self.buf[from..to])
            ),
        }
    }

    fn eat(&mut self, s: &[u8]) -> bool {
        if self.buf[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &[u8]) -> R<()> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.fail(format!("expected {:?}", String::from_utf8_lossy(s))))
        }
    }

    fn crlf(&mut self) -> R<()> {
        self.expect(b"\r\n")
    }

    /// `tag = 1*<any ASTRING-CHAR except "+">`.
    fn tag(&mut self) -> R<&'a [u8]> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !is_astring_char(b) || b == b'+' {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.fail("expected a tag, '*' or '+'".into()));
        }
        Ok(&self.buf[start..self.pos])
    }

    /// `1*ATOM-CHAR`.
    fn atom(&mut self) -> R<&'a [u8]> {
        let start = self.pos;
        while self.peek().is_some_and(is_atom_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.fail("expected an atom".into()));
        }
        Ok(&self.buf[start..self.pos])
    }

    /// The rest of an untagged response, its CRLF included. True for BYE.
    fn untagged(&mut self) -> R<bool> {
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            let n = self.number()?;
            self.expect(b" ")?;
            let what = self.atom()?;
            match what {
                b"EXISTS" | b"RECENT" => {}
                b"EXPUNGE" | b"FETCH" if n == 0 => {
                    return Err(self.fail("message number 0".into()));
                }
                b"EXPUNGE" => {}
                b"FETCH" => {
                    self.expect(b" ")?;
                    let at = self.pos;
                    let v = self.value(0)?;
                    self.msg_att(&v).map_err(|why| Malformed {
                        at,
                        why: format!("FETCH: {why}"),
                    })?;
                }
                other => {
                    return Err(self.fail(format!(
                        "unknown message data {:?}",
                        String::from_utf8_lossy(other)
                    )))
                }
            }
            self.crlf()?;
            return Ok(false);
        }
        let name = self.atom()?;
        match name {
            b"OK" | b"NO" | b"BAD" | b"BYE" | b"PREAUTH" => {
                self.expect(b" ")?;
                self.resp_text()?;
            }
            b"CAPABILITY" => {
                // capability-data = "CAPABILITY" *(SP capability) SP "IMAP4rev1" ...
                let mut saw_rev1 = false;
                while self.eat(b" ") {
                    saw_rev1 |= self.atom()? == b"IMAP4rev1";
                }
                if !saw_rev1 {
                    return Err(self.fail("CAPABILITY without IMAP4rev1".into()));
                }
            }
            b"THREAD" => {
                // RFC 5256 §4: `thread-data = "THREAD" [SP 1*thread-list]`; the thread lists
                // follow one another, and nested ones each other, without a space.
                if self.eat(b" ") {
                    loop {
                        let at = self.pos;
                        let v = self.value(0)?;
                        thread_list(&v).map_err(|why| Malformed { at, why })?;
                        if self.peek() != Some(b'(') {
                            break;
                        }
                    }
                }
            }
            _ => {
                // LIST, LSUB, STATUS, FLAGS, SEARCH, ESEARCH, SORT, ENABLED, ID, NAMESPACE,
                // VANISHED, ACL, MYRIGHTS, LISTRIGHTS:
                // a sequence of well-formed values.
                while self.eat(b" ") {
                    let at = self.pos;
                    let v = self.value(0)?;
                    spaced(&v).map_err(|why| Malformed { at, why })?;
                }
            }
        }
        self.crlf()?;
        Ok(name == b"BYE")
    }

    /// `resp-text = ["[" resp-text-code "]" SP] text`.
    fn resp_text(&mut self) -> R<()> {
        if self.eat(b"[") {
            self.atom()?;
            if self.eat(b" ") {
                // atom [SP 1*<any TEXT-CHAR except "]">], or a list of values (BADCHARSET).
                if self.peek() == Some(b'(') {
                    self.value(0)?;
                } else {
                    let start = self.pos;
                    while self
                        .peek()
                        .is_some_and(|b| b != b']' && b != b'\r' && b != b'\n' && b != 0)
                    {
                        self.pos += 1;
                    }
                    if self.pos == start {
                        return Err(self.fail("empty response code argument".into()));
                    }
                }
            }
            self.expect(b"] ")?;
        }
        self.text(true)
    }

    /// Text up to CRLF: UTF-8, no controls; `nonempty` as RFC 3501's `1*TEXT-CHAR` asks.
    fn text(&mut self, nonempty: bool) -> R<()> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b != b'\r' && b != b'\n') {
            self.pos += 1;
        }
        let text = &self.buf[start..self.pos];
        if nonempty && text.is_empty() {
            return Err(self.fail("empty text".into()));
        }
        match std::str::from_utf8(text) {
            Ok(s) if s.chars().any(char::is_control) => {
                Err(self.fail("control character in text".into()))
            }
            Ok(_) => Ok(()),
            Err(_) => Err(self.fail("text is not UTF-8".into())),
        }
    }

    fn number(&mut self) -> R<u64> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.buf[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.fail("expected a number".into()))
    }

    /// One value; `depth` lists around it.
    fn value(&mut self, depth: usize) -> R<Value<'a>> {
        match self.peek() {
            Some(b'(') => {
                if depth >= MAX_NESTING {
                    return Err(self.fail("lists nested too deep".into()));
                }
                self.pos += 1;
                let mut items = Vec::new();
                let mut joined = Vec::new();
                if !self.eat(b")") {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b")") {
                            break;
                        }
                        if matches!(items.last(), Some(Value::List(..)))
                            && self.peek() == Some(b'(')
                        {
                            joined.push(items.len());
                        } else {
                            self.expect(b" ")?;
                        }
                    }
                }
                Ok(Value::List(items, joined))
            }
            Some(b'"') => self.quoted().map(Value::Str),
            Some(b'{') => self.literal(false).map(Value::Str),
            // `~` is an ATOM-CHAR too (a keyword may be `~x`): literal8 only before `{`.
            Some(b'~') if self.buf.get(self.pos + 1) == Some(&b'{') => {
                self.pos += 1;
                self.literal(true).map(Value::Str)
            }
            Some(b) if b.is_ascii_digit() => {
                let start = self.pos;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
                // Digits followed by other atom characters are an atom (a keyword `44x`).
                let atom = self.peek().is_some_and(is_atom_char);
                self.pos = start;
                if atom {
                    return self.word().map(Value::Atom);
                }
                self.number().map(Value::Number)
            }
            _ => {
                let w = self.word()?;
                Ok(if w.eq_ignore_ascii_case(b"NIL") {
                    Value::Nil
                } else {
                    Value::Atom(w)
                })
            }
        }
    }

    /// An atom, a flag (`\Seen`, `\*`), or a FETCH item name with a section and partial
    /// (`BODY[1.HEADER.FIELDS (A B)]<0>`).
    fn word(&mut self) -> R<&'a [u8]> {
        let start = self.pos;
        if self.eat(b"\\") && self.eat(b"*") {
            return Ok(&self.buf[start..self.pos]);
        }
        while let Some(b) = self.peek() {
            // `[` is an ATOM-CHAR (a keyword may be `[x`); it opens a section only after a FETCH
            // item name that takes one.
            let name = self.buf[start..self.pos].to_ascii_uppercase();
            if b == b'[' && matches!(name.as_slice(), b"BODY" | b"BINARY" | b"BINARY.SIZE") {
                let at = self.pos;
                if self.section().is_ok() {
                    if self.eat(b"<") {
                        self.number()?;
                        self.expect(b">")?;
                    }
                    break;
                }
                // No section: a keyword (`BODY[x`), unless it stands where an item name does.
                self.pos = at;
                self.keyword_like.push(start);
            }
            if !(is_atom_char(b) || b == b']') {
                break;
            }
            self.pos += 1;
        }
        let w = &self.buf[start..self.pos];
        if w.is_empty() || w == b"\\" {
            return Err(self.fail("expected a value".into()));
        }
        Ok(w)
    }

    /// `section = "[" [section-spec] "]"`: part numbers and keywords, and a `header-list` whose
    /// `header-fld-name`s are astrings, which may hold `]` (ASTRING-CHAR includes
    /// resp-specials), so the section does not simply end at the first `]`.
    fn section(&mut self) -> R<()> {
        self.expect(b"[")?;
        loop {
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'(') => {
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            Some(b'"') => {
                                self.quoted()?;
                            }
                            Some(b'{') => {
                                self.literal(false)?;
                            }
                            _ => {
                                let start = self.pos;
                                while self.peek().is_some_and(is_astring_char) {
                                    self.pos += 1;
                                }
                                if self.pos == start {
                                    return Err(self.fail("expected a header field name".into()));
                                }
                            }
                        }
                        if self.eat(b")") {
                            break;
                        }
                        self.expect(b" ")?;
                    }
                }
                Some(b) if b.is_ascii_alphanumeric() || b == b'.' || b == b' ' => self.pos += 1,
                _ => return Err(self.fail("unterminated or malformed section".into())),
            }
        }
    }

    /// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, 7-bit.
    fn quoted(&mut self) -> R<Vec<u8>> {
        self.expect(b"\"")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(self.fail("backslash before a non-special".into())),
                    }
                }
                Some(b) if b != 0 && b != b'\r' && b != b'\n' && b < 0x80 => {
                    out.push(b);
                    self.pos += 1;
                }
                Some(_) => return Err(self.fail("NUL, CR, LF or 8-bit in a quoted string".into())),
                None => return Err(self.fail("unterminated quoted string".into())),
            }
        }
    }

    /// `literal = "{" number "}" CRLF *CHAR8`; `literal8` may hold NUL.
    fn literal(&mut self, eight: bool) -> R<Vec<u8>> {
        self.expect(b"{")?;
        let n = self.number()?;
        self.expect(b"}")?;
        self.crlf()?;
        let len = usize::try_from(n).map_err(|_| self.fail("literal too long".into()))?;
        if self.buf.len() - self.pos < len {
            return Err(self.fail(format!("literal of {len} octets runs past the end")));
        }
        let bytes = &self.buf[self.pos..self.pos + len];
        if !eight && bytes.contains(&0) {
            return Err(self.fail("NUL in a literal (use literal8)".into()));
        }
        self.pos += len;
        Ok(bytes.to_vec())
    }

    /// `msg-att`: a list of item name, value pairs; known items have their shape checked.
    fn msg_att(&self, v: &Value<'_>) -> Result<(), String> {
        let items = list(v, "msg-att")?;
        if items.is_empty() || items.len() % 2 != 0 {
            return Err(format!("{} elements, not name/value pairs", items.len()));
        }
        for pair in items.chunks(2) {
            let Value::Atom(name) = &pair[0] else {
                return Err(format!("item name {:?} is not an atom", pair[0]));
            };
            let offset = name.as_ptr() as usize - self.buf.as_ptr() as usize;
            if self.keyword_like.contains(&offset) {
                return Err(format!(
                    "item name {} has a malformed section",
                    String::from_utf8_lossy(name)
                ));
            }
            let value = &pair[1];
            match name.to_ascii_uppercase().as_slice() {
                b"ENVELOPE" => envelope(value)?,
                b"BODYSTRUCTURE" => body(value, BodyForm::Structure)?,
                b"BODY" => body(value, BodyForm::Body)?,
                b"FLAGS" => {
                    // flag-keyword = atom, and an atom may be all digits (`1`).
                    for f in list(value, "FLAGS")? {
                        if !matches!(f, Value::Atom(_) | Value::Number(_)) {
                            return Err(format!("flag {f:?} is not an atom"));
                        }
                    }
                }
                b"UID" | b"RFC822.SIZE" => {
                    number(value, "UID or RFC822.SIZE")?;
                }
                b"INTERNALDATE" => {
                    string(value, "INTERNALDATE")?;
                }
                b"MODSEQ" => match list(value, "MODSEQ")? {
                    [Value::Number(_)] => {}
                    other => return Err(format!("MODSEQ holds {other:?}")),
                },
                _ => {
                    spaced(value)?;
                    if matches!(value, Value::Atom(_)) {
                        return Err(format!(
                            "{} is an atom, not a string, number or list",
                            String::from_utf8_lossy(name)
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// RFC 3501 §9 `ATOM-CHAR`: any CHAR except atom-specials.
fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`.
fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_session() {
        let out = b"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n\
            a OK [CAPABILITY IMAP4rev1] Logged in\r\n\
            * 1 FETCH (UID 4 FLAGS (\\Seen 1 +) BODY[HEADER.FIELDS (FROM)]<0> {3}\r\nabc)\r\n\
            * LIST (\\HasNoChildren) \"/\" INBOX\r\n\
            + Ready for literal data\r\n\
            b NO [BADCHARSET (UTF-8 \"X\")] no\r\n\
            * 3 FETCH (FLAGS ([x \\Seen BODY.x ~y 44444444444444444444444z))\r\n\
            * 4 FETCH (UID 2 FLAGS (\\Seen BODY[TEXTen BINARY[ $x))\r\n\
            * 2 FETCH (BODY[1.HEADER.FIELDS.NOT (DATE MESSAGE]-ID \"TO\")] {0}\r\n)\r\n";
        let s = check_stream(out, &|t| t == b"a" || t == b"b").unwrap();
        assert_eq!(s.tagged.len(), 2);
        let juxtaposed =
            b"* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) \
            NIL NIL NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)\
            (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) \"mixed\"))\r\n";
        check_stream(juxtaposed, &|_| false).unwrap();
        // RFC 5256 §4's own example, and an empty answer.
        let threads = b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n* THREAD\r\n";
        check_stream(threads, &|_| false).unwrap();
    }

    #[test]
    fn refuses_malformed_threads() {
        for bad in [
            &b"* THREAD (2) (3)\r\n"[..],
            b"* THREAD (3 (4))\r\n",
            b"* THREAD (3 (4) (5))\r\n",
            b"* THREAD (0)\r\n",
            b"* THREAD ()\r\n",
            b"* THREAD (3(4)(5))\r\n",
        ] {
            assert!(
                check_stream(bad, &|_| false).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn refuses_bad_output() {
        for bad in [
            &b"a OK\r\n"[..],
            b"a OK done\n",
            b"* 1 FETCH (FLAGS (\\Seen)\r\n",
            b"* LIST () \"/\" \"a\rb\"\r\n",
            b"* 1 FETCH (BODY[] {5}\r\nab)\r\n",
            b"c OK done\r\n",
            b"* 1 FETCH (ENVELOPE (NIL))\r\n",
            // RFC 3501 §9: `1*address` and `1*body` are juxtaposed, not separated by SP.
            b"* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL \"a\" \"b\") (NIL NIL \"c\" \"d\")) NIL NIL NIL NIL NIL NIL NIL))\r\n",
            b"* 1 FETCH (BODY ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) \"mixed\"))\r\n",
            b"* FLAGS ((\\Seen)(\\Draft))\r\n",
            // A keyword may be `BODY[x`, an item name may not.
            b"* 1 FETCH (BODY[TEXTen \"x\")\r\n",
        ] {
            assert!(
                check_stream(bad, &|t| t == b"a").is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
