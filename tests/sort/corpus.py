#!/usr/bin/env python3
"""Writes the mbox that tests/sort_thread_clients.rs imports for SORT and THREAD (issue 3):
corpus.py OUT.mbox.

The hand-written tests/transcripts/mail/threads.mbox first, then generated messages (fixed seed,
so every run writes the same file): subjects in English, German, French, Russian, Japanese and
Greek, RFC 2047-encoded in UTF-8, ISO-8859-1 and KOI8-R, with Re:/Fwd:/[list]/(fwd)/[fwd: ...]
decorations; display names or bare addresses, missing To and Cc, a group; dates in several
zones, some equal, some missing; replies by References or In-Reply-To only, references to
messages not in the mailbox, missing and duplicate Message-IDs and reference cycles.
"""
import base64
import datetime
import email.utils
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HAND = os.path.join(HERE, "..", "transcripts", "mail", "threads.mbox")
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]  # 1 May 2023 was a Monday

R = random.Random(5256)

SUBJECTS = [
    ("Budget review", "utf-8"),
    ("Quarterly numbers", "utf-8"),
    ("Grüße aus München", "iso-8859-1"),
    ("Äpfel und Birnen", "iso-8859-1"),
    ("Réunion de l'équipe", "utf-8"),
    ("Привет из Москвы", "koi8-r"),
    ("Отчёт за май", "koi8-r"),
    ("見積書の件", "utf-8"),
    ("Καλημέρα", "utf-8"),
    ("zebra crossing", "utf-8"),
    ("", "utf-8"),
]
PEOPLE = [
    ("Zoë Adams", "zoe@example.org", "utf-8"),
    ("Jörg Müller", "joerg@example.de", "iso-8859-1"),
    ("Иван Петров", "ivan@example.ru", "koi8-r"),
    ("田中 太郎", "tanaka@example.jp", "utf-8"),
    ("Élodie Martin", "elodie@example.fr", "utf-8"),
    ("bob", "Bob@Example.com", None),
    (None, "carol@example.net", None),
    (None, "Dave@example.com", None),
    ("Eve", "eve@example.org", None),
]
LEADERS = ["", "", "", "Re: ", "RE: ", "re: Re: ", "Fwd: ", "Fw: ", "[list] ", "[list] Re: ",
           "Re[2]: ", "[a][b] fwd: "]
TRAILERS = ["", "", "", " (fwd)", " (FWD) "]


def encode(text, charset, b64):
    raw = text.encode(charset)
    if b64:
        return "=?%s?B?%s?=" % (charset.upper(), base64.b64encode(raw).decode())
    out = ""
    for ch in raw:
        c = chr(ch)
        if ch < 128 and c.isalnum():
            out += c
        elif c == " ":
            out += "_"
        else:
            out += "=%02X" % ch
    return "=?%s?Q?%s?=" % (charset.upper(), out)


def subject_header():
    text, charset = R.choice(SUBJECTS)
    leader, trailer = R.choice(LEADERS), R.choice(TRAILERS)
    if R.random() < 0.1:
        leader, trailer = "[Fwd: " + leader, trailer + "]"
    if all(ord(c) < 128 for c in text) and R.random() < 0.5:
        return leader + text + trailer
    if R.random() < 0.3:
        # The decoration inside the encoded word: RFC 5256 §2.1 decodes first.
        return encode(leader + text + trailer, "utf-8", R.random() < 0.5)
    return leader + encode(text, charset, R.random() < 0.5) + trailer


def address():
    name, addr, charset = R.choice(PEOPLE)
    if name is None:
        return addr if R.random() < 0.5 else "<%s>" % addr
    if charset is None:
        return '"%s" <%s>' % (name, addr)
    return "%s <%s>" % (encode(name, charset, R.random() < 0.5), addr)


def date_header(day, hour, minute):
    utc = datetime.datetime(2023, 5, day, hour, minute, tzinfo=datetime.timezone.utc)
    zone = datetime.timezone(datetime.timedelta(minutes=R.choice([0, 60, -300, 180, 540, -480])))
    return "Date: " + email.utils.format_datetime(utc.astimezone(zone))


def main():
    out = open(HAND, encoding="utf-8").read().rstrip("\n") + "\n\n"
    ids = []
    cycle_to = None
    n = 70
    for i in range(n):
        day, hour, minute = 1 + i // 4, R.randrange(24), R.choice([0, 0, 30])
        headers = []
        if R.random() > 0.1:
            headers.append(date_header(day, hour, minute))
        headers.append("From: " + address())
        r = R.random()
        if r < 0.8:
            tos = [address() for _ in range(R.choice([1, 1, 2]))]
            headers.append("To: " + ", ".join(tos))
        elif r < 0.9:
            headers.append("To: undisclosed-recipients:;")
        if R.random() < 0.3:
            headers.append("Cc: " + address())
        headers.append("Subject: " + subject_header())
        r = R.random()
        if r < 0.07:
            mid = None
        elif r < 0.12 and any(ids):
            mid = R.choice([x for x in ids if x])  # a duplicate
        else:
            mid = "g%d@example.net" % i
        if mid:
            headers.append("Message-ID: <%s>" % mid)
        r = R.random()
        known = [x for x in ids if x]
        if cycle_to is not None:
            # The other half of a cycle: this message refers to the one that refers to it.
            headers.append("References: <g%d@example.net>" % cycle_to)
            cycle_to = None
        elif r < 0.45 and known:
            parent = R.choice(known)
            chain = R.sample(known, min(len(known), R.choice([0, 1, 2])))
            headers.append("References: " + " ".join("<%s>" % x for x in chain + [parent]))
            headers.append("In-Reply-To: <%s>" % parent)
        elif r < 0.55 and known:
            headers.append("In-Reply-To: <%s> (sent by someone)" % R.choice(known))
        elif r < 0.6:
            headers.append("References: <missing%d@example.org>" % R.randrange(5))
        elif r < 0.65 and mid == "g%d@example.net" % i:
            headers.append("References: <g%d@example.net>" % (i + 1))
            cycle_to = i
        ids.append(mid)
        # Arrival: the From line, in mbox order with some equal times.
        d = 1 + i // 4
        arrival = "%s May %2d 12:%02d:00 2023" % (WEEKDAYS[(d - 1) % 7], d, (i // 2) % 60)
        body = "Message %d. " % i + "x" * R.randrange(0, 400) + "\n"
        out += "From gen@example.net %s\n%s\n\n%s\n" % (arrival, "\n".join(headers), body)
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write(out)


main()
