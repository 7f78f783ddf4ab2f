//! The `imapvault` binary: parses arguments, sets up logging, calls the library, maps errors to
//! exit codes. Nothing else lives here (STYLE: a clean binary edge).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use imapvault::config::{self, Config};

/// Read-only IMAP access to archived mail.
#[derive(Parser)]
#[command(name = "imapvault", version, about, long_about = None)]
struct Cli {
    /// Configuration file.
    #[arg(long, short = 'c', global = true, value_name = "FILE", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the IMAP server.
    Serve(ServeArgs),
    /// Archive mail for a user (mailbox mode) or into the journal (journal mode) from mbox
    /// files, Maildir trees, .eml files or directories of them.
    Import(ImportArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Check every stored message against its checksum and report damage.
    Verify,
    /// List the live sessions of the running server (id, user, address, client, state, folder,
    /// since, commands, bytes in and out), through its control socket in the archive directory.
    Sessions,
    /// End sessions of the running server: one by its id (see `sessions`), or all of a user's.
    /// Each is told `* BYE`.
    Kick {
        /// A session id or a user name.
        target: String,
    },
    /// Rebuild the content index (what SEARCH's text keys use), PREVIEW texts, the
    /// $HasAttachment keyword and the SORT/THREAD keys from the stored messages.
    Reindex,
    /// Check the configuration, certificate, key and archive directory.
    ///
    /// Prints what it found and the effective configuration (every key, defaults filled in).
    /// Exits 0 when the configuration is usable (warnings allowed), 1 when it is not.
    CheckConfig,
}

#[derive(Args)]
struct ServeArgs {
    /// Run on an embedded default: a fresh data dir with a demo archive, user `demo`, a
    /// self-signed certificate, listening on 127.0.0.1:1993 (TLS) and 127.0.0.1:1143 (STARTTLS).
    /// Needs no configuration file.
    #[arg(long)]
    demo: bool,
    /// With --demo: keep the demo data in this directory instead of a fresh temporary one.
    #[arg(long, value_name = "DIR", requires = "demo")]
    demo_dir: Option<PathBuf>,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("feed").required(true).args(["user", "journal"])))]
struct ImportArgs {
    /// The user whose archive receives the mail (mailbox mode).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The mail is a journal (journal mode): each message, or the original an Exchange journal
    /// report carries, is stored once and shown to the users whose addresses took part.
    #[arg(long, conflicts_with = "folder")]
    journal: bool,
    /// Put every message in this folder (default: INBOX for mbox and .eml; a Maildir keeps
    /// its own folders). Use `/` between levels, e.g. `Archive/2019`.
    #[arg(long, value_name = "NAME")]
    folder: Option<String>,
    /// mbox files, Maildir or Maildir++ directories, .eml files or directories of .eml files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Make the user an auditor: reads every user's archive under `Other Users/NAME/`, with
        /// their own flags; each such access is logged.
        #[arg(long)]
        auditor: bool,
    },
    /// Change a user's password, read from the first line of standard input.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Delete a user and their folders (stored messages stay in the blob store).
    Del { name: String },
    /// List users with their role and folder and message counts.
    List,
    /// Let DELEGATE read OWNER's archive as `Other Users/OWNER/...`, with their own flags.
    Grant {
        /// The user whose archive is shared.
        owner: String,
        /// The user who may read it.
        #[arg(long = "to", value_name = "DELEGATE")]
        delegate: String,
    },
    /// Take back DELEGATE's right to read OWNER's archive; takes effect at the delegate's next
    /// command, also in open sessions.
    Revoke {
        /// The user whose archive was shared.
        owner: String,
        /// The user who may no longer read it.
        #[arg(long = "from", value_name = "DELEGATE")]
        delegate: String,
    },
    /// Manage a user's addresses (journal mode shows each user the mail their addresses took
    /// part in).
    #[command(subcommand)]
    Address(AddressCommand),
}

