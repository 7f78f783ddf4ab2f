#!/usr/bin/env python3
"""Check a corpus written by benches/gen_corpus.py with Python's own mail parsers.

    python3 benches/corpus/check_corpus.py OUT [--max-size BYTES]

- corpus.mbox: mboxrd framing (separator lines, >From quoting) read back line by line;
- Maildir/cur: the same message bytes as the mbox, in the same order (file name M<n>);
- every message parses (email, policy default) with no defects, every part decodes in its
  charset / transfer encoding, nested message/rfc822 parts included;
- Message-IDs are unique and every In-Reply-To / References names an earlier message.
Streams: memory grows only with the set of Message-IDs. Exit status 0 when all is well.
"""
import argparse
import email
import email.policy
import re
import sys
from collections import Counter
from pathlib import Path

FROM_LINE = re.compile(rb"^From \S+ \w{3} \w{3} [ 1-3]\d \d\d:\d\d:\d\d \d{4}\n$")


def mbox_messages(path):
    """Yield message bytes from an mboxrd file, unquoting >From lines."""
    cur = None
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"From "):
                if cur is not None:
                    yield finish(cur, line)
                if not FROM_LINE.match(line):
                    raise ValueError(f"bad separator {line!r}")
                cur = []
                continue
            if cur is None:
                raise ValueError("data before the first separator")
            if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
                line = line[1:]
            cur.append(line)
    if cur is not None:
        yield finish(cur, b"<end of file>")


def finish(lines, nxt):
    if not lines or lines[-1] != b"\n":
        raise ValueError(f"no blank line before {nxt!r}")
    return b"".join(lines[:-1])


def check_parts(msg, where, problems, seen):
    for part in msg.walk():
        ctype = part.get_content_type()
        seen[ctype] += 1
        for d in part.defects:
            problems.append(f"{where}: {ctype}: {d!r}")
        if ctype == "message/rfc822" or part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if part.get_content_maintype() == "text":
            charset = part.get_content_charset() or "us-ascii"
            seen[f"charset {charset}"] += 1
            try:
                payload.decode({"us-ascii": "ascii"}.get(charset, charset))
            except (UnicodeDecodeError, LookupError) as e:
                problems.append(f"{where}: {ctype} not {charset}: {e}")
        if part.get_filename():
            seen["attachment"] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--max-size", type=int, default=2 * 1024 * 1024)
    args = ap.parse_args()
    out = Path(args.out)
    mbox, maildir = out / "corpus.mbox", out / "Maildir" / "cur"
    source = mbox_messages(mbox) if mbox.exists() else None
    files = None
    if maildir.is_dir():
        files = sorted(maildir.iterdir(), key=lambda p: int(re.search(r"\.M(\d+)P", p.name).group(1)))
    if source is None and files is None:
        sys.exit(f"no corpus.mbox or Maildir/cur in {out}")
    if source is None:
        source = (p.read_bytes() for p in files)

    problems, seen, ids = [], Counter(), set()
    n = 0
    for n, raw in enumerate(source, 1):
        where = f"message {n}"
        if files is not None:
            if n > len(files):
                problems.append(f"{where}: in the mbox but not in the Maildir")
            else:
                if files[n - 1].read_bytes() != raw:
                    problems.append(f"{where}: mbox and Maildir ({files[n - 1].name}) differ")
                m = re.search(r",S=(\d+):2,", files[n - 1].name)
                if not m or int(m.group(1)) != len(raw):
                    problems.append(f"{where}: Maildir S= size is wrong")
        if len(raw) > args.max_size:
            problems.append(f"{where}: {len(raw)} bytes > {args.max_size}")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        mid = str(msg["Message-ID"])
        if mid in ids:
            problems.append(f"{where}: duplicate Message-ID {mid}")
        for h in ("In-Reply-To", "References"):
            for ref in re.findall(r"<[^>]+>", str(msg.get(h, ""))):
                if ref not in ids:
                    problems.append(f"{where}: {h} {ref} is not an earlier message")
        ids.add(mid)
        for h in ("Subject", "From", "To", "Cc"):
            v = msg.get(h)
            if v is not None and "=?" in str(v):
                problems.append(f"{where}: {h} not decoded: {str(v)!r}")
        if msg["In-Reply-To"]:
            seen["reply"] += 1
        check_parts(msg, where, problems, seen)
        if len(problems) > 50:
            break
    if files is not None and n < len(files):
        problems.append(f"the Maildir has {len(files)} messages, the mbox {n}")

    print(f"{n} messages checked")
    for key in sorted(seen):
        print(f"  {key}: {seen[key]}")
    for p in problems:
        print("FAIL", p)
    print(f"{n - len({p.split(':')[0] for p in problems if p.startswith('message ')})} passed, "
          f"{len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
