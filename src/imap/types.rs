//! The command types: what a client can ask, as the RFC grammar names it.
//!
//! Owns: [`Command`] and every value type a command carries (tags, strings, mailbox names,
//! flags, dates, FETCH items, search keys, ...). A value that exists is valid: constructors check
//! the grammar. Does not own parsing (see [`super::parser`]) or what a command *does*.
//!
//! References: RFC 3501 §9 and RFC 9051 §9 (formal syntax), plus the extension RFCs cited on
//! each type.

use std::borrow::Cow;
use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use super::limits::{MAX_OBJECT_ID, MAX_TAG};
use super::mutf7;
use super::sequence::SequenceArg;
use super::sequence::SequenceSet;
use crate::mime::Section;

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// One tagged command: `command = tag SP (command-any / command-auth / command-nonauth /
/// command-select) CRLF` (RFC 3501 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag, echoed in the tagged completion.
    pub tag: Tag,
    /// What is asked.
    pub body: CommandBody,
}

/// Whether a command names messages by sequence number or by UID (`"UID" SP ...`,
/// RFC 3501 §6.4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Addressing {
    /// Message sequence numbers.
    Sequence,
    /// UIDs (the command was prefixed by `UID`).
    Uid,
}

/// SELECT opens a mailbox read-write, EXAMINE read-only (RFC 3501 §6.3.1, §6.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectAccess {
    /// `SELECT`.
    ReadWrite,
    /// `EXAMINE`.
    ReadOnly,
}

