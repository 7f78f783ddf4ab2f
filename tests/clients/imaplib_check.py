#!/usr/bin/env python3
"""End-to-end check of imapvault with Python's stdlib imaplib (called by tests/e2e_python.rs).

Usage: imaplib_check.py HOST TLS_PORT STARTTLS_PORT CAFILE USER PASSWORD MAIL_DIR [main|mime]

MAIL_DIR is src/demo/mail: the expected data is read from the mbox files here, independently of
the server and its importer. Every check asserts; on success the script prints one JSON line with
what it checked and exits 0. Any failure exits non-zero with the reason on stderr.
"""

import email
import email.policy
import imaplib
import json
import re
import ssl
import sys
import time
from datetime import date, datetime, timedelta

HOST, TLS_PORT, STARTTLS_PORT, CAFILE, USER, PASSWORD, MAIL_DIR = sys.argv[1:8]
# "main": everything but the MIME structure checks; "mime": BODYSTRUCTURE, BODY[section] and
# BINARY of every part, including messages whose nested boundary has the outer one as a prefix.
MODE = sys.argv[8] if len(sys.argv) > 8 else "main"
TLS_PORT, STARTTLS_PORT = int(TLS_PORT), int(STARTTLS_PORT)
CHECKED = {}


def count(what, n=1):
    CHECKED[what] = CHECKED.get(what, 0) + n


# ------------------------------------------------------------------ expected data from the mbox


def parse_mbox(data):
    """(From-line date, message bytes with CRLF) for each message; mboxrd, one blank dropped."""
    messages = []
    prev_blank = True
    for line in data.splitlines(keepends=True):
        if prev_blank and line.startswith(b"From "):
            messages.append((line, []))
            prev_blank = False
            continue
        prev_blank = line in (b"\n", b"\r\n")
        messages[-1][1].append(line)
    out = []
    for from_line, lines in messages:
        if lines and lines[-1] == b"\n":
            lines.pop()
        body = b""
        for line in lines:
            m = re.match(rb"^(>+)From ", line)
            if m:
                line = line[1:]
            ended = line.endswith(b"\n")
            line = line.rstrip(b"\n").rstrip(b"\r")
            body += line + (b"\r\n" if ended else b"")
        # "From addr Mon Jan  6 08:00:00 2025"
        stamp = " ".join(from_line.decode().split()[2:7])
        when = datetime.strptime(stamp, "%a %b %d %H:%M:%S %Y")
        out.append((when, body))
    return out


FOLDERS = {}
for line in open(f"{MAIL_DIR}/MANIFEST"):
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        continue
    file, folder = line.split("\t")
    FOLDERS[folder] = parse_mbox(open(f"{MAIL_DIR}/{file}", "rb").read())
EXPECTED_NAMES = set()
for folder in FOLDERS:
    parts = folder.split("/")
    for i in range(1, len(parts) + 1):
        EXPECTED_NAMES.add("/".join(parts[:i]))


# ------------------------------------------------------------------ helpers


def ok(result, what):
    typ, data = result
    assert typ == "OK", f"{what}: {typ} {data}"
    return data


def ctx():
    c = ssl.create_default_context(cafile=CAFILE)
    c.check_hostname = True
    return c


