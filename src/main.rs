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
    /// Archive mail for a user from mbox files, Maildir trees, .eml files or directories of them.
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
    /// Rebuild the content index (what SEARCH's text keys use) and the SORT/THREAD keys from the
    /// stored messages.
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
struct ImportArgs {
    /// The user whose archive receives the mail.
    #[arg(long, value_name = "NAME")]
    user: String,
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
    },
    /// Change a user's password, read from the first line of standard input.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Delete a user and their folders (stored messages stay in the blob store).
    Del { name: String },
    /// List users with their folder and message counts.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("imapvault: {e:#}");
            ExitCode::from(1)
        }
    }
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
    use imapvault::import::{self, Target};
    let mut archive = imapvault::archive::Archive::open(&config.archive.dir)?;
    let target = match args.folder {
        Some(f) => Target::Folder(f),
        None => Target::Auto,
    };
    let show_progress = std::io::stderr().is_terminal();
    let mut last_shown = std::time::Instant::now();
    let summary = import::run(&mut archive, &args.user, target, &args.paths, &mut |p| {
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
    })
    .with_context(|| format!("importing for user {}", args.user))?;
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
        UserCommand::Add { name, .. } => {
            imapvault::auth::validate_user_name(&name)?;
            let hash = imapvault::auth::hash_password(read_password_line()?.as_bytes())?;
            index.add_user(&name, &hash)?;
            println!("added user {name}");
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
                    "{}\t{} folders\t{} messages",
                    u.name, u.mailboxes, u.messages
                );
            }
        }
    }
    Ok(())
}