/// The body of a command, one variant per command (UID forms share their variant with an
/// [`Addressing`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// `CAPABILITY` (RFC 3501 §6.1.1).
    Capability,
    /// `NOOP` (RFC 3501 §6.1.2).
    Noop,
    /// `LOGOUT` (RFC 3501 §6.1.3).
    Logout,
    /// `STARTTLS` (RFC 3501 §6.2.1).
    StartTls,
    /// `login = "LOGIN" SP userid SP password` (RFC 3501 §6.2.3).
    Login {
        /// `userid = astring`.
        username: AString,
        /// `password = astring`.
        password: AString,
    },
    /// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]`
    /// (RFC 3501 §6.2.2, initial response per RFC 4959).
    Authenticate {
        /// `auth-type = atom`, upper-cased.
        mechanism: Atom,
        /// The SASL-IR initial response, if sent.
        initial_response: Option<InitialResponse>,
    },
    /// `id = "ID" SP id-params-list` (RFC 2971 §4); `None` for `ID NIL`.
    Id(Option<Vec<IdParam>>),
    /// `enable = "ENABLE" 1*(SP capability)` (RFC 5161 §4).
    Enable(Vec<Atom>),
    /// `NAMESPACE` (RFC 2342 §5).
    Namespace,
    /// `LIST`, basic or extended (RFC 3501 §6.3.8, RFC 5258 §6).
    List(ListCommand),
    /// `lsub = "LSUB" SP mailbox SP list-mailbox` (RFC 3501 §6.3.9).
    Lsub {
        /// Reference name.
        reference: Mailbox,
        /// Mailbox name with possible wildcards.
        pattern: ListMailbox,
    },
    /// `subscribe = "SUBSCRIBE" SP mailbox` (RFC 3501 §6.3.6).
    Subscribe(Mailbox),
    /// `unsubscribe = "UNSUBSCRIBE" SP mailbox` (RFC 3501 §6.3.7).
    Unsubscribe(Mailbox),
    /// `status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"` (RFC 3501 §6.3.10).
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// The items asked, in order, at least one.
        items: Vec<StatusItem>,
    },
    /// `select = "SELECT" SP mailbox [select-params]`, same for `EXAMINE`
    /// (RFC 3501 §6.3.1–2, RFC 4466 §2.2, RFC 7162 §3.1.8 and §3.2.5).
    Select {
        /// SELECT or EXAMINE.
        access: SelectAccess,
        /// The mailbox.
        mailbox: Mailbox,
        /// `select-params`, possibly empty.
        params: Vec<SelectParam>,
    },
    /// `CLOSE` (RFC 3501 §6.4.2).
    Close,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `CHECK` (RFC 3501 §6.4.1).
    Check,
    /// `EXPUNGE` (RFC 3501 §6.4.3).
    Expunge,
    /// `"UID" SP "EXPUNGE" SP sequence-set` (RFC 4315 §2.1, RFC 9051 §6.4.9).
    UidExpunge(SequenceArg),
    /// `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
    /// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]` (RFC 3501 §6.4.5, RFC 4466 §2.4).
    Fetch {
        /// Sequence numbers or UIDs.
        addressing: Addressing,
        /// Which messages.
        set: SequenceArg,
        /// What to return.
        items: FetchItems,
        /// `CHANGEDSINCE` / `VANISHED` (RFC 7162 §3.1.4, §3.2.6).
        modifiers: FetchModifiers,
    },
    /// `store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags`
    /// (RFC 3501 §6.4.6, RFC 7162 §3.1.3).
    Store {
        /// Sequence numbers or UIDs.
        addressing: Addressing,
        /// Which messages.
        set: SequenceArg,
        /// What to do to the flags.
        action: StoreAction,
        /// `UNCHANGEDSINCE mod-sequence-valzer`, if given.
        unchanged_since: Option<u64>,
    },
    /// `search = "SEARCH" [search-return-opts] SP search-program`
    /// (RFC 3501 §6.4.4, RFC 4466 §2.6, RFC 4731, RFC 5182).
    Search {
        /// Sequence numbers or UIDs.
        addressing: Addressing,
        /// `RETURN (...)`; `None` when absent (plain `* SEARCH` answer).
        ret: Option<Vec<SearchReturnOption>>,
        /// `CHARSET`, if given.
        charset: Option<AString>,
        /// The keys; several keys mean their conjunction.
        criteria: SearchKey,
    },
    /// `sort = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP search-charset
    /// 1*(SP search-key)` (RFC 5256 §5, RFC 5267 §3.2).
    Sort {
        /// Sequence numbers or UIDs.
        addressing: Addressing,
        /// ESORT `RETURN (...)`.
        ret: Option<Vec<SearchReturnOption>>,
        /// At least one criterion.
        criteria: Vec<SortCriterion>,
        /// `search-charset = astring` (mandatory for SORT).
        charset: AString,
        /// The search keys.
        search: SearchKey,
    },
    /// `thread = ["UID" SP] "THREAD" SP thread-alg SP search-charset 1*(SP search-key)`
    /// (RFC 5256 §5).
    Thread {
        /// Sequence numbers or UIDs.
        addressing: Addressing,
        /// The threading algorithm.
        algorithm: ThreadAlgorithm,
        /// `search-charset`.
        charset: AString,
        /// The search keys.
        search: SearchKey,
    },
    /// `copy = "COPY" SP sequence-set SP mailbox` (RFC 3501 §6.4.7).
    Copy {
        /// Sequence numbers or UIDs.
        addressing: Addressing,
        /// Which messages.
        set: SequenceArg,
        /// Destination.
        mailbox: Mailbox,
    },
    /// `move = "MOVE" SP sequence-set SP mailbox` (RFC 6851 §3).
    Move {
        /// Sequence numbers or UIDs.
        addressing: Addressing,
        /// Which messages.
        set: SequenceArg,
        /// Destination.
        mailbox: Mailbox,
    },
    /// `create = "CREATE" SP mailbox [create-params]` (RFC 3501 §6.3.3, RFC 6154 §3 `USE`).
    Create {
        /// The mailbox.
        mailbox: Mailbox,
        /// Special-use attributes asked by `(USE (...))`, possibly empty.
        special_use: Vec<Flag>,
    },
    /// `delete = "DELETE" SP mailbox` (RFC 3501 §6.3.4).
    Delete(Mailbox),
    /// `rename = "RENAME" SP mailbox SP mailbox` (RFC 3501 §6.3.5).
    Rename {
        /// Existing name.
        from: Mailbox,
        /// New name.
        to: Mailbox,
    },
    /// `append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal`
    /// (RFC 3501 §6.3.11; literal8 per RFC 3516 §4.4; `UTF8 (literal8)` per RFC 6855 §4).
    Append {
        /// Destination.
        mailbox: Mailbox,
        /// Flags to set, possibly empty.
        flags: Vec<Flag>,
        /// INTERNALDATE to set, if given.
        date: Option<DateTime>,
        /// The message.
        message: AppendData,
    },
    /// `IDLE` (RFC 2177).
    Idle,
    /// `getacl = "GETACL" SP mailbox` (RFC 4314 §3.3).
    GetAcl(Mailbox),
    /// `setacl = "SETACL" SP mailbox SP identifier SP mod-rights` (RFC 4314 §3.1).
    SetAcl {
        /// The mailbox.
        mailbox: Mailbox,
        /// `identifier = astring`.
        identifier: AString,
        /// `mod-rights = astring` (`+`/`-` prefix and rights letters, unchecked here).
        rights: AString,
    },
    /// `deleteacl = "DELETEACL" SP mailbox SP identifier` (RFC 4314 §3.2).
    DeleteAcl {
        /// The mailbox.
        mailbox: Mailbox,
        /// Whose rights.
        identifier: AString,
    },
    /// `listrights = "LISTRIGHTS" SP mailbox SP identifier` (RFC 4314 §3.4).
    ListRights {
        /// The mailbox.
        mailbox: Mailbox,
        /// Whose rights.
        identifier: AString,
    },
    /// `myrights = "MYRIGHTS" SP mailbox` (RFC 4314 §3.5).
    MyRights(Mailbox),
    /// `compress = "COMPRESS" SP algorithm` (RFC 4978 §3).
    Compress(CompressionAlgorithm),
    /// `getquota = "GETQUOTA" SP quota-root-name` (RFC 9208 §4.2).
    GetQuota(AString),
    /// `getquotaroot = "GETQUOTAROOT" SP mailbox` (RFC 9208 §4.3).
    GetQuotaRoot(Mailbox),
}