def fetch_items(imap, set_, items, uid=False):
    """{seq: {ITEM: value}} with literals as bytes; parses the simple FETCH shapes we ask for."""
    if uid:
        data = ok(imap.uid("FETCH", set_, items), f"UID FETCH {set_} {items}")
    else:
        data = ok(imap.fetch(set_, items), f"FETCH {set_} {items}")
    out = {}
    seq = None
    for entry in data:
        if entry is None:
            continue
        if isinstance(entry, tuple):
            head, literal = entry
        else:
            head, literal = entry, None
        if head == b")":
            continue
        m = re.match(rb"^(\d+) \((.*)$", head, re.S)
        if m:
            seq = int(m.group(1))
            rest = m.group(2)
        else:
            # The text after a literal, up to the next literal, of the same FETCH response.
            assert seq is not None, f"unexpected FETCH line {head!r}"
            rest = head
        item = out.setdefault(seq, {})
        # Simple atoms: UID n, RFC822.SIZE n, FLAGS (..), BINARY.SIZE[..] n, INTERNALDATE "..."
        for k, v in re.findall(rb'(UID|RFC822\.SIZE|BINARY\.SIZE\[[\d.]*\]) (\d+)', rest):
            item[k.decode()] = int(v)
        f = re.search(rb"FLAGS \(([^)]*)\)", rest)
        if f:
            item["FLAGS"] = set(f.group(1).decode().split())
        d = re.search(rb'INTERNALDATE "([^"]+)"', rest)
        if d:
            item["INTERNALDATE"] = d.group(1).decode()
        if literal is not None:
            key = re.search(rb"([A-Z0-9.]+\[[^\]]*\](?:<\d+>)?) ~?\{\d+\}$", rest)
            assert key, f"literal without a key in {rest!r}"
            item[key.group(1).decode()] = literal
        b = re.search(rb"BODYSTRUCTURE (\(.*\))\)$", rest, re.S)
        if b and literal is None:
            item["BODYSTRUCTURE"] = b.group(1)
    return out


def search(imap, *criteria, uid=False):
    if uid:
        data = ok(imap.uid("SEARCH", *criteria), f"UID SEARCH {criteria}")
    else:
        data = ok(imap.search(None, *criteria), f"SEARCH {criteria}")
    return sorted(int(x) for x in b" ".join(data).split())


def parse_sexp(text):
    """Parses an IMAP parenthesized list (no literals) into nested Python lists."""
    tokens = re.findall(rb'\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+', text)
    pos = 0

    def value():
        nonlocal pos
        t = tokens[pos]
        pos += 1
        if t == b"(":
            items = []
            while tokens[pos] != b")":
                items.append(value())
            pos += 1
            return items
        if t.startswith(b'"'):
            return re.sub(rb"\\(.)", rb"\1", t[1:-1]).decode("utf-8", "replace")
        if t == b"NIL":
            return None
        return t.decode()

    v = value()
    assert pos == len(tokens), f"trailing tokens in {text!r}"
    return v


def mime_leaves(msg, prefix=()):
    """(IMAP section, email part) for every part, with IMAP's numbering (RFC 3501 §6.4.5)."""
    ctype = msg.get_content_type()
    if ctype == "message/rfc822":
        yield (prefix or (1,)), msg
        inner = msg.get_payload()[0]
        if inner.is_multipart():
            for i, sub in enumerate(inner.get_payload(), 1):
                yield from mime_leaves(sub, (prefix or (1,)) + (i,))
        else:
            yield (prefix or (1,)) + (1,), inner
    elif msg.is_multipart():
        if prefix:
            yield prefix, msg
        for i, sub in enumerate(msg.get_payload(), 1):
            yield from mime_leaves(sub, prefix + (i,))
    else:
        yield (prefix or (1,)), msg


def prefix_boundaries(msg):
    """Whether a nested multipart's boundary starts with an enclosing one (RFC 2046 §5.1.1
    tells composers not to do this; Python's email and Dovecot still parse such mail as meant)."""
    def walk(m, outer):
        if not m.is_multipart():
            return False
        b = m.get_boundary()
        if b is not None and any(b.startswith(o) for o in outer):
            return True
        return any(walk(sub, outer + ([b] if b else [])) for sub in m.get_payload())
    return walk(msg, [])


def bs_at(bs, section):
    """The BODYSTRUCTURE node of `section` (tuple of ints)."""
    node = bs
    for n in section:
        if isinstance(node[0], list):  # multipart: children first, then subtype
            node = node[n - 1]
        elif node[0].lower() == "message" and node[1].lower() == "rfc822":
            inner = node[8]
            if isinstance(inner[0], list):
                node = inner[n - 1]
            else:
                assert n == 1, section
                node = inner
        else:
            assert n == 1, f"section {section} in a single part"
    return node


# ------------------------------------------------------------------ the checks


