#!/usr/bin/env python3
"""Check the embedded demo archive (src/demo/mail) with Python's own mail parsers.

The Rust loader reads these files with `include_bytes!`; this script is an independent reader:
it checks the MANIFEST, the mboxrd framing (our splitter against `mailbox.mbox`), that every
message and every MIME part parses and decodes without defects, that threads resolve, and that
the archive still covers the cases the tests rely on (charsets, encodings, MIME shapes, a
long message). Run: python3 tests/demo_mail_check.py [DIR]; exit status 0 means all good.
"""
import email
import email.policy
import mailbox
import re
import sys
import time
import zlib
from collections import Counter
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "src" / "demo" / "mail"

# "From sender Www Mmm dd hh:mm:ss yyyy", dd space-padded (asctime).
FROM_LINE = re.compile(
    rb"^From (\S+) ((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d \d{4})$"
)
ALLOWED_DOMAINS = ("example.org", "example.com", "example.net")
KNOWN_CHARSETS = {"us-ascii", "utf-8", "iso-8859-1", "windows-1252", "koi8-r", "iso-2022-jp"}

errors = []
seen = Counter()  # coverage: what kinds of things the archive contains


def fail(where, what):
    errors.append(f"{where}: {what}")


def split_mboxrd(data: bytes):
    """Our own mboxrd reader: yields (from_line, message_bytes) with '>From ' unescaped."""
    lines = data.split(b"\n")
    if data and not data.endswith(b"\n"):
        raise ValueError("file does not end with a line feed")
    lines.pop()  # the empty string after the final LF
    current, head = None, None
    for line in lines:
        if line.startswith(b"From "):
            if current is not None:
                if not current or current[-1] != b"":
                    raise ValueError(f"no blank line before {line!r}")
                yield head, b"\n".join(current[:-1]) + b"\n"
            head, current = line, []
            continue
        if current is None:
            raise ValueError(f"data before the first From line: {line!r}")
        if re.match(rb"^>+From ", line):
            line = line[1:]
        current.append(line)
    if current is not None:
        if not current or current[-1] != b"":
            raise ValueError("no blank line after the last message")
        yield head, b"\n".join(current[:-1]) + b"\n"


def check_text(where, text):
    if "=?" in text and "?=" in text:
        fail(where, f"RFC 2047 word left undecoded: {text!r}")


def check_addresses(where, msg):
    for name in ("From", "To", "Cc", "Bcc", "Reply-To"):
        for value in msg.get_all(name, []):
            for addr in re.findall(r"[\w.+-]+@([\w.-]+)", str(value)):
                if addr not in ALLOWED_DOMAINS and not addr.endswith(tuple("." + d for d in ALLOWED_DOMAINS)):
                    fail(where, f"{name} uses a non-example domain: {addr}")


def check_message(where, msg, depth=0):
    """Walk one message (recursing into message/rfc822) and decode every leaf part."""
    for d in msg.defects:
        fail(where, f"message defect: {d!r}")
    for name in ("Subject", "From", "To", "Cc", "Bcc"):
        for value in msg.get_all(name, []):
            check_text(f"{where} {name}", str(value))
    check_addresses(where, msg)
    for part in msg.walk():
        ctype = part.get_content_type()
        seen[ctype] += 1
        for d in part.defects:
            fail(where, f"{ctype} part defect: {d!r}")
        if ctype == "message/rfc822":
            inner = part.get_payload(0)
            seen["nested message"] += 1
            check_message(f"{where} > rfc822", inner, depth + 1)
            continue
        if part.is_multipart():
            if not part.get_boundary():
                fail(where, f"{ctype} without boundary")
            continue
        cte = part.get("Content-Transfer-Encoding", "7bit").lower()
        seen[f"cte {cte}"] += 1
        filename = part.get_filename()
        if filename:
            seen["attachment"] += 1
            check_text(f"{where} filename", filename)
            if any(ord(c) > 127 for c in filename):
                seen["non-ascii filename"] += 1
        payload = part.get_payload(decode=True)
        if payload is None:
            fail(where, f"{ctype} payload does not decode")
            continue
        if part.get_content_maintype() == "text":
            charset = (part.get_content_charset() or "us-ascii").lower()
            if charset not in KNOWN_CHARSETS:
                fail(where, f"unexpected charset {charset}")
            seen[f"charset {charset}"] += 1
            try:
                text = payload.decode({"us-ascii": "ascii"}.get(charset, charset))
            except UnicodeDecodeError as e:
                fail(where, f"{ctype} does not decode as {charset}: {e}")
                continue
            if part.get_content() != text:
                fail(where, f"{ctype}: email.get_content() disagrees with {charset} decode")
        elif ctype == "image/png":
            if not payload.startswith(b"\x89PNG\r\n\x1a\n"):
                fail(where, "image/png is not a PNG")
            else:
                # Every chunk's CRC must hold; IDAT must inflate.
                pos, idat = 8, b""
                while pos < len(payload):
                    n = int.from_bytes(payload[pos:pos + 4], "big")
                    kind, body = payload[pos + 4:pos + 8], payload[pos + 8:pos + 8 + n]
                    crc = int.from_bytes(payload[pos + 8 + n:pos + 12 + n], "big")
                    if zlib.crc32(kind + body) != crc:
                        fail(where, f"PNG chunk {kind!r} has a bad CRC")
                    if kind == b"IDAT":
                        idat += body
                    pos += 12 + n
                zlib.decompress(idat)
        elif ctype == "application/pdf":
            if not payload.startswith(b"%PDF-") or not payload.rstrip().endswith(b"%%EOF"):
                fail(where, "application/pdf is not a PDF")
            m = re.search(rb"startxref\n(\d+)\n", payload)
            if not m or not payload[int(m.group(1)):].startswith(b"xref"):
                fail(where, "PDF startxref does not point at the xref table")