impl CommandBody {
    /// The command's name as a client would write it (for logs and error texts).
    pub fn name(&self) -> &'static str {
        use CommandBody as C;
        match self {
            C::Capability => "CAPABILITY",
            C::Noop => "NOOP",
            C::Logout => "LOGOUT",
            C::StartTls => "STARTTLS",
            C::Login { .. } => "LOGIN",
            C::Authenticate { .. } => "AUTHENTICATE",
            C::Id(_) => "ID",
            C::Enable(_) => "ENABLE",
            C::Namespace => "NAMESPACE",
            C::List(_) => "LIST",
            C::Lsub { .. } => "LSUB",
            C::Subscribe(_) => "SUBSCRIBE",
            C::Unsubscribe(_) => "UNSUBSCRIBE",
            C::Status { .. } => "STATUS",
            C::Select {
                access: SelectAccess::ReadWrite,
                ..
            } => "SELECT",
            C::Select {
                access: SelectAccess::ReadOnly,
                ..
            } => "EXAMINE",
            C::Close => "CLOSE",
            C::Unselect => "UNSELECT",
            C::Check => "CHECK",
            C::Expunge => "EXPUNGE",
            C::UidExpunge(_) => "UID EXPUNGE",
            C::Fetch { .. } => "FETCH",
            C::Store { .. } => "STORE",
            C::Search { .. } => "SEARCH",
            C::Sort { .. } => "SORT",
            C::Thread { .. } => "THREAD",
            C::Copy { .. } => "COPY",
            C::Move { .. } => "MOVE",
            C::Create { .. } => "CREATE",
            C::Delete(_) => "DELETE",
            C::Rename { .. } => "RENAME",
            C::Append { .. } => "APPEND",
            C::Idle => "IDLE",
            C::GetAcl(_) => "GETACL",
            C::SetAcl { .. } => "SETACL",
            C::DeleteAcl { .. } => "DELETEACL",
            C::ListRights { .. } => "LISTRIGHTS",
            C::MyRights(_) => "MYRIGHTS",
            C::Compress(_) => "COMPRESS",
            C::GetQuota(_) => "GETQUOTA",
            C::GetQuotaRoot(_) => "GETQUOTAROOT",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strings and names
// ---------------------------------------------------------------------------------------------

/// `tag = 1*<any ASTRING-CHAR except "+">` (RFC 3501 §9), at most [`MAX_TAG`] octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    /// Validates a tag.
    pub fn new(bytes: &[u8]) -> Option<Tag> {
        if bytes.is_empty()
            || bytes.len() > MAX_TAG
            || !bytes.iter().all(|&b| is_astring_char(b) && b != b'+')
        {
            return None;
        }
        // All bytes are ASCII (ASTRING-CHAR is 7-bit), hence UTF-8.
        std::str::from_utf8(bytes).ok().map(|s| Tag(s.to_owned()))
    }

    /// The tag's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `atom = 1*ATOM-CHAR` (RFC 3501 §9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Atom(String);

impl Atom {
    /// Validates an atom.
    pub fn new(bytes: &[u8]) -> Option<Atom> {
        if bytes.is_empty() || !bytes.iter().all(|&b| is_atom_char(b)) {
            return None;
        }
        std::str::from_utf8(bytes).ok().map(|s| Atom(s.to_owned()))
    }

    /// The atom's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// ASCII case-insensitive comparison (IMAP keywords are case-insensitive).
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ATOM-CHAR = <any CHAR except atom-specials>`;
/// `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
/// resp-specials` (RFC 3501 §9).
pub fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials` (RFC 3501 §9).
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials` (RFC 3501 §9).
pub fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// The value of an `astring` / `string` (RFC 3501 §4.3): the octets, however they were sent
/// (atom, quoted or literal). Never holds NUL (`CHAR8 = %x01-ff`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AString(Vec<u8>);

impl AString {
    /// Validates: no NUL octet.
    pub fn new(bytes: Vec<u8>) -> Option<AString> {
        if bytes.contains(&0) {
            return None;
        }
        Some(AString(bytes))
    }

    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The octets, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The text, when it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

/// `nstring = string / nil` (RFC 3501 §9): `None` is `NIL`.
pub type NString = Option<AString>;

/// `mailbox = "INBOX" / astring` (RFC 3501 §9): the name as the client sent it, raw octets
/// (modified UTF-7, or UTF-8 once UTF8=ACCEPT is enabled).
///
/// RFC 3501 §5.1: "INBOX" is case-insensitive; [`Mailbox::normalized`] applies that, the rest of
/// the name is compared as is. That normalisation is the session's decision to apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox(Vec<u8>);

/// How mailbox names travel on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailboxEncoding {
    /// Modified UTF-7 (RFC 3501 §5.1.3), before UTF8=ACCEPT is enabled.
    ModifiedUtf7,
    /// UTF-8 (RFC 6855 §3, RFC 9051 §5.1).
    Utf8,
}

/// Why a wire mailbox name cannot be turned into a Unicode name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxNameError {
    /// Not valid modified UTF-7.
    #[error("mailbox name is not valid modified UTF-7: {0}")]
    Mutf7(#[from] mutf7::Mutf7Error),
    /// Not valid UTF-8.
    #[error("mailbox name is not valid UTF-8")]
    Utf8,
}

impl Mailbox {
    /// Validates: no NUL octet.
    pub fn new(bytes: Vec<u8>) -> Option<Mailbox> {
        AString::new(bytes).map(|a| Mailbox(a.0))
    }

    /// The octets as sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether this is INBOX (any case).
    pub fn is_inbox(&self) -> bool {
        self.0.eq_ignore_ascii_case(b"INBOX")
    }

    /// The name with "INBOX" in any case replaced by "INBOX" (RFC 3501 §5.1); a leading
    /// `INBOX/` or `INBOX.` (hierarchy below INBOX) is normalised too when `delimiter` says so.
    pub fn normalized(&self, delimiter: Option<u8>) -> Cow<'_, [u8]> {
        if self.is_inbox() {
            return Cow::Borrowed(b"INBOX");
        }
        if let Some(d) = delimiter {
            if self.0.len() > 5 && self.0[..5].eq_ignore_ascii_case(b"INBOX") && self.0[5] == d {
                let mut v = b"INBOX".to_vec();
                v.extend_from_slice(&self.0[5..]);
                return Cow::Owned(v);
            }
        }
        Cow::Borrowed(&self.0)
    }

    /// The Unicode name, decoding the wire form.
    pub fn decode(&self, encoding: MailboxEncoding) -> Result<String, MailboxNameError> {
        match encoding {
            MailboxEncoding::ModifiedUtf7 => Ok(mutf7::decode(&self.0)?),
            MailboxEncoding::Utf8 => {
                String::from_utf8(self.0.clone()).map_err(|_| MailboxNameError::Utf8)
            }
        }
    }
}

/// `list-mailbox = 1*list-char / string` (RFC 3501 §9): a name pattern with `%` and `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListMailbox(Vec<u8>);

impl ListMailbox {
    /// Validates: no NUL octet.
    pub fn new(bytes: Vec<u8>) -> Option<ListMailbox> {
        AString::new(bytes).map(|a| ListMailbox(a.0))
    }

    /// The pattern's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The SASL-IR initial response (RFC 4959 §7): `base64 / "="`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialResponse {
    /// `=`: an empty initial response.
    Empty,
    /// The base64 text as sent (validated against the base64 alphabet, not decoded).
    Base64(Vec<u8>),
}

/// One `string SP nstring` pair of an ID command (RFC 2971 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdParam {
    /// Field name, at most 30 octets.
    pub field: AString,
    /// Value, at most 1024 octets, or NIL.
    pub value: NString,
}

/// `objectid = 1*255(ALPHA / DIGIT / "_" / "-")` (RFC 8474 §7).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    /// Validates an object id.
    pub fn new(bytes: &[u8]) -> Option<ObjectId> {
        if bytes.is_empty()
            || bytes.len() > MAX_OBJECT_ID
            || !bytes
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return None;
        }
        std::str::from_utf8(bytes)
            .ok()
            .map(|s| ObjectId(s.to_owned()))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Flags, dates
// ---------------------------------------------------------------------------------------------

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword /
/// flag-extension` (RFC 3501 §9). Also used for mailbox attributes such as `\Sent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Seen`.
    Seen,
    /// `\Draft`.
    Draft,
    /// `flag-keyword = atom` (e.g. `$Forwarded`, `Junk`).
    Keyword(Atom),
    /// `flag-extension = "\" atom` other than the system flags (e.g. `\Recent`, `\Sent`);
    /// the atom is stored without the backslash.
    Extension(Atom),
}

