//! End to end with mbsync (isync): mirror the whole archive into a local Maildir over IMAPS and
//! check every mirrored message against the demo mbox files, and that the archive did not change.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{demo_mail, TestServer};

/// isync 1.5 renamed `SSLType` to `TLSType`; Debian 12 has 1.4.4.
fn tls_keyword() -> &'static str {
    let out = Command::new("mbsync")
        .arg("--version")
        .output()
        .expect("mbsync --version");
    let text = String::from_utf8_lossy(&out.stdout);
    let version: Vec<u32> = text
        .split_whitespace()
        .last()
        .unwrap_or("0")
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    if version.as_slice() >= [1, 5].as_slice() {
        "TLSType"
    } else {
        "SSLType"
    }
}

fn write_config(server: &TestServer, dir: &Path) -> (PathBuf, PathBuf) {
    let maildir = dir.join("mail");
    std::fs::create_dir_all(&maildir).unwrap();
    let rc = dir.join("mbsyncrc");
    let text = format!(
        "IMAPAccount vault\n\
         Host 127.0.0.1\n\
         Port {port}\n\
         User {user}\n\
         Pass {pass}\n\
         {tls} IMAPS\n\
         CertificateFile {cert}\n\
         \n\
         IMAPStore vault-far\n\
         Account vault\n\
         \n\
         MaildirStore local\n\
         Path {maildir}/\n\
         Inbox {maildir}/INBOX\n\
         SubFolders Verbatim\n\
         \n\
         Channel vault\n\
         Far :vault-far:\n\
         Near :local:\n\
         Patterns *\n\
         Sync Pull\n\
         Create Near\n\
         SyncState *\n",
        port = server.tls_addr.port(),
        user = imapvault::demo::USER,
        pass = server.password,
        tls = tls_keyword(),
        cert = server.cert_path().display(),
        maildir = maildir.display(),
    );
    std::fs::write(&rc, text).unwrap();
    (rc, maildir)
}

fn run_mbsync(rc: &Path) {
    let mut cmd = Command::new("mbsync");
    cmd.arg("-c").arg(rc).arg("-a");
    let out = common::run_with_timeout(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "mbsync failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Far-side UID → Maildir file of one mirrored folder, from mbsync's own sync state
/// (`far near flags` lines) and the `,U=near` in the file names.
fn mirrored(folder_dir: &Path) -> BTreeMap<u32, PathBuf> {
    let state = std::fs::read_to_string(folder_dir.join(".mbsyncstate")).expect("sync state");
    let near_to_far: BTreeMap<u32, u32> = state
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let far = it.next()?.parse().ok()?;
            let near = it.next()?.parse().ok()?;
            Some((near, far))
        })
        .collect();
    let mut out = BTreeMap::new();
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(folder_dir.join(sub)).expect("maildir") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let near: u32 = name
                .split(",U=")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no U= in {name}"));
            let far = near_to_far[&near];
            assert!(out.insert(far, path).is_none(), "two files for UID {far}");
        }
    }
    out
}

#[test]
fn mbsync_mirrors_every_message_and_leaves_the_archive_alone() {
    if !common::require_tool("mbsync") {
        return;
    }
    let server = TestServer::start();
    let blobs = server.archive_dir().join("blobs");
    let blobs_before = common::tree_hash(&blobs);
    let counts_before = common::index_counts(&server.archive_dir());

    // Far UIDs in sequence order, per folder.
    let mut uids: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    {
        let mut s = server.imap_session();
        for f in demo_mail() {
            s.examine(&f.name).unwrap();
            let mut v: Vec<(u32, u32)> = s
                .fetch("1:*", "UID")
                .unwrap()
                .iter()
                .map(|x| (x.message, x.uid.unwrap()))
                .collect();
            v.sort();
            uids.insert(f.name.clone(), v.into_iter().map(|(_, u)| u).collect());
        }
        s.logout().ok();
    }

    let work = tempfile::tempdir().unwrap();
    let (rc, maildir) = write_config(&server, work.path());
    run_mbsync(&rc);

    let mut compared = 0;
    for folder in demo_mail() {
        let files = mirrored(&maildir.join(&folder.name));
        let folder_uids = &uids[&folder.name];
        assert_eq!(
            files.keys().copied().collect::<Vec<_>>(),
            *folder_uids,
            "mirrored UIDs of {}",
            folder.name
        );
        for (i, uid) in folder_uids.iter().enumerate() {
            let got = without_x_tuid(&std::fs::read(&files[uid]).unwrap());
            // isync stores Maildir messages with LF line ends (it converts CRLF on the way in;
            // checked by hand: no CR in any mirrored file). So both sides are compared as LF.
            assert!(
                !got.contains(&b'\r'),
                "{}: CR in a Maildir file",
                folder.name
            );
            let want = crlf_to_lf(&folder.messages[i]);
            assert!(
                got == want,
                "{} UID {uid}: {}",
                folder.name,
                common::first_difference(&got, &want)
            );
            compared += 1;
        }
    }
    let total: usize = demo_mail().iter().map(|f| f.messages.len()).sum();
    assert_eq!(compared, total);
    // The implied parent folders were mirrored too, empty.
    for parent in ["Archive", "Projects"] {
        assert!(mirrored(&maildir.join(parent)).is_empty(), "{parent}");
    }

    // A second run finds nothing to do and must not fail (UIDVALIDITY and UIDs are stable).
    run_mbsync(&rc);
    assert_eq!(mirrored(&maildir.join("INBOX")).len(), uids["INBOX"].len());

    assert_eq!(
        common::tree_hash(&blobs),
        blobs_before,
        "blob store changed"
    );
    assert_eq!(common::index_counts(&server.archive_dir()), counts_before);
}

/// isync inserts one `X-TUID: <12 chars>` header into each message it stores (its transaction
/// id for finding the message again, see isync's `copy_msg_convert`); it is not from the server.
/// Removes that one header line, and only from the header section (if there is one).
fn without_x_tuid(msg: &[u8]) -> Vec<u8> {
    let header_end = msg
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(msg.len(), |p| p + 1);
    let mut at = 0;
    while at < header_end {
        let end = msg[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(msg.len(), |p| at + p + 1);
        if msg[at..end].starts_with(b"X-TUID: ") {
            let mut out = msg[..at].to_vec();
            out.extend_from_slice(&msg[end..]);
            return out;
        }
        at = end;
    }
    msg.to_vec()
}

fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}
