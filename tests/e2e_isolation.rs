//! Who sees what (issue 5), over real TLS with raw commands: every command that takes a mailbox
//! name, for every user, against every name of every archive (own, another user's, delegated,
//! revoked, nonexistent) and a set of tricky names. The expected answer of each cell is computed
//! from the grant table by a model written here ([`Model`]), never listed by hand; the checks:
//! - a name the model says the user may see works, and shows that mailbox's messages exactly;
//! - any other name gets the very bytes a name that exists nowhere gets (same code, same text);
//! - LIST and LSUB, for every pattern, return exactly the model's names (no more, no fewer);
//! - nothing a user may not read (the subjects of other archives' messages) ever appears in
//!   anything the server sends them.
//!
//! And: a revoke ends access at the delegate's next command, also with the mailbox selected.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{RawClient, TestServer};
use imapvault::archive::Archive;
use imapvault::import::{self, Target};
use imapvault::index::Role;

const PASSWORD: &str = "pw";
const OTHER: &str = "Other Users";

/// The archives: user → folder → subjects of its messages. Each subject names its place, so a
/// subject seen where it should not be is a leak.
fn archives() -> BTreeMap<&'static str, BTreeMap<&'static str, Vec<String>>> {
    let mut a = BTreeMap::new();
    let folders: &[(&str, &[(&str, usize)])] = &[
        // Parents are mailboxes too (import creates them), with no messages.
        (
            "alice",
            &[
                ("INBOX", 2),
                ("Sent", 1),
                ("Archive", 0),
                ("Archive/2019", 1),
            ],
        ),
        ("bob", &[("INBOX", 2), ("Private", 1)]),
        ("carol", &[("INBOX", 1), ("Projects", 0), ("Projects/X", 1)]),
        ("dave", &[]),
    ];
    for (user, list) in folders {
        let mut f = BTreeMap::new();
        for (folder, n) in list.iter() {
            let subjects = (1..=*n)
                .map(|i| format!("secret-{user}-{}-{i}", folder.replace('/', "-")))
                .collect();
            f.insert(*folder, subjects);
        }
        a.insert(*user, f);
    }
    a
}

/// The access model: what each user may see, computed from the grants and roles alone.
struct Model {
    archives: BTreeMap<&'static str, BTreeMap<&'static str, Vec<String>>>,
    /// (owner, delegate)
    grants: BTreeSet<(&'static str, &'static str)>,
    auditors: BTreeSet<&'static str>,
}

/// What a name means to a user, per the model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// A mailbox: its owner and its folder in the owner's archive.
    Mailbox {
        owner: &'static str,
        folder: &'static str,
    },
    /// Nothing the user may see.
    Hidden,
}

impl Model {
    fn may_read(&self, viewer: &str, owner: &str) -> bool {
        viewer != owner
            && (self.auditors.contains(viewer)
                || self.grants.iter().any(|&(o, d)| o == owner && d == viewer))
    }

    fn folder_of(&self, owner: &str, name: &str) -> Option<(&'static str, &'static str)> {
        let (&owner, folders) = self.archives.get_key_value(owner)?;
        // INBOX, and only INBOX, in any case (RFC 3501 §5.1).
        let canonical = match name.split_once('/') {
            Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => format!("INBOX/{rest}"),
            None if name.eq_ignore_ascii_case("INBOX") => "INBOX".to_owned(),
            _ => name.to_owned(),
        };
        folders
            .keys()
            .find(|f| **f == canonical)
            .map(|&f| (owner, f))
    }

    fn resolve(&self, viewer: &str, name: &str) -> Seen {
        if let Some(rest) = name.strip_prefix(&format!("{OTHER}/")) {
            if let Some((owner, folder)) = rest.split_once('/') {
                if self.may_read(viewer, owner) {
                    if let Some((owner, folder)) = self.folder_of(owner, folder) {
                        return Seen::Mailbox { owner, folder };
                    }
                }
            }
            return Seen::Hidden;
        }
        if name == OTHER {
            return Seen::Hidden;
        }
        match self.folder_of(viewer, name) {
            Some((owner, folder)) => Seen::Mailbox { owner, folder },
            None => Seen::Hidden,
        }
    }