def check_login_paths():
    # Implicit TLS.
    imap = imaplib.IMAP4_SSL(HOST, TLS_PORT, ssl_context=ctx(), timeout=20)
    ok(imap.login(USER, PASSWORD), "LOGIN over IMAPS")
    ok(imap.noop(), "NOOP")
    imap.logout()
    count("login_imaps")
    # A wrong password is a NO, not a hang.
    imap = imaplib.IMAP4_SSL(HOST, TLS_PORT, ssl_context=ctx(), timeout=20)
    try:
        imap.login(USER, PASSWORD + "x")
        raise AssertionError("wrong password accepted")
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e) or "NO" in str(e) or e, e
    imap.logout()
    count("login_wrong_password_refused")
    # STARTTLS on the plain port: LOGINDISABLED before, gone after.
    imap = imaplib.IMAP4(HOST, STARTTLS_PORT, timeout=20)
    assert "STARTTLS" in imap.capabilities, imap.capabilities
    assert "LOGINDISABLED" in imap.capabilities, imap.capabilities
    ok(imap.starttls(ssl_context=ctx()), "STARTTLS")
    assert "LOGINDISABLED" not in imap.capabilities, imap.capabilities
    assert "STARTTLS" not in imap.capabilities, imap.capabilities
    ok(imap.login(USER, PASSWORD), "LOGIN after STARTTLS")
    data = ok(imap.select("INBOX", readonly=True), "EXAMINE after STARTTLS")
    assert int(data[0]) == len(FOLDERS["INBOX"]), data
    imap.logout()
    count("login_starttls")


def check_list_and_status(imap):
    data = ok(imap.list('""', "*"), "LIST")
    names = {}
    for line in data:
        m = re.match(rb'^\(([^)]*)\) "/" (.*)$', line)
        assert m, line
        name = m.group(2).decode()
        if name.startswith('"'):
            name = name[1:-1]
        names[name] = m.group(1).decode().split()
    assert set(names) == EXPECTED_NAMES, (sorted(names), sorted(EXPECTED_NAMES))
    assert "\\Sent" in names["Sent"], names
    count("list_folders", len(names))
    for folder, msgs in FOLDERS.items():
        data = ok(imap.status(f'"{folder}"', "(MESSAGES UIDNEXT UNSEEN SIZE)"), "STATUS")
        m = re.search(rb"\((.*)\)", data[0])
        fields = dict(zip(m.group(1).split()[::2], m.group(1).split()[1::2]))
        assert int(fields[b"MESSAGES"]) == len(msgs), (folder, fields)
        assert int(fields[b"UNSEEN"]) == len(msgs), (folder, fields)
        assert int(fields[b"UIDNEXT"]) > len(msgs) - 1, (folder, fields)
        assert int(fields[b"SIZE"]) == sum(len(b) for _, b in msgs), (folder, fields)
        count("status")


