//! The command parser: one framed command (see [`super::framing`]) in, one [`Command`] out.
//!
//! Owns: the client-side grammar of RFC 3501 §9 / RFC 9051 §9 and the extensions of DESIGN §4.
//! Does not own framing (lines and literals are already assembled, literal markers inline) nor
//! any meaning: whether a command is allowed in the current state is the session's business.
//!
//! Safety properties, all tested: no panic on any input; every allocation is bounded by the
//! input length or by a cap in [`super::limits`]; the only recursion (search keys) is bounded
//! by [`MAX_SEARCH_DEPTH`]; parenthesised lists are iterative.
//!
//! Leniency, deliberate and documented:
//! - the final CRLF is optional, a bare LF is accepted wherever CRLF is;
//! - quoted strings may carry UTF-8 (RFC 9051 §9 `QUOTED-CHAR =/ UTF8-2 / UTF8-3 / UTF8-4`,
//!   RFC 6855): accepted whether or not UTF8=ACCEPT is enabled, since clients send UTF-8 search
//!   strings in quotes anyway; invalid UTF-8 in a quoted string is an error;
//! - a non-synchronising literal `{n+}` is accepted wherever a literal is;
//! - `date` is accepted with or without quotes (RFC 3501 `date = date-text / DQUOTE date-text
//!   DQUOTE`), month names in any case.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use super::limits::{
    MAX_ID_FIELD, MAX_ID_PAIRS, MAX_ID_VALUE, MAX_LIST_ITEMS, MAX_SEARCH_DEPTH, MAX_SEARCH_KEYS,
    MAX_SECTION_PARTS,
};
use super::sequence::{SequenceArg, SequenceSet, SequenceSetError};
use super::types::*;
use crate::mime::{Section, SectionText};

/// A command that could not be parsed, with the tag when one was read, so the session can answer
/// `tag BAD <text>` (or `* BAD <text>` when there is no tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The command's tag, if it was valid.
    pub tag: Option<Tag>,
    /// What was wrong.
    pub kind: ParseErrorKind,
    /// Octet offset in the framed command where the problem was found.
    pub offset: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at octet {})", self.kind, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// What was wrong with a command. The `Display` text is meant for the client's BAD response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// Nothing but a line ending.
    #[error("empty command line")]
    Empty,
    /// The first word is not a valid tag.
    #[error("invalid or missing tag")]
    BadTag,
    /// A tag with no command after it.
    #[error("missing command name after the tag")]
    MissingCommand,
    /// A command name we do not know.
    #[error("unknown command {0}")]
    UnknownCommand(String),
    /// Something else than the grammar allows.
    #[error("expected {0}")]
    Expected(&'static str),
    /// Octets after a complete command.
    #[error("unexpected data after the end of the command")]
    Trailing,
    /// A number too large for its field, or 0 where 0 is not allowed.
    #[error("number out of range")]
    Number,
    /// Nesting deeper than the cap.
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    /// More items than the cap.
    #[error("too many {what} (at most {limit})")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The cap.
        limit: usize,
    },
    /// A malformed literal.
    #[error("invalid literal: {0}")]
    Literal(&'static str),
    /// A malformed string.
    #[error("invalid string: {0}")]
    String(&'static str),
    /// A malformed date or date-time.
    #[error("invalid date")]
    Date,
    /// A malformed sequence set.
    #[error("invalid sequence set: {0}")]
    Sequence(SequenceSetError),
    /// Well-formed pieces in a combination the grammar or the RFC forbids.
    #[error("{0}")]
    Invalid(&'static str),
}

/// Parses one framed command.
///
/// `input` is what [`super::framing::read_command`] returns: the command line(s) with literal
/// markers and literal octets inline; the final CRLF may be present or not.
pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    let mut p = Parser::new(input);
    if p.rest().iter().all(|&b| b == b'\r' || b == b'\n') {
        return Err(ParseError {
            tag: None,
            kind: ParseErrorKind::Empty,
            offset: 0,
        });
    }
    let tag_len = p
        .rest()
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(p.rest().len());
    let Some(tag) = Tag::new(&p.rest()[..tag_len]) else {
        return Err(ParseError {
            tag: None,
            kind: ParseErrorKind::BadTag,
            offset: 0,
        });
    };
    p.pos = tag_len;
    let result = p.command_after_tag();
    match result {
        Ok(body) => Ok(Command { tag, body }),
        Err(Fail { kind, offset }) => Err(ParseError {
            tag: Some(tag),
            kind,
            offset,
        }),
    }
}

/// Internal error: a kind and where.
struct Fail {
    kind: ParseErrorKind,
    offset: usize,
}

type R<T> = Result<T, Fail>;

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Current nesting of search keys (parentheses, NOT, OR).
    depth: usize,
    /// Search keys read so far in this command.
    keys: usize,
}

/// Which literal forms a string position accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LiteralForm {
    /// `literal` only (CHAR8: no NUL).
    Text,
    /// `literal` or `literal8` (RFC 3516).
    TextOrBinary,
}