    /// Every name LIST "" "*" must return to `viewer`: own folders with their parents, and for
    /// each archive they may read, `Other Users`, `Other Users/OWNER` and its folders.
    fn listable(&self, viewer: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let with_parents = |names: &mut BTreeSet<String>, prefix: &str, folder: &str| {
            let mut at = 0;
            for part in folder.split('/') {
                at += part.len();
                names.insert(format!("{prefix}{}", &folder[..at]));
                at += 1;
            }
        };
        for folder in self.archives[viewer].keys() {
            with_parents(&mut names, "", folder);
        }
        for owner in self.archives.keys().filter(|o| self.may_read(viewer, o)) {
            names.insert(OTHER.to_owned());
            names.insert(format!("{OTHER}/{owner}"));
            for folder in self.archives[owner].keys() {
                with_parents(&mut names, &format!("{OTHER}/{owner}/"), folder);
            }
        }
        names
    }

    /// The subjects `viewer` may ever be shown.
    fn readable_subjects(&self, viewer: &str) -> BTreeSet<&str> {
        self.archives
            .iter()
            .filter(|(owner, _)| **owner == viewer || self.may_read(viewer, owner))
            .flat_map(|(_, folders)| folders.values().flatten().map(String::as_str))
            .collect()
    }

    fn all_subjects(&self) -> BTreeSet<&str> {
        self.archives
            .values()
            .flat_map(|folders| folders.values().flatten().map(String::as_str))
            .collect()
    }
}

/// RFC 3501 §6.3.8 list wildcards: `*` matches anything, `%` anything but the separator.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| wildcard(rest, &name[i..])),
        Some((b'%', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || name[i - 1] != b'/')
            .any(|i| wildcard(rest, &name[i..])),
        Some((c, rest)) => name.first() == Some(c) && wildcard(rest, &name[1..]),
    }
}

/// Sets up the users, their mail, the grants and the auditor; returns the model.
fn populate(server: &TestServer) -> Model {
    let mail_dir = tempfile::tempdir().unwrap();
    let mut archive = Archive::open(&server.archive_dir()).unwrap();
    let hash = imapvault::auth::hash_password(PASSWORD.as_bytes()).unwrap();
    // Only the users of the model: the demo archive's own user goes.
    archive
        .index_mut()
        .delete_user(imapvault::demo::USER)
        .unwrap();
    let archives = archives();
    for (user, folders) in &archives {
        let role = if *user == "dave" {
            Role::Auditor
        } else {
            Role::User
        };
        archive.index_mut().add_user_as(user, &hash, role).unwrap();
        for (folder, subjects) in folders.iter().filter(|(_, s)| !s.is_empty()) {
            let mut paths = Vec::new();
            for subject in subjects {
                let path = mail_dir.path().join(format!("{subject}.eml"));
                std::fs::write(
                    &path,
                    format!(
                        "From: {user}@example.org\r\nTo: {user}@example.org\r\n\
                         Subject: {subject}\r\nDate: Mon, 2 Jun 2025 10:00:00 +0000\r\n\
                         Message-ID: <{subject}@example.org>\r\n\r\nbody of {subject}\r\n"
                    ),
                )
                .unwrap();
                paths.push(path);
            }
            let summary = import::run(
                &mut archive,
                user,
                Target::Folder((*folder).into()),
                &paths,
                &mut |_| {},
            )
            .unwrap();
            assert!(summary.rejected.is_empty(), "{summary}");
        }
    }
    let index = archive.index_mut();
    // bob shares with alice; carol shared with alice and took it back: the revoked case.
    index.grant("bob", "alice").unwrap();
    index.grant("carol", "alice").unwrap();
    index.revoke("carol", "alice").unwrap();
    // carol shares with bob.
    index.grant("carol", "bob").unwrap();
    Model {
        archives,
        grants: [("bob", "alice"), ("carol", "bob")].into_iter().collect(),
        auditors: ["dave"].into_iter().collect(),
    }
}

type Client = RawClient<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>;

fn login(server: &TestServer, user: &str) -> Client {
    let mut c = server.raw();
    let r = c.command(&format!("LOGIN {user} {PASSWORD}"));
    assert!(r.last().unwrap().contains(" OK "), "{r:?}");
    c
}