impl Flag {
    /// Builds a flag from its text (`\Seen`, `$Junk`), with system flags case-insensitive.
    pub fn new(bytes: &[u8]) -> Option<Flag> {
        if let Some(rest) = bytes.strip_prefix(b"\\") {
            let atom = Atom::new(rest)?;
            let upper = atom.as_str().to_ascii_uppercase();
            Some(match upper.as_str() {
                "ANSWERED" => Flag::Answered,
                "FLAGGED" => Flag::Flagged,
                "DELETED" => Flag::Deleted,
                "SEEN" => Flag::Seen,
                "DRAFT" => Flag::Draft,
                _ => Flag::Extension(atom),
            })
        } else {
            Atom::new(bytes).map(Flag::Keyword)
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Answered => f.write_str("\\Answered"),
            Flag::Flagged => f.write_str("\\Flagged"),
            Flag::Deleted => f.write_str("\\Deleted"),
            Flag::Seen => f.write_str("\\Seen"),
            Flag::Draft => f.write_str("\\Draft"),
            Flag::Keyword(a) => write!(f, "{a}"),
            Flag::Extension(a) => write!(f, "\\{a}"),
        }
    }
}

/// `date-text = date-day "-" date-month "-" date-year` (RFC 3501 §9), a calendar date that
/// exists (29 February only in leap years).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Month names as `date-month` spells them.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Date {
    /// Validates a date: year 1..=9999 (`date-year = 4DIGIT`), month 1..=12, a day that exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day > days {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(&self) -> u8 {
        self.day
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = MONTHS[usize::from(self.month - 1)];
        write!(f, "{}-{}-{:04}", self.day, month, self.year)
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`
/// (RFC 3501 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// The calendar date.
    pub date: Date,
    /// Hours, 0–23.
    pub hour: u8,
    /// Minutes, 0–59.
    pub minute: u8,
    /// Seconds, 0–60 (a leap second is allowed).
    pub second: u8,
    /// `zone = ("+" / "-") 4DIGIT`, as signed minutes east of UTC.
    pub zone_minutes: i16,
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = MONTHS[usize::from(self.date.month - 1)];
        let sign = if self.zone_minutes < 0 { '-' } else { '+' };
        let z = self.zone_minutes.unsigned_abs();
        write!(
            f,
            "{:>2}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}",
            self.date.day,
            month,
            self.date.year,
            self.hour,
            self.minute,
            self.second,
            sign,
            z / 60,
            z % 60
        )
    }
}

// ---------------------------------------------------------------------------------------------
// LIST, STATUS, SELECT
// ---------------------------------------------------------------------------------------------

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
/// (RFC 5258 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommand {
    /// `list-select-opts`, possibly empty.
    pub selection: Vec<ListSelectOption>,
    /// The reference name.
    pub reference: Mailbox,
    /// `mbox-or-pat = list-mailbox / patterns`: at least one pattern.
    pub patterns: Vec<ListMailbox>,
    /// `list-return-opts`, possibly empty.
    pub return_options: Vec<ListReturnOption>,
}

impl ListCommand {
    /// Whether this is an extended LIST (RFC 5258 §3): selection options, several patterns or
    /// return options. The answer's shape differs (CHILDINFO, no `\Noselect` for parents).
    pub fn is_extended(&self) -> bool {
        !self.selection.is_empty() || self.patterns.len() > 1 || !self.return_options.is_empty()
    }
}

/// `list-select-base-opt` / `list-select-mod-opt` (RFC 5258 §6, RFC 6154 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListSelectOption {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `REMOTE`.
    Remote,
    /// `RECURSIVEMATCH` (only together with another selection option).
    RecursiveMatch,
    /// `SPECIAL-USE` (RFC 6154 §3).
    SpecialUse,
}

/// `return-option` (RFC 5258 §6, RFC 5819 §4, RFC 6154 §6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListReturnOption {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `CHILDREN`.
    Children,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// `"STATUS" SP "(" status-att *(SP status-att) ")"` (RFC 5819).
    Status(Vec<StatusItem>),
}

/// `status-att` (RFC 3501 §6.3.10, RFC 9051 §6.3.11, RFC 7162 §3.1.10, RFC 7889 §3,
/// RFC 8474 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    /// `MESSAGES`.
    Messages,
    /// `RECENT` (IMAP4rev1 only).
    Recent,
    /// `UIDNEXT`.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`.
    Unseen,
    /// `DELETED` (RFC 9051).
    Deleted,
    /// `SIZE` (RFC 8438 / RFC 9051).
    Size,
    /// `HIGHESTMODSEQ` (RFC 7162).
    HighestModSeq,
    /// `APPENDLIMIT` (RFC 7889).
    AppendLimit,
    /// `MAILBOXID` (RFC 8474).
    MailboxId,
}

