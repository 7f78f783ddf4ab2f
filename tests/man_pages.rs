//! The man pages cover what the binary and the configuration offer, and render cleanly (issue 8).
//!
//! - `imapvault.8`: every subcommand (nested `user` ones too) has a `.SS` heading starting with
//!   its name, every `--long` option of a subcommand's `--help` appears in that subcommand's
//!   section, and every option of the top-level `--help` in OPTIONS. The lists come from the
//!   built binary, so a new subcommand or option without documentation fails here by name.
//! - `imapvault.toml.5`: every key of `conf/imapvault.toml` (the commented example) and every
//!   field the parser accepts (the `Raw*` structs of `src/config.rs`) is an item in its table's
//!   `.SS "[table]"` section, and says `Default:` with the example's value.
//! - `man --warnings -l` and `groff -man -ww -z` print nothing on either page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn page(name: &str) -> PathBuf {
    root().join("man").join(name)
}

// ------------------------------------------------------------------ the binary's --help

/// What one `--help` lists: subcommands (without `help`) and long options.
struct Help {
    commands: Vec<String>,
    options: Vec<String>,
}

fn help(path: &[&str]) -> Help {
    let out = Command::new(env!("CARGO_BIN_EXE_imapvault"))
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "imapvault {path:?} --help failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut help = Help {
        commands: Vec::new(),
        options: Vec::new(),
    };
    let mut block = "";
    for line in text.lines() {
        if !line.starts_with(' ') {
            block = line.trim_end_matches(':');
            continue;
        }
        let item = line.trim_start();
        match block {
            "Commands" => {
                let name = item.split_whitespace().next().unwrap_or("");
                if name != "help" && !name.is_empty() {
                    help.commands.push(name.to_owned());
                }
            }
            // `-c, --config <FILE>  ...` or `--demo  ...`: the option column comes first.
            "Options" if item.starts_with('-') => {
                if let Some(long) = item
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .find(|w| w.starts_with("--"))
                {
                    help.options.push(long.to_owned());
                }
            }
            _ => {}
        }
    }
    help
}

/// Every subcommand path, depth first: `["serve"]`, `["user"]`, `["user", "add"]`, ...
fn subcommands(prefix: &[String], out: &mut Vec<Vec<String>>) {
    let args: Vec<&str> = prefix.iter().map(String::as_str).collect();
    for name in help(&args).commands {
        let mut path = prefix.to_vec();
        path.push(name);
        out.push(path.clone());
        subcommands(&path, out);
    }
}

// ------------------------------------------------------------------ roff, read plainly