/// The response lines with the tag of the last one cut off, so two answers can be compared.
fn untagged(lines: &[String]) -> Vec<String> {
    let mut v = lines.to_vec();
    if let Some(last) = v.last_mut() {
        *last = last.split_once(' ').map_or("", |(_, r)| r).to_owned();
    }
    v
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Names tried for every user: every name of every archive, in both namespaces, and tricks.
fn candidate_names(model: &Model) -> Vec<String> {
    let mut names = BTreeSet::new();
    for (owner, folders) in &model.archives {
        for folder in folders.keys() {
            names.insert(folder.to_string());
            names.insert(format!("{OTHER}/{owner}/{folder}"));
        }
        names.insert(format!("{OTHER}/{owner}"));
        names.insert(format!("{OTHER}/{owner}/inbox"));
    }
    for trick in [
        "NoSuchFolder",
        "Archive",
        "Projects",
        "../bob/INBOX",
        "../bob",
        "~bob",
        "~bob/INBOX",
        "bob/INBOX",
        "/bob/INBOX",
        "Other Users",
        "Other Users/",
        "Other Users/bob/../carol",
        "Other Users/bob/../carol/INBOX",
        "Other Users/BOB/INBOX",
        "Other Users/Bob/INBOX",
        "other users/bob/INBOX",
        "OTHER USERS/bob/INBOX",
        "Other Users//bob",
        "Other Users//bob/INBOX",
        "Other Users/bob//INBOX",
        "Other Users/bob/INBOX/",
        "Other Users/./bob/INBOX",
        "Other Users/alice/../bob/INBOX",
        "Other Users/nobody/INBOX",
        "Other Users/*/INBOX",
        "Other Users/%/INBOX",
        "Other Users/bob/*",
        "*",
        "%",
        // Modified UTF-7 that spells `/` or a user name in BASE64: RFC 3501 §5.1.3 forbids
        // encoding printable ASCII, so these are malformed whoever sends them.
        "Other Users&AC8-bob&AC8-INBOX",
        "Other Users/bob&AC8-INBOX",
        "Other Users/&AGIAbwBi-/INBOX",
        "&AC4AL-bob/INBOX",
    ] {
        names.insert(trick.to_owned());
    }
    names.into_iter().collect()
}

/// A logged-in client that logs in again before the server's limit of BAD answers ends the
/// session (malformed names are answered BAD, and the matrix sends many).
struct Prober<'a> {
    server: &'a TestServer,
    viewer: &'static str,
    client: Client,
    bads: u32,
    /// Everything the server sent, for the final leak check.
    transcript: Vec<String>,
}

impl Prober<'_> {
    fn command(&mut self, command: &str) -> Vec<String> {
        if self.bads >= 15 {
            self.client = login(self.server, self.viewer);
            self.bads = 0;
        }
        let lines = self.client.command(command);
        if untagged(&lines)
            .last()
            .is_some_and(|l| l.starts_with("BAD"))
        {
            self.bads += 1;
        }
        self.transcript.extend(lines.iter().cloned());
        lines
    }
}

/// The answers to malformed names, per (command, name), to compare across users.
type Malformed = BTreeMap<(String, String), Vec<String>>;

