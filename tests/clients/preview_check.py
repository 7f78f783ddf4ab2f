#!/usr/bin/env python3
"""PREVIEW, SEARCHRES, WITHIN and the $HasAttachment keywords from Python's imaplib over TLS
(issue 3). Run by tests/e2e_preview.rs: preview_check.py HOST PORT CAFILE USER PASSWORD, against
the demo archive plus folder `Previews` (UIDs 1-5, see e2e_preview.rs). Prints one line per
failure; exit status 0 means all good.
"""
import imaplib
import re
import ssl
import sys

host, port, cafile, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
M = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
M.login(user, password)
failures = 0


def check(what, got, want):
    global failures
    if got != want:
        failures += 1
        print(f"FAIL {what}: got {got!r}, want {want!r}")


caps = M.capability()[1][0].split()
for cap in (b"PREVIEW", b"SEARCHRES", b"WITHIN"):
    check(f"capability {cap.decode()}", cap in caps, True)

typ, data = M.select("Previews", readonly=True)
check("SELECT", typ, "OK")
flags = M.untagged_responses.get("FLAGS", [b""])[0]
check("FLAGS lists the archive keywords",
      b"$HasAttachment" in flags and b"$HasNoAttachment" in flags, True)


def fetch_items(message_set, items, uid=True):
    """{uid: {name: value}} from a FETCH, literals included (imaplib hands them as tuples)."""
    if uid:
        typ, data = M.uid("FETCH", message_set, items)
    else:
        typ, data = M.fetch(message_set, items)
    check(f"FETCH {message_set} {items}", typ, "OK")
    out = {}
    for part in data:
        if part is None or part == b")":
            continue
        if isinstance(part, tuple):
            head, literal = part
            m = re.search(rb"UID (\d+)", head)
            entry = out.setdefault(int(m.group(1)), {})
            entry["PREVIEW"] = literal.decode("utf-8")
            head = head
        else:
            head = part
            m = re.search(rb"UID (\d+)", head)
            entry = out.setdefault(int(m.group(1)), {})
            q = re.search(rb'PREVIEW (NIL|"((?:[^"\\]|\\.)*)")', head)
            if q:
                entry["PREVIEW"] = None if q.group(1) == b"NIL" else \
                    re.sub(rb"\\(.)", rb"\1", q.group(2)).decode("utf-8")
        f = re.search(rb"FLAGS \(([^)]*)\)", head)
        if f:
            entry["FLAGS"] = f.group(1).decode().split()
    return out


# PREVIEW (RFC 8970): decoded, whitespace collapsed, HTML as text; empty for an attachment.
got = fetch_items("1:5", "(UID PREVIEW)")
check("PREVIEW 1 (multilingual, quoted-printable)", got.get(1, {}).get("PREVIEW"),
      "Grüße aus der Straße, ο λόγος 日本語")
check("PREVIEW 2 (HTML only)", got.get(2, {}).get("PREVIEW"), "Café & crème order #42")
check("PREVIEW 3 (attachment only)", got.get(3, {}).get("PREVIEW"), "")
check("PREVIEW 4", got.get(4, {}).get("PREVIEW"), "Slides attached.")
check("PREVIEW 5", got.get(5, {}).get("PREVIEW"), "See the notes below.")
lazy = fetch_items("2", "(UID PREVIEW (LAZY))")
check("PREVIEW (LAZY) after ingest", lazy.get(2, {}).get("PREVIEW"), "Café & crème order #42")

# $HasAttachment / $HasNoAttachment in FETCH FLAGS and SEARCH KEYWORD.
got = fetch_items("1:5", "(UID FLAGS)")
want = {1: "$HasNoAttachment", 2: "$HasNoAttachment", 3: "$HasAttachment",
        4: "$HasAttachment", 5: "$HasNoAttachment"}
for uid, kw in want.items():
    check(f"FLAGS of {uid}", got.get(uid, {}).get("FLAGS"), [kw])


def uid_search(*criteria):
    typ, data = M.uid("SEARCH", *criteria)
    if typ != "OK":
        return typ
    return [int(x) for x in (data[0] or b"").split()]


def uid_search_text(key, needle):
    """UID SEARCH CHARSET UTF-8 KEY {literal}, as imaplib sends non-ASCII strings."""
    M.literal = needle.encode("utf-8")
    return uid_search("CHARSET", "UTF-8", key)


check("KEYWORD $HasAttachment", uid_search("KEYWORD", "$HasAttachment"), [3, 4])
check("UNKEYWORD $HasAttachment", uid_search("UNKEYWORD", "$HasAttachment"), [1, 2, 5])
# The RFC 2231 file names are searchable text too.
check("BODY Résumé", uid_search_text("BODY", "Résumé"), [3])

# WITHIN (RFC 5032): message 1 was archived with a 2001 date, the others now.
check("OLDER 86400", uid_search("OLDER", "86400"), [1])
check("YOUNGER 86400", uid_search("YOUNGER", "86400"), [2, 3, 4, 5])

# SEARCHRES (RFC 5182): $ before any SAVE is empty; SAVE alone answers no ESEARCH.
check("SEARCH $ before SAVE", uid_search("$"), [])
typ, data = M.uid("SEARCH", "RETURN", "(SAVE)", "KEYWORD", "$HasAttachment")
check("SEARCH RETURN (SAVE)", typ, "OK")
check("no ESEARCH for SAVE alone", M.untagged_responses.get("ESEARCH"), None)
got = fetch_items("$", "(UID FLAGS)")
check("UID FETCH $", sorted(got), [3, 4])
got = fetch_items("$", "(UID)", uid=False)
check("FETCH $", sorted(got), [3, 4])
check("UID SEARCH NOT UID $ YOUNGER 86400", uid_search("NOT", "UID", "$", "YOUNGER", "86400"),
      [2, 5])
# Full case folding: ß finds SS and ss, σ finds the final ς.
check("FROM STRASSER", uid_search_text("FROM", "STRASSER"), [1])
check("BODY ΛΌΓΟΣ", uid_search_text("BODY", "ΛΌΓΟΣ"), [1])
# SELECT again: the saved result is gone.
M.select("Previews", readonly=True)
check("SEARCH $ after SELECT", uid_search("$"), [])

M.logout()
sys.exit(1 if failures else 0)