impl StatusItem {
    /// The item's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
            StatusItem::AppendLimit => "APPENDLIMIT",
            StatusItem::MailboxId => "MAILBOXID",
        }
    }
}

/// `select-param` (RFC 4466 §2.1, RFC 7162 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectParam {
    /// `condstore-param = "CONDSTORE"`.
    CondStore,
    /// `qresync-param`.
    QResync(QResync),
}

/// `qresync-param = "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
/// [SP seq-match-data] ")"` (RFC 7162 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    /// The UIDVALIDITY the client last knew.
    pub uid_validity: NonZeroU32,
    /// The mod-sequence the client last knew.
    pub mod_seq: NonZeroU64,
    /// `known-uids = sequence-set` (without `*`), if sent.
    pub known_uids: Option<SequenceSet>,
    /// `seq-match-data = "(" known-sequence-set SP known-uid-set ")"`, if sent.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

// ---------------------------------------------------------------------------------------------
// FETCH
// ---------------------------------------------------------------------------------------------

/// What FETCH returns: a macro or a list of attributes (RFC 3501 §6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItems {
    /// `ALL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`.
    All,
    /// `FAST` = `(FLAGS INTERNALDATE RFC822.SIZE)`.
    Fast,
    /// `FULL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`.
    Full,
    /// Explicit attributes (at least one).
    Attributes(Vec<FetchAttribute>),
}