/// One user's whole row of the matrix.
fn check_user(server: &TestServer, model: &Model, viewer: &'static str) -> Malformed {
    let mut p = Prober {
        server,
        viewer,
        client: login(server, viewer),
        bads: 0,
        transcript: Vec::new(),
    };
    let readable = model.readable_subjects(viewer);
    let forbidden: Vec<&str> = model
        .all_subjects()
        .into_iter()
        .filter(|s| !readable.contains(s))
        .collect();
    let names = candidate_names(model);
    let mut malformed_answers = Malformed::new();

    let probes: &[&str] = &[
        "STATUS {} (MESSAGES UIDNEXT UNSEEN)",
        "MYRIGHTS {}",
        "GETACL {}",
        "LISTRIGHTS {} nobody",
        "EXAMINE {}",
        "SELECT {}",
        "CREATE {}",
        "DELETE {}",
        "RENAME {} {}",
        "SUBSCRIBE {}",
        "UNSUBSCRIBE {}",
    ];
    for probe in probes {
        let opens = probe.starts_with("SELECT") || probe.starts_with("EXAMINE");
        let run = |p: &mut Prober<'_>, name: &str| -> Vec<String> {
            let lines = p.command(&probe.replace("{}", &quote(name)));
            // Leave nothing selected, so that a failing SELECT says no [CLOSED].
            if opens && lines.last().is_some_and(|l| l.contains(" OK ")) {
                p.command("UNSELECT");
            }
            lines
        };
        let missing = untagged(&run(&mut p, "NoSuchFolder-zz9"));
        for name in &names {
            let lines = run(&mut p, name);
            let answer = untagged(&lines);
            let last = answer.last().unwrap().clone();
            let cell = format!("{viewer} × {probe} × {name:?}: {lines:?}");
            // RFC 3501 §6.3.3: CREATE takes a trailing separator as part of the syntax.
            let meant = if probe.starts_with("CREATE") {
                name.strip_suffix('/').unwrap_or(name)
            } else {
                name
            };
            if name.contains('&') {
                // Malformed modified UTF-7: refused before any lookup (BAD, or the refusal of
                // a write that never looks), so the answer may depend on the bytes of the name
                // but never on who asks (compared across users by the caller).
                assert!(
                    last.starts_with("BAD [CLIENTBUG]") || answer == missing,
                    "{cell}"
                );
                malformed_answers.insert((probe.to_string(), name.clone()), answer);
                continue;
            }
            match (model.resolve(viewer, meant), *probe) {
                // Whatever the reason the user cannot see it, the bytes of "no such mailbox".
                (Seen::Hidden, _) => assert_eq!(answer, missing, "{cell}"),
                (Seen::Mailbox { .. }, p) if p.starts_with("CREATE") => {
                    assert_eq!(last, "NO [ALREADYEXISTS] Mailbox already exists", "{cell}")
                }
                // Refused alike for everything: the same bytes as for a missing name.
                (Seen::Mailbox { .. }, p) if p.starts_with("DELETE") || p.starts_with("RENAME") => {
                    assert_eq!(answer, missing, "{cell}")
                }
                (Seen::Mailbox { owner, folder }, p) => {
                    assert!(last.starts_with("OK"), "{cell}");
                    let count = model.archives[owner][folder].len();
                    if p.starts_with("STATUS") {
                        assert!(answer[0].contains(&format!("(MESSAGES {count} ")), "{cell}");
                    }
                    if opens {
                        assert!(answer.contains(&format!("* {count} EXISTS")), "{cell}");
                        // Flags are per user in anyone's mailbox: only EXAMINE is read-only.
                        let ro = last.starts_with("OK [READ-ONLY]");
                        assert_eq!(ro, p.starts_with("EXAMINE"), "{cell}");
                    }
                    if p.starts_with("MYRIGHTS") {
                        assert!(answer[0].ends_with(" lrsw"), "{cell}");
                    }
                }
            }
        }
    }

    // FETCH, SEARCH and COPY inside every mailbox the user may open: exactly its messages.
    for name in &names {
        let Seen::Mailbox { owner, folder, .. } = model.resolve(viewer, name) else {
            continue;
        };
        let want: BTreeSet<&str> = model.archives[owner][folder]
            .iter()
            .map(String::as_str)
            .collect();
        let sel = p.command(&format!("EXAMINE {}", quote(name)));
        assert!(sel.last().unwrap().contains(" OK "), "{viewer}: {sel:?}");
        let search = p.command("SEARCH SUBJECT secret");
        let hits = search
            .iter()
            .find(|l| l.starts_with("* SEARCH"))
            .map_or(0, |l| l.split(' ').count() - 2);
        assert_eq!(hits, want.len(), "{viewer} SEARCH in {name}: {search:?}");
        // An empty mailbox has no message 1 (and FETCH 1:* is BAD there, RFC 9051 §9).
        if !want.is_empty() {
            let fetch = p.command("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
            let got: BTreeSet<&str> = fetch
                .iter()
                .flat_map(|l| l.split("Subject: ").skip(1))
                .map(|s| s.split(['\r', '\n']).next().unwrap_or(""))
                .collect();
            assert_eq!(got, want, "{viewer} FETCH in {name}: {fetch:?}");
            // COPY to any target is refused alike: a read-only archive.
            let mut copies = BTreeSet::new();
            for target in [
                "NoSuchFolder-zz9",
                "INBOX",
                "Other Users/bob/INBOX",
                "Other Users/carol/INBOX",
            ] {
                copies.insert(untagged(&p.command(&format!("COPY 1 {}", quote(target)))));
            }
            assert_eq!(copies.len(), 1, "{viewer} COPY answers differ: {copies:?}");
        }
        p.command("UNSELECT");
    }

    // APPEND to anything is refused alike.
    let mut appends = BTreeSet::new();
    for name in &names {
        appends.insert(untagged(
            &p.command(&format!("APPEND {} {{2+}}\r\nhi", quote(name))),
        ));
    }
    assert_eq!(
        appends.len(),
        1,
        "{viewer} APPEND answers differ: {appends:?}"
    );

    // LIST and LSUB with patterns: exactly the model's names.
    let listable = model.listable(viewer);
    let patterns = [
        ("", "*"),
        ("", "%"),
        ("", "%/%"),
        ("", "Other Users/*"),
        ("", "Other Users/%"),
        ("", "Other Users/%/%"),
        ("", "Other Users/bob/*"),
        ("", "Other Users/carol/%"),
        ("", "Other Users/BOB/*"),
        ("", "Other Users//*"),
        ("", "*INBOX*"),
        ("", "*secret*"),
        ("", "../*"),
        ("", "~bob*"),
        ("Other Users/", "%"),
        ("Other Users/bob/", "*"),
        ("Other Users/", "*/INBOX"),
    ];
    for (reference, pattern) in patterns {
        let full = format!("{reference}{pattern}");
        let want: BTreeSet<String> = listable
            .iter()
            .filter(|n| wildcard(full.as_bytes(), n.as_bytes()))
            .cloned()
            .collect();
        for variant in [
            format!("LIST {} {}", quote(reference), quote(pattern)),
            format!(
                "LIST {} {} RETURN (CHILDREN STATUS (MESSAGES))",
                quote(reference),
                quote(pattern)
            ),
        ] {
            let lines = p.command(&variant);
            let got = listed_names(&lines, "* LIST ");
            assert_eq!(got, want, "{viewer} {variant}: {lines:?}");
            for l in lines.iter().filter(|l| l.starts_with("* STATUS ")) {
                let name = l["* STATUS ".len()..].split('"').nth(1).unwrap();
                let Seen::Mailbox { owner, folder, .. } = model.resolve(viewer, name) else {
                    panic!("{viewer} {variant}: STATUS of hidden {name}");
                };
                let n = model.archives[owner][folder].len();
                assert!(l.ends_with(&format!("(MESSAGES {n})")), "{l}");
            }
            check_noselect(&lines, model, viewer);
        }
        // Subscribed names are a subset of what the user may see (or their \Noselect parents).
        for cmd in [
            format!("LSUB {} {}", quote(reference), quote(pattern)),
            format!("LIST (SUBSCRIBED) {} {}", quote(reference), quote(pattern)),
        ] {
            let lines = p.command(&cmd);
            let prefix = if cmd.starts_with("LSUB") {
                "* LSUB "
            } else {
                "* LIST "
            };
            let got = listed_names(&lines, prefix);
            assert!(
                got.is_subset(&want),
                "{viewer} {cmd}: {lines:?} not within {want:?}"
            );
        }
    }

    // Nothing of an archive the user may not read was ever sent.
    for line in &p.transcript {
        for secret in &forbidden {
            assert!(!line.contains(secret), "{viewer} was sent {secret}: {line}");
        }
    }
    malformed_answers
}

