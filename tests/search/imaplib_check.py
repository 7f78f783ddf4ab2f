#!/usr/bin/env python3
"""SEARCH with non-ASCII strings from a real client, Python's imaplib, against the demo server
(issue 3). Run by tests/search_imaplib.rs: imaplib_check.py HOST PORT CAFILE USER PASSWORD.

Each case sends `UID SEARCH CHARSET <cs> <KEY> {literal}` the way imaplib does (a synchronizing
literal: it waits for the server's continuation) and compares the UIDs in INBOX. Prints one line
per failure; exit status 0 means all good.
"""
import imaplib
import ssl
import sys

host, port, cafile, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
M = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
M.login(user, password)
assert b"ESEARCH" in M.capability()[1][0], M.capability()
M.select("INBOX", readonly=True)

# (charset, key, needle, expected UIDs in INBOX). The demo's INBOX: 4 German (ISO-8859-1
# headers), 5 French (UTF-8 B), 6 Japanese (ISO-2022-JP), 7 Russian (KOI8-R).
CASES = [
    ("UTF-8", "FROM", "Müller", [4]),
    ("UTF-8", "FROM", "MÜLLER", [4]),
    ("UTF-8", "FROM", "j.mueller@", [4]),
    ("UTF-8", "SUBJECT", "Gehäuse", [4]),
    ("UTF-8", "SUBJECT", "GEHÄUSE KUGEL", [4]),
    ("UTF-8", "BODY", "vielen dank für", [4]),
    ("UTF-8", "SUBJECT", "réunion de l’équipe", [5]),
    ("UTF-8", "FROM", "ÉLODIE", [5]),
    ("UTF-8", "FROM", "田中", [6]),
    ("UTF-8", "SUBJECT", "見積書", [6]),
    ("UTF-8", "BODY", "照明器具", [6]),
    ("UTF-8", "TEXT", "見", [6]),
    ("UTF-8", "FROM", "смирнова", [7]),
    ("UTF-8", "SUBJECT", "ОБРАЗЦЫ", [7]),
    ("UTF-8", "BODY", "лампы", [7]),
    ("UTF-8", "TEXT", "Дана", [7]),
    ("ISO-8859-1", "SUBJECT", "für", [4]),
    ("KOI8-R", "SUBJECT", "образцы", [7]),
    ("UTF-8", "SUBJECT", "nicht vorhanden", []),
]

failures = 0
for charset, key, needle, want in CASES:
    M.literal = needle.encode(charset if charset != "UTF-8" else "utf-8")
    typ, data = M.uid("SEARCH", "CHARSET", charset, key)
    got = [int(x) for x in data[0].split()] if typ == "OK" and data and data[0] else []
    if typ != "OK" or got != want:
        failures += 1
        print(f"FAIL {charset} {key} {needle!r}: {typ} {data} (want {want})")

# Without CHARSET and ASCII only, as most clients do it.
typ, data = M.uid("SEARCH", None, "FROM", '"alice"', "SUBJECT", '"offsite"')
if typ != "OK" or data[0].split() != [b"2"]:
    failures += 1
    print(f"FAIL FROM alice SUBJECT offsite: {typ} {data}")

# ESEARCH through imaplib's raw command interface (it has no parser for it).
typ, data = M.uid("SEARCH", "RETURN", "(MIN MAX COUNT)", "TEXT", "kugel")
esearch = M.untagged_responses.get("ESEARCH", [b""])[-1]
if typ != "OK" or b"UID" not in esearch or b"COUNT" not in esearch:
    failures += 1
    print(f"FAIL ESEARCH: {typ} {data} {esearch!r}")

M.logout()
sys.exit(1 if failures else 0)