/// A literal's octets and form.
enum Literal<'a> {
    Text(&'a [u8]),
    Binary(&'a [u8]),
}

impl<'a> Parser<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Parser {
            buf,
            pos: 0,
            depth: 0,
            keys: 0,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands (top-down: dispatch first, then each command, then the pieces)
    // -----------------------------------------------------------------------------------------

    fn command_after_tag(&mut self) -> R<CommandBody> {
        if self.at_end() {
            return Err(self.fail(ParseErrorKind::MissingCommand));
        }
        self.sp_or(ParseErrorKind::Expected("a single space after the tag"))?;
        let name_at = self.pos;
        let name = self.word();
        if name.is_empty() {
            return Err(self.fail(ParseErrorKind::MissingCommand));
        }
        let upper = name.to_ascii_uppercase();
        let body = match upper.as_slice() {
            b"UID" => {
                self.sp()?;
                let sub_at = self.pos;
                let sub = self.word().to_ascii_uppercase();
                self.command(&sub, Addressing::Uid, sub_at)?
            }
            _ => self.command(&upper, Addressing::Sequence, name_at)?,
        };
        self.end()?;
        Ok(body)
    }

    fn command(&mut self, name: &[u8], addressing: Addressing, name_at: usize) -> R<CommandBody> {
        use CommandBody as C;
        // UID only prefixes the message commands (RFC 3501 §6.4.8, RFC 4315, RFC 6851, RFC 5256).
        if addressing == Addressing::Uid
            && !matches!(
                name,
                b"FETCH"
                    | b"SEARCH"
                    | b"STORE"
                    | b"COPY"
                    | b"MOVE"
                    | b"EXPUNGE"
                    | b"SORT"
                    | b"THREAD"
            )
        {
            return Err(Fail {
                kind: ParseErrorKind::Invalid(
                    "UID must be followed by FETCH, SEARCH, STORE, COPY, MOVE, EXPUNGE, SORT or THREAD",
                ),
                offset: name_at,
            });
        }
        Ok(match name {
            b"CAPABILITY" => C::Capability,
            b"NOOP" => C::Noop,
            b"LOGOUT" => C::Logout,
            b"STARTTLS" => C::StartTls,
            b"NAMESPACE" => C::Namespace,
            b"CLOSE" => C::Close,
            b"UNSELECT" => C::Unselect,
            b"CHECK" => C::Check,
            b"IDLE" => C::Idle,
            b"EXPUNGE" => match addressing {
                Addressing::Sequence => C::Expunge,
                Addressing::Uid => {
                    self.sp()?;
                    C::UidExpunge(self.sequence_arg()?)
                }
            },
            b"LOGIN" => {
                self.sp()?;
                let username = self.astring()?;
                self.sp()?;
                let password = self.astring()?;
                C::Login { username, password }
            }
            b"AUTHENTICATE" => self.authenticate()?,
            b"ID" => self.id()?,
            b"ENABLE" => self.enable()?,
            b"LIST" => C::List(self.list()?),
            b"LSUB" => {
                self.sp()?;
                let reference = self.mailbox()?;
                self.sp()?;
                let pattern = self.list_mailbox()?;
                C::Lsub { reference, pattern }
            }
            b"SUBSCRIBE" => C::Subscribe(self.sp_mailbox()?),
            b"UNSUBSCRIBE" => C::Unsubscribe(self.sp_mailbox()?),
            b"DELETE" => C::Delete(self.sp_mailbox()?),
            b"GETACL" => C::GetAcl(self.sp_mailbox()?),
            b"MYRIGHTS" => C::MyRights(self.sp_mailbox()?),
            b"GETQUOTAROOT" => C::GetQuotaRoot(self.sp_mailbox()?),
            b"GETQUOTA" => {
                self.sp()?;
                C::GetQuota(self.astring()?)
            }
            b"STATUS" => {
                let mailbox = self.sp_mailbox()?;
                self.sp()?;
                let items = self.status_items()?;
                C::Status { mailbox, items }
            }
            b"SELECT" => self.select(SelectAccess::ReadWrite)?,
            b"EXAMINE" => self.select(SelectAccess::ReadOnly)?,
            b"CREATE" => self.create()?,
            b"RENAME" => {
                let from = self.sp_mailbox()?;
                let to = self.sp_mailbox()?;
                C::Rename { from, to }
            }
            b"FETCH" => self.fetch(addressing)?,
            b"STORE" => self.store(addressing)?,
            b"SEARCH" => self.search(addressing)?,
            b"SORT" => self.sort(addressing)?,
            b"THREAD" => self.thread(addressing)?,
            b"COPY" | b"MOVE" => {
                self.sp()?;
                let set = self.sequence_arg()?;
                let mailbox = self.sp_mailbox()?;
                if name == b"COPY" {
                    C::Copy {
                        addressing,
                        set,
                        mailbox,
                    }
                } else {
                    C::Move {
                        addressing,
                        set,
                        mailbox,
                    }
                }
            }
            b"APPEND" => self.append()?,
            b"SETACL" => {
                let mailbox = self.sp_mailbox()?;
                self.sp()?;
                let identifier = self.astring()?;
                self.sp()?;
                let rights = self.astring()?;
                C::SetAcl {
                    mailbox,
                    identifier,
                    rights,
                }
            }
            b"DELETEACL" | b"LISTRIGHTS" => {
                let mailbox = self.sp_mailbox()?;
                self.sp()?;
                let identifier = self.astring()?;
                if name == b"DELETEACL" {
                    C::DeleteAcl {
                        mailbox,
                        identifier,
                    }
                } else {
                    C::ListRights {
                        mailbox,
                        identifier,
                    }
                }
            }
            b"COMPRESS" => {
                self.sp()?;
                let at = self.pos;
                let alg = self.word();
                if !alg.eq_ignore_ascii_case(b"DEFLATE") {
                    return Err(Fail {
                        kind: ParseErrorKind::Invalid("unknown compression algorithm"),
                        offset: at,
                    });
                }
                C::Compress(CompressionAlgorithm::Deflate)
            }
            _ => {
                let shown: String =
                    String::from_utf8_lossy(&name[..name.len().min(32)]).into_owned();
                return Err(Fail {
                    kind: ParseErrorKind::UnknownCommand(shown),
                    offset: name_at,
                });
            }
        })
    }

    /// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]` (RFC 4959 §7).
    fn authenticate(&mut self) -> R<CommandBody> {
        self.sp()?;
        let mech = self.atom()?;
        let mechanism = Atom::new(mech.as_str().to_ascii_uppercase().as_bytes())
            .ok_or_else(|| self.fail(ParseErrorKind::Expected("a SASL mechanism name")))?;
        let initial_response = if self.eat(b' ') {
            let at = self.pos;
            let text = self
                .take_while(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
            if text == b"=" {
                Some(InitialResponse::Empty)
            } else if is_base64(text) {
                Some(InitialResponse::Base64(text.to_vec()))
            } else {
                return Err(Fail {
                    kind: ParseErrorKind::Expected("base64 or '=' as SASL initial response"),
                    offset: at,
                });
            }
        } else {
            None
        };
        Ok(CommandBody::Authenticate {
            mechanism,
            initial_response,
        })
    }

    /// `id = "ID" SP id-params-list`; `id-params-list = "(" #(string SP nstring) ")" / nil`
    /// (RFC 2971 §4), bounded as §3.3 says.
    fn id(&mut self) -> R<CommandBody> {
        self.sp()?;
        if self.eat_keyword(b"NIL") {
            return Ok(CommandBody::Id(None));
        }
        self.expect(b'(', "'(' or NIL")?;
        let mut params = Vec::new();
        if !self.eat(b')') {
            loop {
                if params.len() >= MAX_ID_PAIRS {
                    return Err(self.too_many("ID fields", MAX_ID_PAIRS));
                }
                let at = self.pos;
                let field = self.string(LiteralForm::Text)?;
                if field.as_bytes().len() > MAX_ID_FIELD {
                    return Err(Fail {
                        kind: ParseErrorKind::Invalid("ID field name longer than 30 octets"),
                        offset: at,
                    });
                }
                self.sp()?;
                let at = self.pos;
                let value = self.nstring()?;
                if value
                    .as_ref()
                    .is_some_and(|v| v.as_bytes().len() > MAX_ID_VALUE)
                {
                    return Err(Fail {
                        kind: ParseErrorKind::Invalid("ID value longer than 1024 octets"),
                        offset: at,
                    });
                }
                params.push(IdParam { field, value });
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok(CommandBody::Id(Some(params)))
    }

    /// `enable = "ENABLE" 1*(SP capability)` (RFC 5161 §4).
    fn enable(&mut self) -> R<CommandBody> {
        let mut caps = Vec::new();
        self.sp()?;
        loop {
            if caps.len() >= MAX_LIST_ITEMS {
                return Err(self.too_many("capabilities", MAX_LIST_ITEMS));
            }
            caps.push(self.atom()?);
            if !self.eat(b' ') {
                break;
            }
        }
        Ok(CommandBody::Enable(caps))
    }

    /// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
    /// (RFC 5258 §6).
    fn list(&mut self) -> R<ListCommand> {
        self.sp()?;
        let mut selection = Vec::new();
        if self.eat(b'(') {
            if !self.eat(b')') {
                loop {
                    if selection.len() >= MAX_LIST_ITEMS {
                        return Err(self.too_many("LIST selection options", MAX_LIST_ITEMS));
                    }
                    let at = self.pos;
                    let opt = match self.word().to_ascii_uppercase().as_slice() {
                        b"SUBSCRIBED" => ListSelectOption::Subscribed,
                        b"REMOTE" => ListSelectOption::Remote,
                        b"RECURSIVEMATCH" => ListSelectOption::RecursiveMatch,
                        b"SPECIAL-USE" => ListSelectOption::SpecialUse,
                        _ => {
                            return Err(Fail {
                                kind: ParseErrorKind::Expected(
                                    "SUBSCRIBED, REMOTE, RECURSIVEMATCH or SPECIAL-USE",
                                ),
                                offset: at,
                            })
                        }
                    };
                    selection.push(opt);
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
            // RFC 5258 §3.1: RECURSIVEMATCH alone is a BAD.
            if selection.contains(&ListSelectOption::RecursiveMatch)
                && selection.iter().all(|o| {
                    matches!(
                        o,
                        ListSelectOption::RecursiveMatch | ListSelectOption::Remote
                    )
                })
            {
                return Err(self.fail(ParseErrorKind::Invalid(
                    "RECURSIVEMATCH needs another selection option (RFC 5258 §3.1)",
                )));
            }
            self.sp()?;
        }
        let reference = self.mailbox()?;
        self.sp()?;
        let mut patterns = Vec::new();
        if self.eat(b'(') {
            loop {
                if patterns.len() >= MAX_LIST_ITEMS {
                    return Err(self.too_many("LIST patterns", MAX_LIST_ITEMS));
                }
                patterns.push(self.list_mailbox()?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            patterns.push(self.list_mailbox()?);
        }
        let mut return_options = Vec::new();
        if self.peek() == Some(b' ') {
            self.pos += 1;
            if !self.eat_keyword(b"RETURN") {
                return Err(self.fail(ParseErrorKind::Expected("RETURN")));
            }
            self.sp()?;
            self.expect(b'(', "'(' after RETURN")?;
            if !self.eat(b')') {
                loop {
                    if return_options.len() >= MAX_LIST_ITEMS {
                        return Err(self.too_many("LIST return options", MAX_LIST_ITEMS));
                    }
                    let at = self.pos;
                    let opt = match self.word().to_ascii_uppercase().as_slice() {
                        b"SUBSCRIBED" => ListReturnOption::Subscribed,
                        b"CHILDREN" => ListReturnOption::Children,
                        b"SPECIAL-USE" => ListReturnOption::SpecialUse,
                        b"STATUS" => {
                            self.sp()?;
                            ListReturnOption::Status(self.status_items()?)
                        }
                        _ => {
                            return Err(Fail {
                                kind: ParseErrorKind::Expected(
                                    "SUBSCRIBED, CHILDREN, SPECIAL-USE or STATUS",
                                ),
                                offset: at,
                            })
                        }
                    };
                    return_options.push(opt);
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
        }
        Ok(ListCommand {
            selection,
            reference,
            patterns,
            return_options,
        })
    }

    /// `"(" status-att *(SP status-att) ")"`.
    fn status_items(&mut self) -> R<Vec<StatusItem>> {
        self.expect(b'(', "'(' before status items")?;
        let mut items = Vec::new();
        loop {
            if items.len() >= MAX_LIST_ITEMS {
                return Err(self.too_many("status items", MAX_LIST_ITEMS));
            }
            let at = self.pos;
            let item = match self.word().to_ascii_uppercase().as_slice() {
                b"MESSAGES" => StatusItem::Messages,
                b"RECENT" => StatusItem::Recent,
                b"UIDNEXT" => StatusItem::UidNext,
                b"UIDVALIDITY" => StatusItem::UidValidity,
                b"UNSEEN" => StatusItem::Unseen,
                b"DELETED" => StatusItem::Deleted,
                b"SIZE" => StatusItem::Size,
                b"HIGHESTMODSEQ" => StatusItem::HighestModSeq,
                b"APPENDLIMIT" => StatusItem::AppendLimit,
                b"MAILBOXID" => StatusItem::MailboxId,
                _ => {
                    return Err(Fail {
                        kind: ParseErrorKind::Expected("a STATUS item (MESSAGES, UIDNEXT, ...)"),
                        offset: at,
                    })
                }
            };
            items.push(item);
            if self.eat(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }

    /// `select = "SELECT" SP mailbox [select-params]` (RFC 4466 §2.2, RFC 7162 §7).
    fn select(&mut self, access: SelectAccess) -> R<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut params = Vec::new();
        if self.eat(b' ') {
            self.expect(b'(', "'(' before SELECT parameters")?;
            loop {
                if params.len() >= MAX_LIST_ITEMS {
                    return Err(self.too_many("SELECT parameters", MAX_LIST_ITEMS));
                }
                let at = self.pos;
                match self.word().to_ascii_uppercase().as_slice() {
                    b"CONDSTORE" => params.push(SelectParam::CondStore),
                    b"QRESYNC" => {
                        self.sp()?;
                        params.push(SelectParam::QResync(self.qresync()?));
                    }
                    _ => {
                        return Err(Fail {
                            kind: ParseErrorKind::Expected("CONDSTORE or QRESYNC"),
                            offset: at,
                        })
                    }
                }
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok(CommandBody::Select {
            access,
            mailbox,
            params,
        })
    }

    /// `"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"`.
    fn qresync(&mut self) -> R<QResync> {
        self.expect(b'(', "'(' after QRESYNC")?;
        let uid_validity = self.nz_number()?;
        self.sp()?;
        let mod_seq = self.mod_sequence_value()?;
        let mut known_uids = None;
        let mut seq_match = None;
        if self.eat(b' ') {
            if self.peek() != Some(b'(') {
                known_uids = Some(self.sequence_set_without_star()?);
                if self.eat(b' ') {
                    seq_match = Some(self.seq_match_data()?);
                }
            } else {
                seq_match = Some(self.seq_match_data()?);
            }
        }
        self.expect(b')', "')' to close QRESYNC parameters")?;
        Ok(QResync {
            uid_validity,
            mod_seq,
            known_uids,
            seq_match,
        })
    }

    fn seq_match_data(&mut self) -> R<(SequenceSet, SequenceSet)> {
        self.expect(b'(', "'(' before known sequence set")?;
        let seqs = self.sequence_set_without_star()?;
        self.sp()?;
        let uids = self.sequence_set_without_star()?;
        self.expect(b')', "')' after known UID set")?;
        Ok((seqs, uids))
    }

    /// `create = "CREATE" SP mailbox [create-params]`; only `USE (...)` (RFC 6154 §3) is known.
    fn create(&mut self) -> R<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut special_use = Vec::new();
        if self.eat(b' ') {
            self.expect(b'(', "'(' before CREATE parameters")?;
            if !self.eat_keyword(b"USE") {
                return Err(self.fail(ParseErrorKind::Expected("USE")));
            }
            self.sp()?;
            special_use = self.flag_list()?;
            self.expect(b')', "')' to close CREATE parameters")?;
        }
        Ok(CommandBody::Create {
            mailbox,
            special_use,
        })
    }

    /// `append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP (literal / literal8 /
    /// "UTF8" SP "(" literal8 ")")`.
    fn append(&mut self) -> R<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        self.sp()?;
        let mut flags = Vec::new();
        if self.peek() == Some(b'(') {
            flags = self.flag_list()?;
            self.sp()?;
        }
        let mut date = None;
        if self.peek() == Some(b'"') {
            date = Some(self.date_time()?);
            self.sp()?;
        }
        let message = match self.peek() {
            Some(b'{') | Some(b'~') => match self.literal(LiteralForm::TextOrBinary)? {
                Literal::Text(b) => AppendData::Text(b.to_vec()),
                Literal::Binary(b) => AppendData::Binary(b.to_vec()),
            },
            _ => {
                if !self.eat_keyword(b"UTF8") {
                    return Err(self.fail(ParseErrorKind::Expected("a literal with the message")));
                }
                self.sp()?;
                self.expect(b'(', "'(' after UTF8")?;
                let at = self.pos;
                let Literal::Binary(b) = self.literal(LiteralForm::TextOrBinary)? else {
                    return Err(Fail {
                        kind: ParseErrorKind::Expected("a literal8 (~{n}) after UTF8 ("),
                        offset: at,
                    });
                };
                self.expect(b')', "')' after the UTF8 literal")?;
                AppendData::Utf8(b.to_vec())
            }
        };
        Ok(CommandBody::Append {
            mailbox,
            flags,
            date,
            message,
        })
    }

    /// `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
    /// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]`.
    fn fetch(&mut self, addressing: Addressing) -> R<CommandBody> {
        self.sp()?;
        let set = self.sequence_arg()?;
        self.sp()?;
        let items = if self.eat(b'(') {
            let mut atts = Vec::new();
            loop {
                if atts.len() >= MAX_LIST_ITEMS {
                    return Err(self.too_many("FETCH attributes", MAX_LIST_ITEMS));
                }
                atts.push(self.fetch_att()?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
            FetchItems::Attributes(atts)
        } else {
            let save = self.pos;
            match self.word().to_ascii_uppercase().as_slice() {
                b"ALL" => FetchItems::All,
                b"FAST" => FetchItems::Fast,
                b"FULL" => FetchItems::Full,
                _ => {
                    self.pos = save;
                    FetchItems::Attributes(vec![self.fetch_att()?])
                }
            }
        };
        let mut modifiers = FetchModifiers::default();
        if self.eat(b' ') {
            self.expect(b'(', "'(' before FETCH modifiers")?;
            loop {
                let at = self.pos;
                match self.word().to_ascii_uppercase().as_slice() {
                    b"CHANGEDSINCE" => {
                        self.sp()?;
                        modifiers.changed_since = Some(self.mod_sequence_value()?);
                    }
                    b"VANISHED" => modifiers.vanished = Vanished::Report,
                    _ => {
                        return Err(Fail {
                            kind: ParseErrorKind::Expected("CHANGEDSINCE or VANISHED"),
                            offset: at,
                        })
                    }
                }
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
            // RFC 7162 §3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE, else BAD.
            if modifiers.vanished == Vanished::Report
                && (addressing != Addressing::Uid || modifiers.changed_since.is_none())
            {
                return Err(self.fail(ParseErrorKind::Invalid(
                    "VANISHED needs UID FETCH and CHANGEDSINCE (RFC 7162 §3.2.6)",
                )));
            }
        }
        Ok(CommandBody::Fetch {
            addressing,
            set,
            items,
            modifiers,
        })
    }

    /// One `fetch-att`.
    fn fetch_att(&mut self) -> R<FetchAttribute> {
        use FetchAttribute as A;
        let at = self.pos;
        let word = self.word().to_ascii_uppercase();
        Ok(match word.as_slice() {
            b"FLAGS" => A::Flags,
            b"INTERNALDATE" => A::InternalDate,
            b"RFC822.SIZE" => A::Rfc822Size,
            b"ENVELOPE" => A::Envelope,
            b"BODYSTRUCTURE" => A::BodyStructure,
            b"UID" => A::Uid,
            b"MODSEQ" => A::ModSeq,
            b"EMAILID" => A::EmailId,
            b"THREADID" => A::ThreadId,
            b"RFC822" => A::Rfc822,
            b"RFC822.HEADER" => A::Rfc822Header,
            b"RFC822.TEXT" => A::Rfc822Text,
            b"BODY" if self.peek() != Some(b'[') => A::Body,
            b"BODY" | b"BODY.PEEK" => {
                let seen = if word == b"BODY" {
                    SeenPolicy::MarkSeen
                } else {
                    SeenPolicy::Peek
                };
                let section = self.section()?;
                let partial = self.partial()?;
                A::BodySection {
                    seen,
                    section,
                    partial,
                }
            }
            b"BINARY" | b"BINARY.PEEK" => {
                let seen = if word == b"BINARY" {
                    SeenPolicy::MarkSeen
                } else {
                    SeenPolicy::Peek
                };
                let part = self.section_binary()?;
                let partial = self.partial()?;
                A::Binary {
                    seen,
                    part,
                    partial,
                }
            }
            b"BINARY.SIZE" => A::BinarySize {
                part: self.section_binary()?,
            },
            b"PREVIEW" => {
                // `"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]`, `preview-mod = "LAZY"`
                // (RFC 8970 §7). "PREVIEW (" could also start fetch modifiers: look ahead.
                let rest = self.rest();
                if rest.len() >= 6
                    && rest[..2] == *b" ("
                    && rest[2..6].eq_ignore_ascii_case(b"LAZY")
                {
                    self.pos += 6;
                    self.expect(b')', "')' after LAZY")?;
                    A::Preview(PreviewMode::Lazy)
                } else {
                    A::Preview(PreviewMode::Compute)
                }
            }
            _ => {
                return Err(Fail {
                    kind: ParseErrorKind::Expected("a FETCH attribute"),
                    offset: at,
                })
            }
        })
    }

    /// `section = "[" [section-spec] "]"` into [`Section`].
    fn section(&mut self) -> R<Section> {
        self.expect(b'[', "'[' to open a section")?;
        let mut section = Section::default();
        if self.eat(b']') {
            return Ok(section);
        }
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            section.part = self.section_part()?;
            if self.eat(b'.') {
                section.text = Some(self.section_text(true)?);
            }
        } else {
            section.text = Some(self.section_text(false)?);
        }
        self.expect(b']', "']' to close the section")?;
        Ok(section)
    }

    /// `section-part = nz-number *("." nz-number)`; stops before a `.` that is not followed by a
    /// digit (that one introduces a section-text).
    fn section_part(&mut self) -> R<Vec<u32>> {
        let mut parts = Vec::new();
        loop {
            if parts.len() >= MAX_SECTION_PARTS {
                return Err(self.too_many("section parts", MAX_SECTION_PARTS));
            }
            parts.push(self.nz_number()?.get());
            let next_is_part = self.peek() == Some(b'.')
                && self
                    .buf
                    .get(self.pos + 1)
                    .is_some_and(|b| b.is_ascii_digit());
            if !next_is_part {
                return Ok(parts);
            }
            self.pos += 1;
        }
    }

    /// `section-text = section-msgtext / "MIME"`; `MIME` only after a part.
    fn section_text(&mut self, after_part: bool) -> R<SectionText> {
        let at = self.pos;
        let word = self.word().to_ascii_uppercase();
        Ok(match word.as_slice() {
            b"HEADER" => SectionText::Header,
            b"TEXT" => SectionText::Text,
            b"MIME" if after_part => SectionText::Mime,
            b"HEADER.FIELDS" => {
                self.sp()?;
                SectionText::HeaderFields(self.header_list()?)
            }
            b"HEADER.FIELDS.NOT" => {
                self.sp()?;
                SectionText::HeaderFieldsNot(self.header_list()?)
            }
            _ => {
                return Err(Fail {
                    kind: ParseErrorKind::Expected(
                        "HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or (after a part) MIME",
                    ),
                    offset: at,
                })
            }
        })
    }

    /// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`.
    fn header_list(&mut self) -> R<Vec<String>> {
        self.expect(b'(', "'(' before header names")?;
        let mut names = Vec::new();
        loop {
            if names.len() >= MAX_LIST_ITEMS {
                return Err(self.too_many("header names", MAX_LIST_ITEMS));
            }
            let at = self.pos;
            let name = self.astring()?;
            let name = String::from_utf8(name.into_bytes())
                .ok()
                .filter(|s| {
                    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b':')
                })
                .ok_or(Fail {
                    kind: ParseErrorKind::Expected("a header field name"),
                    offset: at,
                })?;
            names.push(name);
            if self.eat(b')') {
                return Ok(names);
            }
            self.sp()?;
        }
    }

    /// `section-binary = "[" [section-part] "]"` (RFC 3516 §4.2).
    fn section_binary(&mut self) -> R<Vec<u32>> {
        self.expect(b'[', "'[' to open a binary section")?;
        if self.eat(b']') {
            return Ok(Vec::new());
        }
        let part = self.section_part()?;
        self.expect(b']', "']' to close the binary section")?;
        Ok(part)
    }

    /// `["<" number "." nz-number ">"]`.
    fn partial(&mut self) -> R<Option<Partial>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let offset = self.number()?;
        self.expect(b'.', "'.' in a partial range")?;
        let length = self.nz_number()?;
        self.expect(b'>', "'>' to close a partial range")?;
        Ok(Some(Partial { offset, length }))
    }

    /// `store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags`.
    fn store(&mut self, addressing: Addressing) -> R<CommandBody> {
        self.sp()?;
        let set = self.sequence_arg()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.eat(b'(') {
            loop {
                let at = self.pos;
                if self.word().eq_ignore_ascii_case(b"UNCHANGEDSINCE") {
                    self.sp()?;
                    unchanged_since = Some(self.mod_sequence_valzer()?);
                } else {
                    return Err(Fail {
                        kind: ParseErrorKind::Expected("UNCHANGEDSINCE"),
                        offset: at,
                    });
                }
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
            self.sp()?;
        }
        let kind = if self.eat(b'+') {
            StoreKind::Add
        } else if self.eat(b'-') {
            StoreKind::Remove
        } else {
            StoreKind::Replace
        };
        let at = self.pos;
        let response = match self.word().to_ascii_uppercase().as_slice() {
            b"FLAGS" => StoreResponse::Answer,
            b"FLAGS.SILENT" => StoreResponse::Silent,
            _ => {
                return Err(Fail {
                    kind: ParseErrorKind::Expected("FLAGS, +FLAGS or -FLAGS (optionally .SILENT)"),
                    offset: at,
                })
            }
        };
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            let mut flags = Vec::new();
            loop {
                if flags.len() >= MAX_LIST_ITEMS {
                    return Err(self.too_many("flags", MAX_LIST_ITEMS));
                }
                flags.push(self.flag()?);
                if !self.eat(b' ') {
                    break;
                }
            }
            flags
        };
        Ok(CommandBody::Store {
            addressing,
            set,
            action: StoreAction {
                kind,
                response,
                flags,
            },
            unchanged_since,
        })
    }

    /// `search = "SEARCH" [search-return-opts] SP search-program`.
    fn search(&mut self, addressing: Addressing) -> R<CommandBody> {
        let ret = self.search_return_opts()?;
        self.sp()?;
        let mut charset = None;
        if self.eat_keyword(b"CHARSET") {
            self.sp()?;
            charset = Some(self.astring()?);
            self.sp()?;
        }
        let criteria = self.search_keys()?;
        Ok(CommandBody::Search {
            addressing,
            ret,
            charset,
            criteria,
        })
    }

    /// `search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"`
    /// (RFC 4466 §2.6); `RETURN ()` means `RETURN (ALL)` (RFC 4731 §3.1).
    fn search_return_opts(&mut self) -> R<Option<Vec<SearchReturnOption>>> {
        let rest = self.rest();
        if !(rest.len() >= 8
            && rest[0] == b' '
            && rest[1..7].eq_ignore_ascii_case(b"RETURN")
            && rest[7] == b' ')
        {
            return Ok(None);
        }
        self.pos += 8;
        self.expect(b'(', "'(' after RETURN")?;
        let mut opts = Vec::new();
        if !self.eat(b')') {
            loop {
                if opts.len() >= MAX_LIST_ITEMS {
                    return Err(self.too_many("RETURN options", MAX_LIST_ITEMS));
                }
                let at = self.pos;
                let opt = match self.word().to_ascii_uppercase().as_slice() {
                    b"MIN" => SearchReturnOption::Min,
                    b"MAX" => SearchReturnOption::Max,
                    b"ALL" => SearchReturnOption::All,
                    b"COUNT" => SearchReturnOption::Count,
                    b"SAVE" => SearchReturnOption::Save,
                    _ => {
                        return Err(Fail {
                            kind: ParseErrorKind::Expected("MIN, MAX, ALL, COUNT or SAVE"),
                            offset: at,
                        })
                    }
                };
                opts.push(opt);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        if opts.is_empty() {
            opts.push(SearchReturnOption::All);
        }
        Ok(Some(opts))
    }

    /// `sort = "SORT" [search-return-opts] SP sort-criteria SP search-charset
    /// 1*(SP search-key)` (RFC 5256 §5, RFC 5267 §3.2).
    fn sort(&mut self, addressing: Addressing) -> R<CommandBody> {
        let ret = self.search_return_opts()?;
        self.sp()?;
        self.expect(b'(', "'(' before sort criteria")?;
        let mut criteria = Vec::new();
        loop {
            if criteria.len() >= MAX_LIST_ITEMS {
                return Err(self.too_many("sort criteria", MAX_LIST_ITEMS));
            }
            let mut order = SortOrder::Ascending;
            let at = self.pos;
            let mut word = self.word().to_ascii_uppercase();
            if word == b"REVERSE" {
                order = SortOrder::Reverse;
                self.sp()?;
                word = self.word().to_ascii_uppercase();
            }
            let key = match word.as_slice() {
                b"ARRIVAL" => SortKey::Arrival,
                b"CC" => SortKey::Cc,
                b"DATE" => SortKey::Date,
                b"FROM" => SortKey::From,
                b"SIZE" => SortKey::Size,
                b"SUBJECT" => SortKey::Subject,
                b"TO" => SortKey::To,
                b"DISPLAYFROM" => SortKey::DisplayFrom,
                b"DISPLAYTO" => SortKey::DisplayTo,
                _ => {
                    return Err(Fail {
                        kind: ParseErrorKind::Expected("a sort key (ARRIVAL, DATE, FROM, ...)"),
                        offset: at,
                    })
                }
            };
            criteria.push(SortCriterion { order, key });
            if self.eat(b')') {
                break;
            }
            self.sp()?;
        }
        self.sp()?;
        let charset = self.astring()?;
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Sort {
            addressing,
            ret,
            criteria,
            charset,
            search,
        })
    }

    /// `thread = "THREAD" SP thread-alg SP search-charset 1*(SP search-key)` (RFC 5256 §5).
    fn thread(&mut self, addressing: Addressing) -> R<CommandBody> {
        self.sp()?;
        let alg = self.atom()?;
        let algorithm = match alg.as_str().to_ascii_uppercase().as_str() {
            "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
            "REFERENCES" => ThreadAlgorithm::References,
            _ => ThreadAlgorithm::Other(alg),
        };
        self.sp()?;
        let charset = self.astring()?;
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Thread {
            addressing,
            algorithm,
            charset,
            search,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Search keys
    // -----------------------------------------------------------------------------------------

    /// `search-key *(SP search-key)` up to the end of the command: one key, or their `And`.
    fn search_keys(&mut self) -> R<SearchKey> {
        let mut keys = vec![self.search_key()?];
        while self.peek() == Some(b' ') {
            self.pos += 1;
            keys.push(self.search_key()?);
        }
        Ok(if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        })
    }

    /// One `search-key`. Recursive for `NOT`, `OR` and parentheses, with the depth capped at
    /// [`MAX_SEARCH_DEPTH`] and the total count at [`MAX_SEARCH_KEYS`].
    fn search_key(&mut self) -> R<SearchKey> {
        use SearchKey as K;
        self.keys += 1;
        if self.keys > MAX_SEARCH_KEYS {
            return Err(self.too_many("search keys", MAX_SEARCH_KEYS));
        }
        if self.depth >= MAX_SEARCH_DEPTH {
            return Err(self.fail(ParseErrorKind::TooDeep(MAX_SEARCH_DEPTH)));
        }
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                self.depth += 1;
                let mut keys = vec![self.search_key()?];
                while !self.eat(b')') {
                    self.sp_or(ParseErrorKind::Expected("SP or ')' in a search key list"))?;
                    keys.push(self.search_key()?);
                }
                self.depth -= 1;
                return Ok(if keys.len() == 1 {
                    keys.pop().unwrap_or(K::All)
                } else {
                    K::And(keys)
                });
            }
            Some(b'$') => {
                self.pos += 1;
                return Ok(K::SequenceSet(SequenceArg::SavedResult));
            }
            Some(b) if b.is_ascii_digit() || b == b'*' => {
                return Ok(K::SequenceSet(self.sequence_arg()?));
            }
            _ => {}
        }
        let at = self.pos;
        let word = self.word();
        if word.eq_ignore_ascii_case(b"NOT") {
            self.sp()?;
            self.depth += 1;
            let k = self.search_key()?;
            self.depth -= 1;
            return Ok(K::Not(Box::new(k)));
        }
        if word.eq_ignore_ascii_case(b"OR") {
            self.sp()?;
            self.depth += 1;
            let a = self.search_key()?;
            self.sp()?;
            let b = self.search_key()?;
            self.depth -= 1;
            return Ok(K::Or(Box::new(a), Box::new(b)));
        }
        self.leaf_key(word, at)
    }

    /// A search key that holds no other key. Kept out of [`Self::search_key`] so that the
    /// recursive function's stack frame stays small (debug builds give every arm's locals their
    /// own slot).
    #[inline(never)]
    fn leaf_key(&mut self, word: &[u8], at: usize) -> R<SearchKey> {
        use SearchKey as K;
        let word = word.to_ascii_uppercase();
        Ok(match word.as_slice() {
            b"ALL" => K::All,
            b"ANSWERED" => K::Answered,
            b"DELETED" => K::Deleted,
            b"DRAFT" => K::Draft,
            b"FLAGGED" => K::Flagged,
            b"NEW" => K::New,
            b"OLD" => K::Old,
            b"RECENT" => K::Recent,
            b"SEEN" => K::Seen,
            b"UNANSWERED" => K::Unanswered,
            b"UNDELETED" => K::Undeleted,
            b"UNDRAFT" => K::Undraft,
            b"UNFLAGGED" => K::Unflagged,
            b"UNSEEN" => K::Unseen,
            b"BCC" => K::Bcc(self.sp_astring()?),
            b"BODY" => K::Body(self.sp_astring()?),
            b"CC" => K::Cc(self.sp_astring()?),
            b"FROM" => K::From(self.sp_astring()?),
            b"SUBJECT" => K::Subject(self.sp_astring()?),
            b"TEXT" => K::Text(self.sp_astring()?),
            b"TO" => K::To(self.sp_astring()?),
            b"HEADER" => {
                let name = self.sp_astring()?;
                K::Header(name, self.sp_astring()?)
            }
            b"BEFORE" => K::Before(self.sp_date()?),
            b"ON" => K::On(self.sp_date()?),
            b"SINCE" => K::Since(self.sp_date()?),
            b"SENTBEFORE" => K::SentBefore(self.sp_date()?),
            b"SENTON" => K::SentOn(self.sp_date()?),
            b"SENTSINCE" => K::SentSince(self.sp_date()?),
            b"KEYWORD" => {
                self.sp()?;
                K::Keyword(self.atom()?)
            }
            b"UNKEYWORD" => {
                self.sp()?;
                K::Unkeyword(self.atom()?)
            }
            b"LARGER" => {
                self.sp()?;
                K::Larger(self.number()?)
            }
            b"SMALLER" => {
                self.sp()?;
                K::Smaller(self.number()?)
            }
            b"UID" => {
                self.sp()?;
                K::Uid(self.sequence_arg()?)
            }
            b"OLDER" => {
                self.sp()?;
                K::Older(self.nz_number()?)
            }
            b"YOUNGER" => {
                self.sp()?;
                K::Younger(self.nz_number()?)
            }
            b"EMAILID" | b"THREADID" => {
                self.sp()?;
                let id_at = self.pos;
                let text = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                let id = ObjectId::new(text).ok_or(Fail {
                    kind: ParseErrorKind::Expected("an object id (1 to 255 of A-Z a-z 0-9 _ -)"),
                    offset: id_at,
                })?;
                if word == b"EMAILID" {
                    K::EmailId(id)
                } else {
                    K::ThreadId(id)
                }
            }
            b"MODSEQ" => {
                self.sp()?;
                let mut entry = None;
                if self.peek() == Some(b'"') {
                    let name = self.string(LiteralForm::Text)?;
                    self.sp()?;
                    let t_at = self.pos;
                    let t = match self.word().to_ascii_lowercase().as_slice() {
                        b"priv" => EntryType::Private,
                        b"shared" => EntryType::Shared,
                        b"all" => EntryType::All,
                        _ => {
                            return Err(Fail {
                                kind: ParseErrorKind::Expected("priv, shared or all"),
                                offset: t_at,
                            })
                        }
                    };
                    self.sp()?;
                    entry = Some((name, t));
                }
                K::ModSeq {
                    entry,
                    mod_seq: self.mod_sequence_valzer()?,
                }
            }
            _ => {
                return Err(Fail {
                    kind: ParseErrorKind::Expected("a search key"),
                    offset: at,
                })
            }
        })
    }

    // -----------------------------------------------------------------------------------------
    // Pieces: strings, numbers, dates, flags, sequence sets
    // -----------------------------------------------------------------------------------------

    fn sp_mailbox(&mut self) -> R<Mailbox> {
        self.sp()?;
        self.mailbox()
    }

    fn sp_astring(&mut self) -> R<AString> {
        self.sp()?;
        self.astring()
    }

    fn sp_date(&mut self) -> R<Date> {
        self.sp()?;
        self.date()
    }

    /// `mailbox = "INBOX" / astring`.
    fn mailbox(&mut self) -> R<Mailbox> {
        let at = self.pos;
        let s = self.astring()?;
        Mailbox::new(s.into_bytes()).ok_or(Fail {
            kind: ParseErrorKind::String("NUL in mailbox name"),
            offset: at,
        })
    }

    /// `list-mailbox = 1*list-char / string`.
    fn list_mailbox(&mut self) -> R<ListMailbox> {
        let at = self.pos;
        let bytes = match self.peek() {
            Some(b'"') | Some(b'{') => self.string(LiteralForm::Text)?.into_bytes(),
            _ => {
                let t = self.take_while(is_list_char);
                if t.is_empty() {
                    return Err(self.fail(ParseErrorKind::Expected("a mailbox name or pattern")));
                }
                t.to_vec()
            }
        };
        ListMailbox::new(bytes).ok_or(Fail {
            kind: ParseErrorKind::String("NUL in mailbox pattern"),
            offset: at,
        })
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    fn astring(&mut self) -> R<AString> {
        if self.rest().starts_with(b"~{") {
            // Not an atom ("{" is not an ATOM-CHAR): report the misplaced literal8.
            return self.string(LiteralForm::Text);
        }
        match self.peek() {
            Some(b'"') | Some(b'{') => self.string(LiteralForm::Text),
            _ => {
                let t = self.take_while(is_astring_char);
                if t.is_empty() {
                    return Err(self.fail(ParseErrorKind::Expected(
                        "an atom, quoted string or literal",
                    )));
                }
                AString::new(t.to_vec())
                    .ok_or_else(|| self.fail(ParseErrorKind::String("NUL is not allowed here")))
            }
        }
    }

    /// `nstring = string / nil`.
    fn nstring(&mut self) -> R<NString> {
        if self.eat_keyword(b"NIL") {
            return Ok(None);
        }
        self.string(LiteralForm::Text).map(Some)
    }

    /// `string = quoted / literal`.
    fn string(&mut self, form: LiteralForm) -> R<AString> {
        let at = self.pos;
        let bytes = match self.peek() {
            Some(b'"') => self.quoted()?,
            Some(b'{') | Some(b'~') => match self.literal(form)? {
                Literal::Text(b) | Literal::Binary(b) => b.to_vec(),
            },
            _ => return Err(self.fail(ParseErrorKind::Expected("a quoted string or literal"))),
        };
        AString::new(bytes).ok_or(Fail {
            kind: ParseErrorKind::String("NUL is not allowed here"),
            offset: at,
        })
    }

    /// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`; `QUOTED-CHAR = <any TEXT-CHAR except
    /// quoted-specials> / "\" quoted-specials / UTF8-2 / UTF8-3 / UTF8-4` (RFC 9051 §9).
    fn quoted(&mut self) -> R<Vec<u8>> {
        let start = self.pos;
        self.expect(b'"', "'\"'")?;
        let mut out = Vec::new();
        let mut eight_bit = false;
        loop {
            let Some(b) = self.peek() else {
                return Err(Fail {
                    kind: ParseErrorKind::String("quoted string not closed"),
                    offset: start,
                });
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => match self.peek() {
                    Some(c @ (b'"' | b'\\')) => {
                        self.pos += 1;
                        out.push(c);
                    }
                    _ => {
                        return Err(self.fail(ParseErrorKind::String(
                            "in a quoted string, '\\' may only escape '\"' or '\\'",
                        )))
                    }
                },
                0 | b'\r' | b'\n' => {
                    return Err(Fail {
                        kind: ParseErrorKind::String(
                            "NUL, CR or LF in a quoted string (use a literal)",
                        ),
                        offset: self.pos - 1,
                    })
                }
                _ => {
                    eight_bit |= b >= 0x80;
                    out.push(b);
                }
            }
        }
        if eight_bit && std::str::from_utf8(&out).is_err() {
            return Err(Fail {
                kind: ParseErrorKind::String("8-bit data in a quoted string must be UTF-8"),
                offset: start,
            });
        }
        Ok(out)
    }

    /// `literal = "{" number64 ["+"] "}" CRLF *CHAR8` / `literal8 = "~{" number64 ["+"] "}" CRLF
    /// *OCTET`. The length is checked against what is left of the buffer before any copy.
    fn literal(&mut self, form: LiteralForm) -> R<Literal<'a>> {
        let start = self.pos;
        let binary = self.eat(b'~');
        if binary && form != LiteralForm::TextOrBinary {
            return Err(Fail {
                kind: ParseErrorKind::Literal("literal8 (~{n}) is only allowed in APPEND"),
                offset: start,
            });
        }
        self.expect(b'{', "'{'")?;
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(self.fail(ParseErrorKind::Literal("missing length")));
        }
        let mut len: u64 = 0;
        for &d in digits {
            len = len
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or(Fail {
                    kind: ParseErrorKind::Literal("length too large"),
                    offset: start,
                })?;
        }
        self.eat(b'+');
        self.expect(b'}', "'}' to close the literal length")?;
        if !(self.eat_slice(b"\r\n") || self.eat(b'\n')) {
            return Err(self.fail(ParseErrorKind::Literal(
                "the length must be followed by CRLF",
            )));
        }
        let remaining = self.rest().len() as u64;
        if len > remaining {
            return Err(Fail {
                kind: ParseErrorKind::Literal("length exceeds the data sent"),
                offset: start,
            });
        }
        // len <= remaining <= usize::MAX, so the conversion holds.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        if binary {
            Ok(Literal::Binary(bytes))
        } else if bytes.contains(&0) {
            Err(Fail {
                kind: ParseErrorKind::Literal(
                    "NUL in a literal (use literal8 ~{n} for binary data)",
                ),
                offset: start,
            })
        } else {
            Ok(Literal::Text(bytes))
        }
    }

    fn atom(&mut self) -> R<Atom> {
        let t = self.take_while(is_atom_char);
        Atom::new(t).ok_or_else(|| self.fail(ParseErrorKind::Expected("an atom")))
    }

    /// `flag-list = "(" [flag *(SP flag)] ")"`.
    fn flag_list(&mut self) -> R<Vec<Flag>> {
        self.expect(b'(', "'(' to open a flag list")?;
        let mut flags = Vec::new();
        if self.eat(b')') {
            return Ok(flags);
        }
        loop {
            if flags.len() >= MAX_LIST_ITEMS {
                return Err(self.too_many("flags", MAX_LIST_ITEMS));
            }
            flags.push(self.flag()?);
            if self.eat(b')') {
                return Ok(flags);
            }
            self.sp()?;
        }
    }

    /// `flag = "\" atom / atom` (system flags, flag-extension, flag-keyword).
    fn flag(&mut self) -> R<Flag> {
        let start = self.pos;
        self.eat(b'\\');
        self.take_while(is_atom_char);
        Flag::new(&self.buf[start..self.pos]).ok_or(Fail {
            kind: ParseErrorKind::Expected("a flag"),
            offset: start,
        })
    }

    /// `sequence-set / "$"`.
    fn sequence_arg(&mut self) -> R<SequenceArg> {
        if self.eat(b'$') {
            return Ok(SequenceArg::SavedResult);
        }
        let at = self.pos;
        let (set, used) = SequenceSet::parse_prefix(self.rest()).map_err(|e| Fail {
            kind: ParseErrorKind::Sequence(e),
            offset: at,
        })?;
        self.pos += used;
        Ok(SequenceArg::Set(set))
    }

    /// A sequence set in which `*` is not allowed (QRESYNC known-uids, RFC 7162 §7).
    fn sequence_set_without_star(&mut self) -> R<SequenceSet> {
        let at = self.pos;
        match self.sequence_arg()? {
            SequenceArg::Set(s) if !s.uses_largest() => Ok(s),
            _ => Err(Fail {
                kind: ParseErrorKind::Invalid("'*' and '$' are not allowed in this sequence set"),
                offset: at,
            }),
        }
    }

    /// `date = date-text / DQUOTE date-text DQUOTE`; `date-text = date-day "-" date-month "-"
    /// date-year`; `date-day = 1*2DIGIT`.
    fn date(&mut self) -> R<Date> {
        let at = self.pos;
        let quoted = self.eat(b'"');
        let day = self.digits(1, 2).ok_or(Fail {
            kind: ParseErrorKind::Date,
            offset: at,
        })?;
        let date = self.date_rest(day, at)?;
        if quoted && !self.eat(b'"') {
            return Err(Fail {
                kind: ParseErrorKind::Date,
                offset: at,
            });
        }
        Ok(date)
    }

    /// `"-" date-month "-" date-year` after the day.
    fn date_rest(&mut self, day: u32, at: usize) -> R<Date> {
        let bad = || Fail {
            kind: ParseErrorKind::Date,
            offset: at,
        };
        if !self.eat(b'-') {
            return Err(bad());
        }
        let m = self.rest().get(..3).ok_or_else(bad)?;
        let month = MONTHS
            .iter()
            .position(|name| name.as_bytes().eq_ignore_ascii_case(m))
            .ok_or_else(bad)?;
        self.pos += 3;
        if !self.eat(b'-') {
            return Err(bad());
        }
        let year = self.digits(4, 4).ok_or_else(bad)?;
        // month < 12, day < 100, year < 10000: the conversions hold.
        Date::new(year as u16, month as u8 + 1, day as u8).ok_or_else(bad)
    }

    /// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`;
    /// `date-day-fixed = (SP DIGIT) / 2DIGIT`; `time = 2DIGIT ":" 2DIGIT ":" 2DIGIT`;
    /// `zone = ("+" / "-") 4DIGIT`.
    fn date_time(&mut self) -> R<DateTime> {
        let at = self.pos;
        let bad = Fail {
            kind: ParseErrorKind::Date,
            offset: at,
        };
        if !self.eat(b'"') {
            return Err(bad);
        }
        let day = if self.eat(b' ') {
            self.digits(1, 1)
        } else {
            self.digits(2, 2)
        };
        let Some(day) = day else { return Err(bad) };
        let date = self.date_rest(day, at)?;
        let mut time = [0u32; 3];
        for (i, t) in time.iter_mut().enumerate() {
            let sep = if i == 0 { b' ' } else { b':' };
            if !self.eat(sep) {
                return Err(bad);
            }
            let Some(v) = self.digits(2, 2) else {
                return Err(bad);
            };
            *t = v;
        }
        if !self.eat(b' ') {
            return Err(bad);
        }
        let sign: i16 = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Err(bad);
        };
        let Some(zone) = self.digits(4, 4) else {
            return Err(bad);
        };
        if !self.eat(b'"') {
            return Err(bad);
        }
        let (zh, zm) = (zone / 100, zone % 100);
        if time[0] > 23 || time[1] > 59 || time[2] > 60 || zh > 23 || zm > 59 {
            return Err(bad);
        }
        // All values were range-checked above.
        Ok(DateTime {
            date,
            hour: time[0] as u8,
            minute: time[1] as u8,
            second: time[2] as u8,
            zone_minutes: sign * (zh * 60 + zm) as i16,
        })
    }

    /// Between `min` and `max` ASCII digits as a number (max ≤ 4, so no overflow).
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let n = self
            .rest()
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min {
            return None;
        }
        let v = self.rest()[..n]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        self.pos += n;
        Some(v)
    }

    /// `number = 1*DIGIT` (32-bit unsigned).
    fn number(&mut self) -> R<u32> {
        let v = self.number64()?;
        u32::try_from(v).map_err(|_| self.fail(ParseErrorKind::Number))
    }

    /// `nz-number = digit-nz *DIGIT`.
    fn nz_number(&mut self) -> R<NonZeroU32> {
        let at = self.pos;
        let v = self.number()?;
        NonZeroU32::new(v).ok_or(Fail {
            kind: ParseErrorKind::Number,
            offset: at,
        })
    }

    /// `mod-sequence-value = 1*DIGIT` (1 to 2^63-1, RFC 7162 §7).
    fn mod_sequence_value(&mut self) -> R<NonZeroU64> {
        let at = self.pos;
        let v = self.mod_sequence_valzer()?;
        NonZeroU64::new(v).ok_or(Fail {
            kind: ParseErrorKind::Number,
            offset: at,
        })
    }

    /// `mod-sequence-valzer = "0" / mod-sequence-value` (0 to 2^63-1).
    fn mod_sequence_valzer(&mut self) -> R<u64> {
        let at = self.pos;
        let v = self.number64()?;
        if v > i64::MAX as u64 {
            return Err(Fail {
                kind: ParseErrorKind::Number,
                offset: at,
            });
        }
        Ok(v)
    }

    fn number64(&mut self) -> R<u64> {
        let at = self.pos;
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(Fail {
                kind: ParseErrorKind::Expected("a number"),
                offset: at,
            });
        }
        let mut v: u64 = 0;
        for &d in digits {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or(Fail {
                    kind: ParseErrorKind::Number,
                    offset: at,
                })?;
        }
        Ok(v)
    }

    // -----------------------------------------------------------------------------------------
    // Cursor
    // -----------------------------------------------------------------------------------------

    fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos.min(self.buf.len())..]
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_slice(&mut self, s: &[u8]) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Consumes `kw` (case-insensitive) if it is there and is a whole word.
    fn eat_keyword(&mut self, kw: &[u8]) -> bool {
        let rest = self.rest();
        if rest.len() >= kw.len()
            && rest[..kw.len()].eq_ignore_ascii_case(kw)
            && !rest.get(kw.len()).is_some_and(|&b| is_word_char(b))
        {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    /// A keyword-like word: letters, digits, `.`, `-` (command names, options, fetch items).
    fn word(&mut self) -> &'a [u8] {
        self.take_while(is_word_char)
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = self.rest();
        let n = rest.iter().take_while(|&&b| f(b)).count();
        self.pos += n;
        &rest[..n]
    }

    fn sp(&mut self) -> R<()> {
        self.sp_or(ParseErrorKind::Expected("a single space"))
    }

    fn sp_or(&mut self, kind: ParseErrorKind) -> R<()> {
        if self.eat(b' ') {
            Ok(())
        } else {
            Err(self.fail(kind))
        }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> R<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.fail(ParseErrorKind::Expected(what)))
        }
    }

    fn at_end(&self) -> bool {
        matches!(self.rest(), b"" | b"\r\n" | b"\n")
    }

    /// The command must end here (optionally with its CRLF).
    fn end(&mut self) -> R<()> {
        if self.at_end() {
            self.pos = self.buf.len();
            Ok(())
        } else {
            Err(self.fail(ParseErrorKind::Trailing))
        }
    }

    fn fail(&self, kind: ParseErrorKind) -> Fail {
        Fail {
            kind,
            offset: self.pos,
        }
    }

    fn too_many(&self, what: &'static str, limit: usize) -> Fail {
        self.fail(ParseErrorKind::TooMany { what, limit })
    }
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// `base64 = *(4base64-char) [base64-terminal]` (RFC 3501 §9), non-empty.
fn is_base64(t: &[u8]) -> bool {
    if t.is_empty() || t.len() % 4 != 0 {
        return false;
    }
    let pad = t.iter().rev().take_while(|&&b| b == b'=').count();
    pad <= 2
        && t[..t.len() - pad]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests;