/// `Other Users` and `Other Users/OWNER` are \Noselect; every mailbox is selectable; a name has
/// `\HasChildren` exactly when the user may see something below it (RFC 3348).
fn check_noselect(lines: &[String], model: &Model, viewer: &str) {
    let listable = model.listable(viewer);
    for l in lines.iter().filter(|l| l.starts_with("* LIST ")) {
        let name = l.rsplit('"').nth(1).unwrap();
        let below = format!("{name}/");
        let children = listable.iter().any(|n| n.starts_with(&below));
        assert!(
            l.contains(if children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }),
            "{viewer}: {l}"
        );
        let noselect = l.contains("\\Noselect");
        let is_level = name == OTHER || (name.starts_with(OTHER) && name.matches('/').count() == 1);
        assert_eq!(noselect, is_level, "{viewer}: {l}");
        if !is_level {
            assert!(
                matches!(model.resolve(viewer, name), Seen::Mailbox { .. })
                    || model
                        .listable(viewer)
                        .iter()
                        .any(|n| n.starts_with(&format!("{name}/"))),
                "{viewer}: {l}"
            );
        }
    }
}

fn listed_names(lines: &[String], prefix: &str) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.rsplit('"').nth(1).unwrap().to_owned())
        .collect()
}

#[test]
fn every_mailbox_command_sees_exactly_what_the_grants_allow() {
    let server = TestServer::start();
    let model = populate(&server);
    // The model itself must have every kind of cell, or the matrix proves little.
    assert!(model.may_read("alice", "bob"), "delegated");
    assert!(!model.may_read("alice", "carol"), "revoked");
    assert!(!model.may_read("carol", "alice"), "another user's");
    assert!(model.may_read("dave", "carol"), "audited");
    let malformed: Vec<Malformed> = std::thread::scope(|s| {
        let rows: Vec<_> = ["alice", "bob", "carol", "dave"]
            .into_iter()
            .map(|viewer| {
                let (server, model) = (&server, &model);
                s.spawn(move || check_user(server, model, viewer))
            })
            .collect();
        rows.into_iter().map(|r| r.join().unwrap()).collect()
    });
    // A malformed name is answered the same whoever asks, whatever it would have named.
    assert!(!malformed[0].is_empty());
    for other in &malformed[1..] {
        assert_eq!(&malformed[0], other);
    }
}

