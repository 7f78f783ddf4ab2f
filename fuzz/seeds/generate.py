#!/usr/bin/env python3
"""Writes the fuzz seed corpora (fuzz/seeds/<target>/) from the project's own test data:
the client side of tests/transcripts/*.txt and the mail of tests/corpus/*.eml.

Run from the repository root: python3 fuzz/seeds/generate.py. Seeds stay small (each capped);
fuzz/run.sh copies them into a scratch corpus, so campaign output never lands in git.
The first octet of each seed is the target's mode byte (see fuzz/src/lib.rs)."""

import glob
import os
import re
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fuzz", "seeds")
CAP = 2048

# Transcript sessions select fixture folders; the fuzz archive is the demo archive.
FOLDERS = {b"Sent": b"Sent", b"Archive/2019": b"Archive/2022", b"Entw&APw-rfe": b"Projects/Apollo"}


def sessions():
    """(file stem, plain?, client lines) for each transcript session."""
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "transcripts", "*.txt"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        current = None
        for line in open(path, "rb").read().split(b"\n"):
            if line.startswith(b"=== "):
                if current:
                    yield current
                current = (stem, line.rstrip().endswith(b"[plain]"), [])
            elif current and line.startswith(b"C: ") and line != b"C: !starttls":
                current[2].append(line[3:])
            elif current and line == b"C:":
                current[2].append(b"")
        if current:
            yield current


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data[:CAP])


def main():
    for t in ("command_parser", "session", "search", "mime"):
        shutil.rmtree(os.path.join(OUT, t), ignore_errors=True)
    n = 0
    for stem, plain, lines in sessions():
        n += 1
        raw = b"".join(l + b"\r\n" for l in lines)
        write("command_parser", "%s-%02d" % (stem, n), bytes([0]) + raw)
        if stem in ("errors", "login"):
            write("command_parser", "%s-%02d-tiny" % (stem, n), bytes([3]) + raw)
        # Sessions: the fuzz prefix logs in, so LOGIN/AUTHENTICATE lines go.
        body = [l for l in lines if not re.search(rb"(?i)\b(login|authenticate)\b", l)]
        if any(re.search(rb"(?i)authenticate", l) for l in lines) and not body:
            continue
        for old, new in FOLDERS.items():
            body = [l.replace(old, new) for l in body]
        logged_in = len(body) != len(lines)
        mode = 1 if plain else (2 if logged_in else 0)
        write("session", "%s-%02d" % (stem, n), bytes([mode]) + b"".join(l + b"\r\n" for l in body))
        for l in lines:
            m = re.match(rb"^\S+ (UID )?SEARCH (.*)$", l, re.I)
            if m:
                n += 1
                write("search", "%s-%02d" % (stem, n), bytes([1 if m.group(1) else 0]) + m.group(2))
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "corpus", "*.eml"))):
        write("mime", os.path.basename(path), open(path, "rb").read())


main()
