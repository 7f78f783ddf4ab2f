#!/usr/bin/env python3
"""The sync window seen by Python's stdlib imaplib (called by tests/e2e_sync_window.rs).

Usage: sync_window_check.py HOST TLS_PORT CAFILE USER PASSWORD FOLDER

FOLDER holds UIDs 1, 2, 3 aged 10, 5 and 1 days; the server shows the last 7 days. The script
checks what is visible, prints "advance the clock" and waits for a line on stdin while the test
moves the server's clock past the 5-day message's edge, then checks that its open session is
told "* 1 EXPUNGE" at its next NOOP and that only UID 3 is left. Every check asserts; on success
it prints one JSON line naming what it checked and exits 0.
"""

import imaplib
import json
import re
import socket
import ssl
import sys

HOST, PORT, CAFILE, USER, PASSWORD, FOLDER = sys.argv[1:7]
PORT = int(PORT)
CHECKED = []
# Every socket operation is bounded, so a server that stops answering fails the test.
socket.setdefaulttimeout(30)


def connect():
    ctx = ssl.create_default_context(cafile=CAFILE)
    m = imaplib.IMAP4_SSL(HOST, PORT, ssl_context=ctx)
    typ, _ = m.login(USER, PASSWORD)
    assert typ == "OK", typ
    return m


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def status(m, items):
    line = ok(m.status(FOLDER, "(" + items + ")"))[0].decode()
    return {k: int(v) for k, v in re.findall(r"([A-Z]+) (\d+)", line.split("(", 1)[1])}


m = connect()
# ---- before: the 10-day message (UID 1) is outside the 7-day window.
s = status(m, "MESSAGES UNSEEN UIDNEXT")
assert s == {"MESSAGES": 2, "UNSEEN": 2, "UIDNEXT": 4}, s
assert ok(m.select(FOLDER, readonly=True)) == [b"2"]
assert ok(m.search(None, "ALL")) == [b"1 2"]
assert ok(m.uid("SEARCH", "ALL")) == [b"2 3"]
# A UID outside the window is not in the mailbox: no data (RFC 3501 §6.4.8).
assert ok(m.uid("FETCH", "1", "(FLAGS)")) == [None], "UID 1 must give nothing"
headers = ok(m.uid("FETCH", "2:3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
subjects = [part[1] for part in headers if isinstance(part, tuple)]
assert subjects == [b"Subject: aged 5 days\r\n\r\n", b"Subject: aged 1 days\r\n\r\n"], subjects
CHECKED.append("before")

print("advance the clock", flush=True)
assert sys.stdin.readline().strip() == "advanced"

# ---- after: the 5-day message left; this session hears it at its next command.
ok(m.noop())
typ, expunged = m.response("EXPUNGE")
assert expunged == [b"1"], expunged
CHECKED.append("expunge_on_noop")
assert ok(m.uid("SEARCH", "ALL")) == [b"3"]
assert ok(m.search(None, "ALL")) == [b"1"]
assert ok(m.uid("FETCH", "2", "(FLAGS)")) == [None], "UID 2 must give nothing now"
m.logout()

fresh = connect()
assert status(fresh, "MESSAGES UNSEEN UIDNEXT") == {"MESSAGES": 1, "UNSEEN": 1, "UIDNEXT": 4}
assert ok(fresh.select(FOLDER, readonly=True)) == [b"1"]
assert ok(fresh.uid("SEARCH", "ALL")) == [b"3"]
fresh.logout()
CHECKED.append("after")
print(json.dumps({"checked": CHECKED}))