def main():
    manifest = DIR / "MANIFEST"
    entries = []
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 2 or not all(parts):
            fail(f"MANIFEST:{n}", f"not 'file<TAB>folder': {line!r}")
            continue
        fname, folder = parts
        if fname != folder.replace("/", ".") + ".mbox":
            fail(f"MANIFEST:{n}", f"{fname} is not the folder name with '/' as '.'")
        entries.append((fname, folder))
    listed = {f for f, _ in entries}
    on_disk = {p.name for p in DIR.glob("*.mbox")}
    if listed != on_disk:
        fail("MANIFEST", f"lists {sorted(listed)} but the directory has {sorted(on_disk)}")
    if len({f for _, f in entries}) != len(entries):
        fail("MANIFEST", "a folder is listed twice")
    if "INBOX" not in {f for _, f in entries}:
        fail("MANIFEST", "no INBOX")

    all_ids, all_refs, total = {}, [], 0
    print(f"{'folder':<18} {'messages':>8} {'bytes':>8}  largest")
    for fname, folder in entries:
        path = DIR / fname
        data = path.read_bytes()
        if b"\r" in data:
            fail(fname, "contains CR: LF line ends only")
        try:
            ours = list(split_mboxrd(data))
        except ValueError as e:
            fail(fname, str(e))
            continue
        # Python's mbox reader splits the same way; it does not undo mboxrd quoting, so do that.
        box = mailbox.mbox(str(path), create=False)
        py_msgs = [box.get_bytes(k) for k in box.keys()]
        py_msgs = [re.sub(rb"(?m)^>(>*From )", rb"\1", b) for b in py_msgs]
        if len(py_msgs) != len(ours):
            fail(fname, f"mailbox.mbox sees {len(py_msgs)} messages, our splitter {len(ours)}")
        for i, (a, (_, b)) in enumerate(zip(py_msgs, ours)):
            if a.rstrip(b"\n") != b.rstrip(b"\n"):
                fail(f"{fname}#{i + 1}", "mailbox.mbox and the mboxrd splitter disagree on the bytes")
        sizes = []
        for i, (head, raw) in enumerate(ours, 1):
            where = f"{folder}#{i}"
            total += 1
            sizes.append(len(raw))
            m = FROM_LINE.match(head)
            if not m:
                fail(where, f"bad separator line {head!r}")
            for enc in re.findall(rb"=\?[^?]+\?([BbQq])\?", raw):
                seen[f"rfc2047 {enc.decode().upper()}"] += 1
            if re.search(rb"(?m)^From ", raw):
                seen["body From line (mboxrd)"] += 1
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            for h in ("From", "Date", "Message-ID"):
                if msg[h] is None:
                    fail(where, f"no {h} header")
            try:
                date = parsedate_to_datetime(str(msg["Date"]))
                if not 2022 <= date.year <= 2025:
                    fail(where, f"date {date} outside 2022-2025")
                if m and time.asctime(time.gmtime(date.timestamp())).encode() != m.group(2):
                    fail(where, f"separator date {m.group(2)!r} is not the Date header in UTC")
                seen[f"year {date.year}"] += 1
            except (TypeError, ValueError) as e:
                fail(where, f"bad Date: {e}")
            mid = str(msg["Message-ID"]).strip()
            if mid in all_ids:
                fail(where, f"Message-ID {mid} also in {all_ids[mid]}")
            all_ids[mid] = where
            for h in ("In-Reply-To", "References"):
                for ref in re.findall(r"<[^>]+>", str(msg.get(h, ""))):
                    all_refs.append((where, ref))
                    seen["threaded"] += 1
            if len(raw) >= 16 * 1024:
                seen["long message"] += 1
            check_message(where, msg)
        print(f"{folder:<18} {len(ours):>8} {len(data):>8}  {max(sizes) if sizes else 0}")
    for where, ref in all_refs:
        if ref not in all_ids:
            fail(where, f"reference {ref} is not in the archive")

    # What the tests rely on: keep these when editing the demo mail.
    required = [
        "multipart/alternative", "multipart/mixed", "multipart/related", "message/rfc822",
        "nested message", "image/png", "application/pdf", "text/csv", "text/html",
        "text/calendar", "cte quoted-printable", "cte base64", "cte 8bit", "rfc2047 B",
        "rfc2047 Q", "charset utf-8", "charset iso-8859-1", "charset windows-1252",
        "charset koi8-r", "charset iso-2022-jp", "long message", "threaded",
        "body From line (mboxrd)", "non-ascii filename", "year 2022", "year 2023",
        "year 2024", "year 2025",
    ]
    for key in required:
        if not seen[key]:
            fail("coverage", f"no {key!r} left in the demo archive")
    if not 25 <= total <= 40:
        fail("coverage", f"{total} messages; keep the demo between 25 and 40")

    print(f"{total} messages in {len(entries)} folders")
    if errors:
        for e in errors:
            print("FAIL", e)
        print(f"0 passed, {len(errors)} failed")
        return 1
    print("demo mail: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