impl FetchItems {
    /// The attributes this stands for, macros expanded.
    pub fn attributes(&self) -> Cow<'_, [FetchAttribute]> {
        use FetchAttribute as A;
        match self {
            FetchItems::Fast => Cow::Owned(vec![A::Flags, A::InternalDate, A::Rfc822Size]),
            FetchItems::All => {
                Cow::Owned(vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope])
            }
            FetchItems::Full => Cow::Owned(vec![
                A::Flags,
                A::InternalDate,
                A::Rfc822Size,
                A::Envelope,
                A::Body,
            ]),
            FetchItems::Attributes(v) => Cow::Borrowed(v),
        }
    }
}

/// Whether fetching body text sets `\Seen` (`BODY[...]`) or not (`BODY.PEEK[...]`)
/// (RFC 3501 §6.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeenPolicy {
    /// `BODY[...]`, `BINARY[...]`, `RFC822`, `RFC822.TEXT`: sets `\Seen`.
    MarkSeen,
    /// `BODY.PEEK[...]`, `BINARY.PEEK[...]`, `RFC822.HEADER`: leaves flags alone.
    Peek,
}

/// `"<" number "." nz-number ">"`: a byte range of a section (RFC 3501 §6.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partial {
    /// First octet, from 0.
    pub offset: u32,
    /// How many octets at most.
    pub length: NonZeroU32,
}

/// `PREVIEW` with or without `(LAZY)` (RFC 8970 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreviewMode {
    /// Generate the preview if it is not there yet.
    Compute,
    /// `LAZY`: answer NIL rather than spend time generating.
    Lazy,
}

