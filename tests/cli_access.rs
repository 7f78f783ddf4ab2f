//! `imapvault user grant`, `user revoke` and `user add --auditor` as the admin runs them (issue
//! 5): the built binary on a configuration in a temporary directory. What each says, its exit
//! status, and what `user list` shows after.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn admin(config: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imapvault"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that does not read its standard input may exit before the write: the pipe is
    // then closed, which is not the test's concern (what the command said and did is).
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn grant_revoke_and_auditors_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("imapvault.toml");
    std::fs::write(
        &config,
        "[server]\nlisten_tls = [\"127.0.0.1:1\"]\nlisten_starttls = []\n\
         [tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[archive]\ndir = \"archive\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| text(&admin(&config, args, "pw\n"));

    assert_eq!(run(&["user", "add", "alice", "--password-stdin"]).0, 0);
    assert_eq!(run(&["user", "add", "bob", "--password-stdin"]).0, 0);
    let (code, out, _) = run(&["user", "add", "eve", "--password-stdin", "--auditor"]);
    assert_eq!((code, out.as_str()), (0, "added auditor eve\n"));

    let (code, out, _) = run(&["user", "grant", "alice", "--to", "bob"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "bob may now read the archive of alice\n")
    );

    // Each refusal: exit status 1 (as every failing `user` subcommand), a message that names
    // what is wrong, nothing on stdout.
    for (args, message) in [
        (
            &["user", "grant", "alice", "--to", "bob"][..],
            "bob already reads the archive of alice",
        ),
        (
            &["user", "grant", "alice", "--to", "alice"][..],
            "alice always reads their own archive",
        ),
        (
            &["user", "grant", "alice", "--to", "zed"][..],
            "no user \"zed\"",
        ),
        (
            &["user", "grant", "zed", "--to", "bob"][..],
            "no user \"zed\"",
        ),
        (
            &["user", "revoke", "bob", "--from", "alice"][..],
            "alice has no grant to read the archive of bob",
        ),
        (
            &["user", "revoke", "zed", "--from", "alice"][..],
            "no user \"zed\"",
        ),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    // A missing --to is a command-line error (exit status 2, from the argument parser).
    assert_eq!(run(&["user", "grant", "alice"]).0, 2);

    let (code, out, _) = run(&["user", "list"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "alice\tuser\t0 folders\t0 messages\n\
         bob\tuser\t0 folders\t0 messages\n\
         eve\tauditor\t0 folders\t0 messages\n"
    );

    let (code, out, _) = run(&["user", "revoke", "alice", "--from", "bob"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "bob may no longer read the archive of alice\n")
    );
    let index = imapvault::archive::Archive::open_index_at(&dir.path().join("archive")).unwrap();
    let (alice, bob) = (
        index.user_id("alice").unwrap(),
        index.user_id("bob").unwrap(),
    );
    assert_eq!(index.reach(bob, alice).unwrap(), None);
}