/// A man page's source with escapes turned into the text they print, comments dropped.
fn plain_source(name: &str) -> String {
    let text = std::fs::read_to_string(page(name)).unwrap();
    text.lines()
        .filter(|l| !l.starts_with(".\\\""))
        .map(|l| {
            l.replace("\\-", "-")
                .replace("\\(dq", "\"")
                .replace("\\(bu", "*")
                .replace("\\fB", "")
                .replace("\\fI", "")
                .replace("\\fR", "")
                .replace("\\fP", "")
                .replace("\\e", "\\")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The page cut at `.SH` and `.SS` headings: (macro, heading text without quotes, body).
fn sections(source: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for line in source.lines() {
        if let Some(h) = line
            .strip_prefix(".SH ")
            .map(|h| (".SH", h))
            .or_else(|| line.strip_prefix(".SS ").map(|h| (".SS", h)))
        {
            out.push((
                h.0.to_owned(),
                h.1.replace('"', "").trim().to_owned(),
                String::new(),
            ));
        } else if let Some(last) = out.last_mut() {
            last.2.push_str(line);
            last.2.push('\n');
        }
    }
    out
}

/// Whether `text` holds `word` not glued to more of a name (`--demo` is not in `--demo-dir`).
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let after = text[i + word.len()..].chars().next();
        let before = text[..i].chars().next_back();
        !matches!(after, Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

// ------------------------------------------------------------------ imapvault.8

#[test]
fn every_subcommand_and_option_is_in_imapvault_8() {
    let source = plain_source("imapvault.8");
    let sections = sections(&source);
    let top = help(&[]);
    let mut missing = Vec::new();

    let options_section = sections
        .iter()
        .find(|(m, h, _)| m == ".SH" && h == "OPTIONS")
        .map(|s| s.2.as_str())
        .unwrap_or("");
    for option in &top.options {
        if !has_word(options_section, option) {
            missing.push(format!("option {option} (in OPTIONS)"));
        }
    }

    let mut paths = Vec::new();
    subcommands(&[], &mut paths);
    assert!(paths.len() >= 8, "too few subcommands found: {paths:?}");
    for path in &paths {
        let name = path.join(" ");
        let own: Vec<&(String, String, String)> = sections
            .iter()
            .filter(|(m, h, _)| m == ".SS" && has_word(h, &name) && h.starts_with(&name))
            .collect();
        if own.is_empty() {
            missing.push(format!(
                "subcommand `{name}` (a .SS heading starting with it)"
            ));
            continue;
        }
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        for option in help(&args).options {
            if top.options.contains(&option) {
                continue; // global: checked in OPTIONS
            }
            let documented = own
                .iter()
                .any(|(_, h, body)| has_word(h, &option) || has_word(body, &option));
            if !documented {
                missing.push(format!("option {option} of `{name}` (in its section)"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "man/imapvault.8 lacks:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn imapvault_8_has_the_sections_admins_look_for() {
    let source = plain_source("imapvault.8");
    let headings: Vec<String> = sections(&source)
        .into_iter()
        .filter(|(m, _, _)| m == ".SH")
        .map(|(_, h, _)| h)
        .collect();
    for wanted in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "COMMANDS",
        "FILES",
        "SIGNALS",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(headings.iter().any(|h| h == wanted), "no .SH {wanted}");
    }
}

// ------------------------------------------------------------------ imapvault.toml.5

/// `table -> [(key, default as the example writes it)]` from conf/imapvault.toml.
fn example_keys() -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(root().join("conf/imapvault.toml")).unwrap();
    let mut keys: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut table = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(t) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = t.to_owned();
            keys.entry(table.clone()).or_default();
        } else if let Some((k, v)) = line.split_once('=') {
            keys.entry(table.clone())
                .or_default()
                .push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    assert!(keys.values().map(Vec::len).sum::<usize>() >= 10, "{keys:?}");
    keys
}

/// `table -> [field]` from the `Raw*` structs of src/config.rs: what the parser accepts.
/// `RawConfig`'s fields are the tables; `RawServer`'s are the keys of `[server]`, and so on.
fn parser_keys() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(root().join("src/config.rs")).unwrap();
    let mut structs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("struct Raw") {
            let name = rest.trim_end_matches(" {").trim().to_owned();
            current = Some(name.to_ascii_lowercase());
            continue;
        }
        if line.starts_with('}') {
            current = None;
        }
        let Some(name) = &current else { continue };
        let field = line.trim().trim_start_matches("pub ");
        if let Some((ident, _)) = field.split_once(':') {
            if !ident.is_empty() && ident.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                structs.entry(name.clone()).or_default().push(ident.into());
            }
        }
    }
    let tables = structs
        .remove("config")
        .expect("struct RawConfig in src/config.rs");
    tables
        .into_iter()
        .map(|t| {
            let fields = structs.get(&t).cloned().unwrap_or_default();
            assert!(
                !fields.is_empty(),
                "no struct Raw* with the fields of [{t}]"
            );
            (t, fields)
        })
        .collect()
}

/// The items of one `.SS "[table]"` section: `.TP` then `.B key` starts one.
fn items(body: &str) -> BTreeMap<String, String> {
    let mut items: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut previous = "";
    for line in body.lines() {
        let key = line
            .strip_prefix(".B ")
            .filter(|_| previous == ".TP")
            .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        if let Some(key) = key {
            current = Some(key.to_owned());
            items.entry(key.to_owned()).or_default();
        } else if let Some(k) = &current {
            let item = items.get_mut(k).unwrap(); // inserted when `current` was set
            item.push_str(line);
            item.push('\n');
        }
        previous = line;
    }
    items
}

#[test]
fn every_config_key_is_in_imapvault_toml_5_with_its_default() {
    let source = plain_source("imapvault.toml.5");
    let sections = sections(&source);
    let table_items = |table: &str| {
        sections
            .iter()
            .find(|(m, h, _)| m == ".SS" && h == &format!("[{table}]"))
            .map(|(_, _, body)| items(body))
    };
    let mut missing = Vec::new();
    for (table, keys) in example_keys() {
        let Some(items) = table_items(&table) else {
            missing.push(format!("table [{table}] (a .SS \"[{table}]\" section)"));
            continue;
        };
        for (key, default) in keys {
            match items.get(&key) {
                None => missing.push(format!("key {table}.{key}")),
                Some(text) => {
                    let shown = text
                        .split("Default:")
                        .nth(1)
                        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "));
                    if !shown.is_some_and(|d| d.contains(&default)) {
                        missing.push(format!("default {default} of {table}.{key}"));
                    }
                }
            }
        }
    }
    for (table, fields) in parser_keys() {
        let items = table_items(&table).unwrap_or_default();
        for field in fields {
            if !items.contains_key(&field) {
                missing.push(format!("key {table}.{field} (a field in src/config.rs)"));
            }
        }
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "man/imapvault.toml.5 lacks:\n  {}",
        missing.join("\n  ")
    );
}

// ------------------------------------------------------------------ rendering

/// Runs a formatter on a page; any output on stderr is a warning.
fn warnings_of(program: &str, args: &[&str], page: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .arg(page)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): run tests/run.sh, which installs man-db and groff")
        });
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        text.push_str(&format!("{program} exited with {}", out.status));
    }
    if out.stdout.is_empty() && program == "man" {
        text.push_str("man printed nothing");
    }
    text
}

#[test]
fn pages_render_without_warnings() {
    for name in ["imapvault.8", "imapvault.toml.5"] {
        let path = page(name);
        let man = warnings_of("man", &["--warnings", "-l"], &path);
        assert!(man.is_empty(), "man --warnings -l man/{name}:\n{man}");
        let groff = warnings_of("groff", &["-man", "-ww", "-z"], &path);
        assert!(groff.is_empty(), "groff -man -ww -z man/{name}:\n{groff}");
    }
}