#[derive(Subcommand)]
enum AddressCommand {
    /// Give a user an address (an alias; matched case-insensitively). In journal mode the
    /// mail it took part in appears in the user's INBOX and Sent at once.
    Add { name: String, address: String },
    /// Take an address from a user: later journal mail no longer matches it; what the user
    /// already sees stays.
    Del { name: String, address: String },
    /// List a user's addresses.
    List { name: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("imapvault: {}", error_chain(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, `: ` between them, each cause left out where the text before
/// already ends with it: many errors name their cause in their own message (`{source}`), and
/// "File too large (os error 27): File too large (os error 27)" tells an admin nothing more.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) if args.demo => {
            init_logging(log::LevelFilter::Info);
            imapvault::demo::serve(args.demo_dir.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(_) => {
            let config = load_config(&cli.config)?;
            init_logging(config.log_level);
            imapvault::server::run_configured(&config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => {
            let config = load_config(&cli.config)?;
            init_logging(config.log_level);
            import(&config, args)
        }
        Command::User(cmd) => {
            let config = load_config(&cli.config)?;
            init_logging(config.log_level);
            user(&config, cmd)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex => {
            let config = load_config(&cli.config)?;
            init_logging(config.log_level);
            reindex(&config)
        }
        Command::Sessions => {
            let config = load_config(&cli.config)?;
            let answer = imapvault::server::control::ask(&config.archive.dir, "sessions")?;
            println!(
                "ID\tUSER\tADDRESS\tCLIENT\tSTATE\tFOLDER\tSINCE\tCOMMANDS\tBYTES-IN\tBYTES-OUT"
            );
            print!("{answer}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Kick { target } => {
            let config = load_config(&cli.config)?;
            let answer =
                imapvault::server::control::ask(&config.archive.dir, &format!("kick {target}"))?;
            print!("{answer}");
            Ok(if answer.starts_with("kicked 0") {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Verify => {
            let config = load_config(&cli.config)?;
            init_logging(config.log_level);
            let archive = imapvault::archive::Archive::open(&config.archive.dir)?;
            let report = archive.verify()?;
            println!(
                "{} segment(s), {} intact record(s), {} damaged, {} torn tail(s)",
                report.segments,
                report.records,
                report.damaged.len(),
                report.torn_tails.len()
            );
            for d in &report.damaged {
                println!(
                    "damaged: segment {} record at offset {}: {} (not served)",
                    d.segment, d.record_offset, d.damage
                );
            }
            for t in &report.torn_tails {
                println!(
                    "torn tail: segment {} has {} byte(s) past its committed end {} (ignored)",
                    t.segment,
                    t.file_len.saturating_sub(t.committed_end),
                    t.committed_end
                );
            }
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(4)
            })
        }
        Command::CheckConfig => {
            init_logging(log::LevelFilter::Warn);
            use imapvault::check_config::{check, Environment};
            let report = check(&cli.config, &Environment::of_this_machine());
            print!("{report}");
            Ok(if report.is_usable() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn load_config(path: &Path) -> Result<Config> {
    Ok(Config::load(path)?)
}

/// Logs go to stderr (journald catches them); `RUST_LOG` overrides the configured level.
fn init_logging(level: log::LevelFilter) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let _ = builder.try_init();
}

fn import(config: &Config, args: ImportArgs) -> Result<ExitCode> {
    use imapvault::import::{self, Feed, ImportError, Target};
    let target = match args.folder {
        Some(f) => Target::Folder(f),
        None => Target::Auto,
    };
    let (feed, what) = match args.user {
        Some(name) if !args.journal => (
            Feed::User {
                name: name.clone(),
                target,
            },
            format!("user {name}"),
        ),
        _ => (Feed::Journal, "the journal".to_owned()),
    };
    let mut archive = imapvault::archive::Archive::open(&config.archive.dir)?;
    let show_progress = std::io::stderr().is_terminal();
    let mut last_shown = std::time::Instant::now();
    let result = import::run_in_mode(
        &mut archive,
        config.archive.mode,
        &feed,
        &args.paths,
        &mut |p| {
            if show_progress && last_shown.elapsed().as_millis() >= 200 {
                last_shown = std::time::Instant::now();
                eprint!(
                    "\r{} messages read ({} MiB): {} imported, {} duplicates, {} rejected\x1b[K",
                    p.messages,
                    p.bytes >> 20,
                    p.imported,
                    p.duplicates,
                    p.rejected
                );
                let _ = std::io::stderr().flush();
            }
        },
    );
    let summary = match result {
        Err(e @ ImportError::WrongMode(_)) => {
            // Refused as a whole: an import rejection (exit 3), with nothing archived.
            eprintln!("imapvault: importing into {what}: {e}");
            return Ok(ExitCode::from(3));
        }
        r => r.with_context(|| format!("importing into {what}"))?,
    };
    if show_progress {
        eprint!("\r\x1b[K");
    }
    println!("{summary}");
    for r in &summary.rejected {
        eprintln!("rejected {}: {}", r.location, r.reason);
    }
    Ok(if summary.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn reindex(config: &Config) -> Result<ExitCode> {
    let mut archive = imapvault::archive::Archive::open(&config.archive.dir)?;
    let show_progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let (done, skipped) = imapvault::import::reindex::run(&mut archive, &mut |p| {
        if show_progress {
            eprint!(
                "\r{} of {} messages indexed, {} damaged\x1b[K",
                p.indexed, p.total, p.damaged
            );
            let _ = std::io::stderr().flush();
        }
    })
    .context("reindexing")?;
    if show_progress {
        eprint!("\r\x1b[K");
    }
    println!(
        "{} messages indexed in {:.1} s, {} damaged (not indexed)",
        done.indexed,
        started.elapsed().as_secs_f64(),
        done.damaged
    );
    for s in &skipped {
        eprintln!("damaged: message {}: {}", s.message.0, s.error);
    }
    Ok(if skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
}

fn read_password_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

fn user(config: &Config, cmd: UserCommand) -> Result<()> {
    let archive = imapvault::archive::Archive::open(&config.archive.dir)?;
    let mut index = archive.open_index()?;
    match cmd {
        UserCommand::Add { name, auditor, .. } => {
            imapvault::auth::validate_user_name(&name)?;
            let hash = imapvault::auth::hash_password(read_password_line()?.as_bytes())?;
            let role = if auditor {
                imapvault::index::Role::Auditor
            } else {
                imapvault::index::Role::User
            };
            index.add_user_as(&name, &hash, role)?;
            if config.archive.mode == config::ArchiveMode::Journal {
                index.ensure_journal_mailboxes(&name)?;
            }
            println!("added {} {name}", role.as_str());
        }
        UserCommand::Passwd { name, .. } => {
            let hash = imapvault::auth::hash_password(read_password_line()?.as_bytes())?;
            index.set_password_hash(&name, &hash)?;
            println!("changed the password of {name}");
        }
        UserCommand::Del { name } => {
            index.delete_user(&name)?;
            println!("deleted user {name}");
        }
        UserCommand::List => {
            for u in index.list_users()? {
                println!(
                    "{}\t{}\t{} folders\t{} messages",
                    u.name,
                    u.role.as_str(),
                    u.mailboxes,
                    u.messages
                );
            }
        }
        UserCommand::Grant { owner, delegate } => {
            index.grant(&owner, &delegate)?;
            println!("{delegate} may now read the archive of {owner}");
        }
        UserCommand::Revoke { owner, delegate } => {
            index.revoke(&owner, &delegate)?;
            println!("{delegate} may no longer read the archive of {owner}");
        }
        UserCommand::Address(cmd) => address(config, &mut index, cmd)?,
    }
    Ok(())
}

fn address(
    config: &Config,
    index: &mut imapvault::index::Index,
    cmd: AddressCommand,
) -> Result<()> {
    use imapvault::mime::journal::addr_spec;
    match cmd {
        AddressCommand::Add { name, address } => {
            let address = addr_spec(&address)?;
            let added = index.add_address(&name, &address)?;
            if config.archive.mode == config::ArchiveMode::Journal {
                index.ensure_journal_mailboxes(&name)?;
                println!(
                    "added address {address} to {name}; {} journal message(s) newly shown",
                    added.backfilled
                );
            } else {
                println!("added address {address} to {name}");
            }
        }
        AddressCommand::Del { name, address } => {
            let address = addr_spec(&address)?;
            index.delete_address(&name, &address)?;
            println!("removed address {address} from {name}");
        }
        AddressCommand::List { name } => {
            for a in index.addresses(&name)? {
                println!("{a}");
            }
        }
    }
    Ok(())
}