/// `fetch-att` (RFC 3501 §9, RFC 9051 §9, RFC 3516 §4.2, RFC 7162 §3.1.4, RFC 8474 §5,
/// RFC 8970 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `ENVELOPE`.
    Envelope,
    /// `BODY` (non-extensible BODYSTRUCTURE).
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `MODSEQ` (RFC 7162).
    ModSeq,
    /// `EMAILID` (RFC 8474).
    EmailId,
    /// `THREADID` (RFC 8474).
    ThreadId,
    /// `"BODY" [".PEEK"] section ["<" number "." nz-number ">"]`.
    BodySection {
        /// BODY or BODY.PEEK.
        seen: SeenPolicy,
        /// The section.
        section: Section,
        /// The byte range, if any.
        partial: Option<Partial>,
    },
    /// `RFC822` (= `BODY[]`, sets `\Seen`).
    Rfc822,
    /// `RFC822.HEADER` (= `BODY.PEEK[HEADER]`).
    Rfc822Header,
    /// `RFC822.TEXT` (= `BODY[TEXT]`).
    Rfc822Text,
    /// `"BINARY" [".PEEK"] section-binary [partial]` (RFC 3516).
    Binary {
        /// BINARY or BINARY.PEEK.
        seen: SeenPolicy,
        /// `section-binary = "[" [section-part] "]"`: part numbers, empty for the whole.
        part: Vec<u32>,
        /// The byte range, if any.
        partial: Option<Partial>,
    },
    /// `"BINARY.SIZE" section-binary` (RFC 3516).
    BinarySize {
        /// Part numbers, empty for the whole.
        part: Vec<u32>,
    },
    /// `PREVIEW` (RFC 8970).
    Preview(PreviewMode),
}

/// `fetch-modifier`s (RFC 4466 §2.4, RFC 7162 §3.1.4.1, §3.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchModifiers {
    /// `CHANGEDSINCE mod-sequence-value`.
    pub changed_since: Option<NonZeroU64>,
    /// Whether `VANISHED` was given (only with UID FETCH and CHANGEDSINCE).
    pub vanished: Vanished,
}

/// Whether UID FETCH reports expunged UIDs as `VANISHED (EARLIER)` (RFC 7162 §3.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Vanished {
    /// No VANISHED modifier.
    #[default]
    Omit,
    /// `VANISHED` was given.
    Report,
}

// ---------------------------------------------------------------------------------------------
// STORE
// ---------------------------------------------------------------------------------------------

/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))`
/// (RFC 3501 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreAction {
    /// Replace, add or remove.
    pub kind: StoreKind,
    /// Whether the server answers with the new flags.
    pub response: StoreResponse,
    /// The flags (possibly empty, e.g. `FLAGS ()`).
    pub flags: Vec<Flag>,
}

/// `FLAGS` / `+FLAGS` / `-FLAGS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// With or without `.SILENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreResponse {
    /// Send untagged FETCH with the new flags.
    Answer,
    /// `.SILENT`: do not (unless another session changed them, RFC 7162 §3.1.3).
    Silent,
}

// ---------------------------------------------------------------------------------------------
// SEARCH, SORT, THREAD
// ---------------------------------------------------------------------------------------------

/// `search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"` (RFC 4731 §3.1, RFC 5182 §2).
/// An empty `RETURN ()` means `ALL` (RFC 4731 §3.1); the parser yields `[All]` for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchReturnOption {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `ALL`.
    All,
    /// `COUNT`.
    Count,
    /// `SAVE` (RFC 5182).
    Save,
}

/// `entry-type-req = entry-type-resp / "all"` for `MODSEQ` search (RFC 7162 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// `priv`.
    Private,
    /// `shared`.
    Shared,
    /// `all`.
    All,
}