#[test]
fn a_revoke_ends_access_at_the_next_command_even_with_the_mailbox_selected() {
    let server = TestServer::start();
    let _model = populate(&server);
    let mut index = Archive::open_index_at(&server.archive_dir()).unwrap();

    // bob reads carol's INBOX; a second session of bob is merely logged in.
    let mut selected = login(&server, "bob");
    assert_eq!(selected.select_exists("\"Other Users/carol/INBOX\""), 1);
    let mut idle = login(&server, "bob");
    assert_eq!(idle.select_exists("\"Other Users/carol/Projects/X\""), 1);
    idle.send(b"i1 IDLE\r\n");
    assert_eq!(idle.read_line(), "+ idling");
    let mut other = login(&server, "bob");
    let before = other.command("STATUS \"Other Users/carol/INBOX\" (MESSAGES)");
    assert!(before.last().unwrap().contains(" OK "), "{before:?}");

    index.revoke("carol", "bob").unwrap();

    // The selected session: its next command gets BYE, and the connection closes.
    selected.send(b"n1 NOOP\r\n");
    assert_eq!(
        selected.read_line(),
        "* BYE [NOPERM] Access to the selected mailbox was revoked"
    );
    assert_closed(&mut selected);

    // The idling session: DONE ends IDLE, the next command gets BYE.
    idle.send(b"DONE\r\n");
    assert_eq!(idle.read_line(), "i1 OK IDLE terminated");
    idle.send(b"n2 FETCH 1 (FLAGS)\r\n");
    assert_eq!(
        idle.read_line(),
        "* BYE [NOPERM] Access to the selected mailbox was revoked"
    );
    assert_closed(&mut idle);

    // The other session: the mailbox is now exactly as missing as one that never existed.
    let after = untagged(&other.command("STATUS \"Other Users/carol/INBOX\" (MESSAGES)"));
    let missing = untagged(&other.command("STATUS \"Other Users/carol/Nothing\" (MESSAGES)"));
    assert_eq!(after, missing);
    let list = other.command("LIST \"\" \"Other Users/*\"");
    assert_eq!(list.len(), 1, "{list:?}");
    let lsub = other.command("LSUB \"\" \"*\"");
    assert!(
        !lsub.iter().any(|l| l.contains("carol")),
        "subscriptions to the revoked archive are gone: {lsub:?}"
    );

    // A new grant is seen at the next command of a live session, without logging in again.
    index.grant("carol", "bob").unwrap();
    let list = other.command("LIST \"\" \"Other Users/carol/%\"");
    assert_eq!(
        listed_names(&list, "* LIST "),
        ["Other Users/carol/INBOX", "Other Users/carol/Projects"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

/// The server closed the connection (with or without a TLS close_notify).
fn assert_closed(c: &mut Client) {
    use std::io::Read;
    let mut buf = [0u8; 64];
    match c.stream().read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("more after BYE: {:?}", String::from_utf8_lossy(&buf[..n])),
    }
}

/// Collects the server's log lines (the server runs in this process).
struct Captured(std::sync::Mutex<Vec<String>>);

impl log::Log for Captured {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static LOG: Captured = Captured(std::sync::Mutex::new(Vec::new()));

#[test]
fn auditor_access_is_logged_once_per_select_examine_and_status() {
    // Other tests of this file may log too; only lines naming this test's auditor count.
    let _ = log::set_logger(&LOG);
    log::set_max_level(log::LevelFilter::Info);
    let server = TestServer::start();
    let _model = populate(&server);
    // Lines of one client connection (the server logs the peer's address first): the other
    // tests of this file run at the same time, with users of the same names.
    let audit_lines = |c: &mut Client| -> Vec<String> {
        let peer = c.stream().sock.local_addr().unwrap();
        LOG.0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(&format!("{peer}: audit: auditor ")))
            .cloned()
            .collect()
    };

    let mut dave = login(&server, "dave");
    dave.select_exists("\"Other Users/alice/INBOX\"");
    dave.command("EXAMINE \"Other Users/bob/Private\"");
    dave.command("STATUS \"Other Users/carol/INBOX\" (MESSAGES)");
    dave.command("LIST \"\" \"Other Users/carol/Projects/%\" RETURN (STATUS (MESSAGES))");
    // Not another user's mailbox, or not one that exists: nothing to log.
    dave.command("STATUS \"Other Users/nobody/INBOX\" (MESSAGES)");
    dave.command("LIST \"\" \"Other Users/*\"");
    let lines = audit_lines(&mut dave);
    let want = [
        ("SELECT", "Other Users/alice/INBOX", "alice"),
        ("EXAMINE", "Other Users/bob/Private", "bob"),
        ("STATUS", "Other Users/carol/INBOX", "carol"),
        ("LIST-STATUS", "Other Users/carol/Projects/X", "carol"),
    ];
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    for ((command, mailbox, owner), line) in want.iter().zip(&lines) {
        assert!(
            line.ends_with(&format!(
                "auditor dave {command} mailbox \"{mailbox}\" of {owner}"
            )),
            "{line}"
        );
    }

    // A delegate's access is not auditor access.
    let mut alice = login(&server, "alice");
    alice.select_exists("\"Other Users/bob/INBOX\"");
    assert!(audit_lines(&mut alice).is_empty());
}

#[test]
fn a_readers_flags_are_their_own_and_go_with_the_grant() {
    let server = TestServer::start();
    let _model = populate(&server);
    let mut index = Archive::open_index_at(&server.archive_dir()).unwrap();
    let unseen = |c: &mut Client, name: &str| -> String {
        let r = c.command(&format!("STATUS {} (UNSEEN)", quote(name)));
        r[0].rsplit(' ')
            .next()
            .unwrap()
            .trim_end_matches(')')
            .to_owned()
    };

    // bob has his INBOX open; alice (his delegate) and dave (an auditor) read it.
    let mut bob = login(&server, "bob");
    assert_eq!(bob.select_exists("INBOX"), 2);
    let mut alice = login(&server, "alice");
    let mut dave = login(&server, "dave");
    for reader in [&mut alice, &mut dave] {
        assert_eq!(unseen(reader, "Other Users/bob/INBOX"), "2");
        reader.select_exists("\"Other Users/bob/INBOX\"");
    }
    // alice reads message 1 (marks it \Seen for herself) and flags message 2.
    let r = alice.command("FETCH 1 (BODY[TEXT])");
    assert!(
        r.iter()
            .any(|l| l.contains("FLAGS (\\Seen $HasNoAttachment)")),
        "{r:?}"
    );
    let r = alice.command("STORE 2 +FLAGS (\\Flagged)");
    assert!(r.last().unwrap().contains(" OK "), "{r:?}");
    alice.command("UNSELECT");
    assert_eq!(unseen(&mut alice, "Other Users/bob/INBOX"), "1");

    // Neither bob nor dave sees alice's flags, now or in a new session.
    for lines in [
        bob.command("FETCH 1:2 (FLAGS)"),
        dave.command("FETCH 1:2 (FLAGS)"),
    ] {
        let flags: Vec<&String> = lines.iter().filter(|l| l.starts_with("* ")).collect();
        assert_eq!(flags.len(), 2, "{lines:?}");
        assert!(
            flags.iter().all(|l| l.contains("FLAGS ($HasNoAttachment)")),
            "{lines:?}"
        );
    }
    let mut bob2 = login(&server, "bob");
    assert_eq!(unseen(&mut bob2, "INBOX"), "2");
    assert_eq!(unseen(&mut dave, "Other Users/bob/INBOX"), "2");

    // A revoke takes alice's flags on bob's archive with it: granted again, she starts afresh.
    index.revoke("bob", "alice").unwrap();
    index.grant("bob", "alice").unwrap();
    let mut alice = login(&server, "alice");
    assert_eq!(unseen(&mut alice, "Other Users/bob/INBOX"), "2");
    alice.select_exists("\"Other Users/bob/INBOX\"");
    let r = alice.command("FETCH 1:2 (FLAGS)");
    assert!(
        r.iter()
            .filter(|l| l.contains("FLAGS ($HasNoAttachment)"))
            .count()
            == 2,
        "{r:?}"
    );
}

/// A real client library (the `imap` crate, whose parser is imap-proto, not ours) reads the
/// ACL answers, the other users' namespace and a delegated mailbox.
#[test]
fn the_imap_crate_reads_rights_and_a_delegated_mailbox() {
    let server = TestServer::start();
    let model = populate(&server);
    let mut client = imap::Client::new(server.tls_stream());
    client.read_greeting().expect("greeting");
    let mut s = client
        .login("alice", PASSWORD)
        .map_err(|(e, _)| e)
        .expect("login");
    assert!(s.capabilities().unwrap().has_str("ACL"));

    let rights = s.my_rights("Other Users/bob/INBOX").expect("MYRIGHTS");
    assert_eq!(rights.parsed().rights().to_string(), "lrsw");
    let acl = s.get_acl("Other Users/bob/INBOX").expect("GETACL");
    let entries: Vec<(String, String)> = acl
        .parsed()
        .acls()
        .iter()
        .map(|e| (e.identifier.to_string(), e.rights.to_string()))
        .collect();
    assert_eq!(
        entries,
        [
            ("bob".into(), "lrsw".into()),
            ("alice".into(), "lrsw".into())
        ]
    );
    let lr = s.list_rights("INBOX", "somebody").expect("LISTRIGHTS");
    assert_eq!(lr.parsed().required().to_string(), "");
    assert_eq!(lr.parsed().optional().to_string(), "lrsw");
    // Revoked and never granted: no such mailbox, to a real client too.
    assert!(s.my_rights("Other Users/carol/INBOX").is_err());
    assert!(s.select("Other Users/carol/INBOX").is_err());

    let names = s.list(Some(""), Some("\"Other Users/*\"")).expect("LIST");
    let names: BTreeSet<String> = names.iter().map(|n| n.name().to_owned()).collect();
    let want: BTreeSet<String> = model
        .listable("alice")
        .into_iter()
        .filter(|n| n.starts_with("Other Users/"))
        .collect();
    assert_eq!(names, want);

    let mailbox = s.select("Other Users/bob/INBOX").expect("SELECT");
    assert_eq!(mailbox.exists, 2);
    let fetches = s
        .fetch("1:*", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        .expect("FETCH");
    let subjects: BTreeSet<String> = fetches
        .iter()
        .map(|f| {
            let h = String::from_utf8_lossy(f.header().unwrap_or_default()).into_owned();
            h.trim().trim_start_matches("Subject: ").to_owned()
        })
        .collect();
    let want: BTreeSet<String> = model.archives["bob"]["INBOX"].iter().cloned().collect();
    assert_eq!(subjects, want);
    s.logout().unwrap();
}