def check_folder_contents(imap):
    for folder, msgs in FOLDERS.items():
        data = ok(imap.select(f'"{folder}"', readonly=True), f"EXAMINE {folder}")
        assert int(data[0]) == len(msgs), (folder, data)
        n = len(msgs)
        heads = fetch_items(imap, "1:*", "(UID RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        assert sorted(heads) == list(range(1, n + 1)), (folder, sorted(heads))
        for seq, (_, raw) in enumerate(msgs, 1):
            item = heads[seq]
            split = raw.find(b"\r\n\r\n")
            header, text = (raw[: split + 4], raw[split + 4 :]) if split >= 0 else (raw, b"")
            assert item["BODY[HEADER]"] == header, (folder, seq, item["BODY[HEADER]"][:200])
            assert item["BODY[TEXT]"] == text, (folder, seq)
            assert item["RFC822.SIZE"] == len(raw), (folder, seq)
            count("header_and_text_bytes")
        if MODE != "mime":
            continue
        # BODYSTRUCTURE against Python's own MIME parse of the same bytes.
        structures = fetch_items(imap, "1:*", "(BODYSTRUCTURE)")
        for seq, (_, raw) in enumerate(msgs, 1):
            bs = parse_sexp(structures[seq]["BODYSTRUCTURE"])
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            for section, part in mime_leaves(msg):
                node = bs_at(bs, section)
                sec = ".".join(map(str, section))
                maintype, subtype = part.get_content_type().split("/")
                if isinstance(node[0], list):
                    assert maintype == "multipart", (folder, seq, sec, node)
                    k = next(i for i, x in enumerate(node) if not isinstance(x, list))
                    assert node[k].lower() == subtype, (folder, seq, sec, node[k], subtype)
                    assert k == len(part.get_payload()), (folder, seq, sec)
                    continue
                assert (node[0].lower(), node[1].lower()) == (maintype, subtype), (
                    folder, seq, sec, node[:2], maintype, subtype)
                cte = (part.get("Content-Transfer-Encoding") or "7bit").strip().lower()
                assert (node[5] or "7bit").lower() == cte, (folder, seq, sec, node[5], cte)
                # The size in BODYSTRUCTURE is the size of what BODY[section] returns.
                if section == (1,) and not msg.is_multipart() and maintype != "message":
                    key = "BODY[TEXT]"
                    body = heads[seq][key]
                else:
                    key = f"BODY[{sec}]"
                    body = fetch_items(imap, str(seq), f"(BODY.PEEK[{sec}])")[seq][key]
                assert int(node[6]) == len(body), (folder, seq, sec, node[6], len(body))
                if maintype == "text":
                    assert int(node[7]) == body.count(b"\r\n") + (
                        0 if body.endswith(b"\r\n") or not body else 1
                    ), (folder, seq, sec, node[7])
                count("bodystructure_parts")


def check_fetch_details(imap):
    msgs = FOLDERS["INBOX"]
    ok(imap.select("INBOX"), "SELECT INBOX")
    raw = msgs[0][1]
    part = fetch_items(imap, "1", "(BODY.PEEK[]<0.100>)")[1]
    assert part["BODY[]<0>"] == raw[:100], part
    part = fetch_items(imap, "1", "(BODY.PEEK[]<100.50>)")[1]
    assert part["BODY[]<100>"] == raw[100:150], part
    part = fetch_items(imap, "1", f"(BODY.PEEK[]<{len(raw) - 10}.1000>)")[1]
    assert part[f"BODY[]<{len(raw) - 10}>"] == raw[-10:], part
    count("partial_fetch", 3)
    # Every base64 part anywhere in the archive: BINARY.PEEK decodes to what email decodes.
    found = 0
    for folder, fmsgs in FOLDERS.items():
        ok(imap.select(f'"{folder}"', readonly=True), folder)
        for seq, (_, raw) in enumerate(fmsgs, 1):
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            if MODE != "mime" and prefix_boundaries(msg):
                CHECKED.setdefault("binary_skipped_prefix_boundary", []).append(f"{folder} {seq}")
                continue
            for section, p in mime_leaves(msg):
                cte = (p.get("Content-Transfer-Encoding") or "").strip().lower()
                if cte != "base64" or p.is_multipart():
                    continue
                sec = ".".join(map(str, section))
                want = p.get_payload(decode=True)
                got = fetch_items(imap, str(seq), f"(BINARY.PEEK[{sec}] BINARY.SIZE[{sec}])")[seq]
                assert got[f"BINARY[{sec}]"] == want, (folder, seq, sec, len(got[f"BINARY[{sec}]"]), len(want))
                assert got[f"BINARY.SIZE[{sec}]"] == len(want), (folder, seq, sec)
                found += 1
    assert found >= 3, f"only {found} base64 parts in the demo"
    count("binary_base64_parts", found)
    if MODE == "mime":
        return
    ok(imap.select("INBOX"), "SELECT INBOX")
    flags = fetch_items(imap, "1:*", "(FLAGS)")
    assert all("\\Seen" not in f["FLAGS"] for f in flags.values()), "BINARY.PEEK set \\Seen"


def check_search(imap):
    msgs = FOLDERS["INBOX"]
    n = len(msgs)
    ok(imap.select("INBOX"), "SELECT INBOX")
    assert search(imap, "ALL") == list(range(1, n + 1))
    uids = fetch_items(imap, "1:*", "(UID RFC822.SIZE INTERNALDATE)")
    uid_of = [uids[s]["UID"] for s in range(1, n + 1)]
    assert search(imap, "ALL", uid=True) == sorted(uid_of)
    count("search_all")

    # SINCE/BEFORE by the internal date, which is the mbox From-line date. The cut is a day
    # with no message within a day of it, so time zones cannot move a message across it.
    days = sorted({w.date() for w, _ in msgs})
    cut = None
    for a, b in zip(days, days[1:]):
        if (b - a).days >= 3:
            cut = a + timedelta(days=(b - a).days // 2)
            break
    assert cut, f"no gap in {days}"
    since = [i for i, (w, _) in enumerate(msgs, 1) if w.date() >= cut]
    before = [i for i, (w, _) in enumerate(msgs, 1) if w.date() < cut]
    assert since and before, (cut, days)
    text = cut.strftime("%d-%b-%Y")
    assert search(imap, "SINCE", text) == since, (text, search(imap, "SINCE", text), since)
    assert search(imap, "BEFORE", text) == before, text
    assert search(imap, "NOT", "SINCE", text) == before, text
    count("search_dates", 3)

    sizes = sorted(len(b) for _, b in msgs)
    mid = sizes[len(sizes) // 2]
    larger = [i for i, (_, b) in enumerate(msgs, 1) if len(b) > mid]
    smaller = [i for i, (_, b) in enumerate(msgs, 1) if len(b) < mid]
    assert search(imap, "LARGER", str(mid)) == larger
    assert search(imap, "SMALLER", str(mid)) == smaller
    count("search_sizes", 2)

    assert search(imap, "UNSEEN") == list(range(1, n + 1))
    fetch_items(imap, "2,4", "(BODY[])")  # sets \Seen
    assert search(imap, "SEEN") == [2, 4]
    assert search(imap, "UNSEEN") == [i for i in range(1, n + 1) if i not in (2, 4)]
    assert search(imap, "NOT", "SEEN") == search(imap, "UNSEEN")
    ok(imap.store("3", "+FLAGS", "(\\Flagged)"), "STORE")
    assert search(imap, "FLAGGED") == [3]
    assert search(imap, "OR", "SEEN", "FLAGGED") == [2, 3, 4]
    assert search(imap, "OR", "FLAGGED", "LARGER", str(mid)) == sorted(set(larger) | {3})
    assert search(imap, "SEEN", "LARGER", str(mid)) == [i for i in (2, 4) if i in larger]
    count("search_flags", 7)

    lo, hi = sorted(uid_of)[1], sorted(uid_of)[3]
    assert search(imap, "UID", f"{lo}:{hi}") == [s for s in range(1, n + 1) if lo <= uid_of[s - 1] <= hi]
    assert search(imap, "UID", f"{lo}:{hi}", uid=True) == [u for u in sorted(uid_of) if lo <= u <= hi]
    assert search(imap, "2:4") == [2, 3, 4]
    assert search(imap, "NOT", "2:4") == [i for i in range(1, n + 1) if i not in (2, 3, 4)]
    assert search(imap, "OR", "1", f"{n}") == [1, n]
    assert search(imap, "UID", f"{max(uid_of) + 1}:{max(uid_of) + 9}") in ([], [n])
    count("search_sets", 6)
    # Text search: SUBJECT matches the decoded subject as a case-insensitive substring; the
    # expected answer comes from Python's own email parsing of the mbox.
    def subject(raw):
        return str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"] or "")

    for needle in ("offsite", "OFFSITE", "re:"):
        want = [i + 1 for i, (_, raw) in enumerate(msgs) if needle.lower() in subject(raw).lower()]
        assert search(imap, "SUBJECT", needle) == want, (needle, want)
    count("search_text_subject", 3)


def main():
    started = time.monotonic()
    if MODE != "mime":
        check_login_paths()
    imap = imaplib.IMAP4_SSL(HOST, TLS_PORT, ssl_context=ctx(), timeout=20)
    ok(imap.login(USER, PASSWORD), "LOGIN")
    if MODE == "mime":
        check_folder_contents(imap)
        check_fetch_details(imap)
    else:
        check_list_and_status(imap)
        check_folder_contents(imap)
        check_fetch_details(imap)
        check_search(imap)
    imap.logout()
    CHECKED["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(CHECKED, sort_keys=True))


if __name__ == "__main__":
    main()