/// `search-key` (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 5032, RFC 7162 §3.1.5, RFC 8474 §6,
/// RFC 5182). Dates compare the date part only; strings are matched as case-insensitive
/// substrings by the search engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Several keys that must all match: the top level, or `"(" search-key *(SP search-key) ")"`.
    And(Vec<SearchKey>),
    /// `ALL`.
    All,
    /// `ANSWERED`.
    Answered,
    /// `BCC string`.
    Bcc(AString),
    /// `BEFORE date`: internal date earlier than the date.
    Before(Date),
    /// `BODY string`.
    Body(AString),
    /// `CC string`.
    Cc(AString),
    /// `DELETED`.
    Deleted,
    /// `DRAFT`.
    Draft,
    /// `FLAGGED`.
    Flagged,
    /// `FROM string`.
    From(AString),
    /// `HEADER header-fld-name string`.
    Header(AString, AString),
    /// `KEYWORD flag-keyword`.
    Keyword(Atom),
    /// `LARGER number`.
    Larger(u32),
    /// `NEW` (IMAP4rev1).
    New,
    /// `NOT search-key`.
    Not(Box<SearchKey>),
    /// `OLD` (IMAP4rev1).
    Old,
    /// `ON date`.
    On(Date),
    /// `OR search-key search-key`.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `SEEN`.
    Seen,
    /// `SENTBEFORE date`.
    SentBefore(Date),
    /// `SENTON date`.
    SentOn(Date),
    /// `SENTSINCE date`.
    SentSince(Date),
    /// `SINCE date`.
    Since(Date),
    /// `SMALLER number`.
    Smaller(u32),
    /// `SUBJECT string`.
    Subject(AString),
    /// `TEXT string`.
    Text(AString),
    /// `TO string`.
    To(AString),
    /// `UID sequence-set`.
    Uid(SequenceArg),
    /// `UNANSWERED`.
    Unanswered,
    /// `UNDELETED`.
    Undeleted,
    /// `UNDRAFT`.
    Undraft,
    /// `UNFLAGGED`.
    Unflagged,
    /// `UNKEYWORD flag-keyword`.
    Unkeyword(Atom),
    /// `UNSEEN`.
    Unseen,
    /// A bare `sequence-set` (or `$`): messages by sequence number.
    SequenceSet(SequenceArg),
    /// `"MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer` (RFC 7162 §3.1.5).
    ModSeq {
        /// `entry-name` (`"/flags/\\Seen"`) and its type, if given.
        entry: Option<(AString, EntryType)>,
        /// The mod-sequence (0 allowed).
        mod_seq: u64,
    },
    /// `OLDER interval`: internal date more than `interval` seconds ago (RFC 5032).
    Older(NonZeroU32),
    /// `YOUNGER interval` (RFC 5032).
    Younger(NonZeroU32),
    /// `EMAILID objectid` (RFC 8474).
    EmailId(ObjectId),
    /// `THREADID objectid` (RFC 8474).
    ThreadId(ObjectId),
}

/// `sort-criterion = ["REVERSE" SP] sort-key` (RFC 5256 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortCriterion {
    /// Ascending or `REVERSE`.
    pub order: SortOrder,
    /// The key.
    pub key: SortKey,
}

/// Ascending or reversed order of one sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// As the key sorts.
    Ascending,
    /// `REVERSE`.
    Reverse,
}

/// `sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO"` (RFC 5256 §5),
/// `=/ "DISPLAYFROM" / "DISPLAYTO"` (RFC 5957 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// `ARRIVAL`.
    Arrival,
    /// `CC`.
    Cc,
    /// `DATE`.
    Date,
    /// `FROM`.
    From,
    /// `SIZE`.
    Size,
    /// `SUBJECT`.
    Subject,
    /// `TO`.
    To,
    /// `DISPLAYFROM`.
    DisplayFrom,
    /// `DISPLAYTO`.
    DisplayTo,
}

/// `thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext` (RFC 5256 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThreadAlgorithm {
    /// `ORDEREDSUBJECT`.
    OrderedSubject,
    /// `REFERENCES`.
    References,
    /// Any other atom (the session answers that it is not supported).
    Other(Atom),
}

// ---------------------------------------------------------------------------------------------
// APPEND, COMPRESS
// ---------------------------------------------------------------------------------------------

/// The message of an APPEND, with how it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendData {
    /// `literal`: 8-bit text, no NUL (RFC 3501).
    Text(Vec<u8>),
    /// `literal8` (`~{n}`): any octets (RFC 3516 §4.4).
    Binary(Vec<u8>),
    /// `"UTF8" SP "(" literal8 ")"` (RFC 6855 §4).
    Utf8(Vec<u8>),
}

impl AppendData {
    /// The message octets.
    pub fn bytes(&self) -> &[u8] {
        match self {
            AppendData::Text(b) | AppendData::Binary(b) | AppendData::Utf8(b) => b,
        }
    }
}

/// `algorithm = "DEFLATE"` (RFC 4978 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionAlgorithm {
    /// `DEFLATE` (RFC 1951 raw deflate).
    Deflate,
}
