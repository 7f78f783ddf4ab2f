//! Embeds the demo archive: every file named in `src/demo/mail/MANIFEST` becomes a
//! `(name, include_bytes!(...))` entry that `src/demo/mod.rs` includes.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/demo/mail");
    println!("cargo:rerun-if-changed={}", dir.display());
    let manifest = std::fs::read_to_string(dir.join("MANIFEST")).unwrap_or_default();
    let mut out = String::from("[\n");
    for line in manifest
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let file = line.split('\t').next().unwrap_or(line);
        let path = dir.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            out,
            "    ({file:?}, include_bytes!({:?}) as &[u8]),",
            path.display().to_string()
        );
    }
    out.push(']');
    let target =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("demo_mail.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}
