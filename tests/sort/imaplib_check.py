#!/usr/bin/env python3
"""SORT, ESORT and THREAD from a real client, Python's imaplib, checked against a naive reference
written here from RFC 5256 / RFC 5957 / RFC 5051 with Python's own MIME, RFC 2047, date and
Unicode code (issue 3). Run by tests/sort_thread_clients.rs:

    imaplib_check.py HOST PORT CAFILE USER PASSWORD MBOX FOLDER

MBOX is the file imported into FOLDER (tests/sort/corpus.py writes it). Prints one line per
failure; exit status 0 means all good.
"""
import datetime
import email
import email.policy
import imaplib
import re
import ssl
import sys
import unicodedata

host, port, cafile, user, password, mbox_path, folder = sys.argv[1:8]

# ---- the messages, read from the mbox independently of the server ------------------------


def split_mbox(data):
    """(From line, message bytes) pairs: a message starts after a `From ` line at the start or
    after an empty line; the empty line before a separator belongs to the mbox."""
    out = []
    lines = data.split(b"\n")
    cur, from_line, prev_empty = None, None, True
    for line in lines:
        if line.startswith(b"From ") and prev_empty:
            if cur is not None:
                out.append((from_line, b"\n".join(cur[:-1]) + b"\n"))
            cur, from_line = [], line.decode()
        elif cur is not None:
            cur.append(line)
        prev_empty = line == b""
    if cur is not None:
        while cur and cur[-1] == b"":
            cur.pop()
        out.append((from_line, b"\n".join(cur) + b"\n"))
    return out


def casemap(s):
    """i;unicode-casemap (RFC 5051): simple titlecase, NFKD, titlecase what came out of it."""
    digraphs = {"\u01c4": "\u01c5", "\u01c6": "\u01c5", "\u01c7": "\u01c8", "\u01c9": "\u01c8",
                "\u01ca": "\u01cb", "\u01cc": "\u01cb", "\u01f1": "\u01f2", "\u01f3": "\u01f2"}

    def title(c):
        if c in digraphs:
            return digraphs[c]
        u = c.upper()
        return u if len(u) == 1 else c
    s = "".join(title(c) for c in s)
    return "".join(title(c) for c in unicodedata.normalize("NFKD", s))


BLOB = r"\[[^\[\]]*\] *"
LEADER = re.compile(r"(?:(?:%s)*(?:re|fwd?) *(?:%s)?:| )" % (BLOB, BLOB), re.I)


def base_subject(s):
    """RFC 5256 §2.1, and whether a reply/forward mark was removed."""
    s = re.sub(r" +", " ", re.sub(r"[\t\r\n]", " ", s))
    reply = False
    while True:
        while True:  # (2)
            if s.endswith(" "):
                s = s[:-1]
            elif s.lower().endswith("(fwd)"):
                s, reply = s[:-5], True
            else:
                break
        while True:  # (5) = repeat (3) and (4)
            before = s
            while True:  # (3)
                m = LEADER.match(s)
                if not m:
                    break
                reply = reply or m.group(0) != " "
                s = s[m.end():]
            m = re.match(BLOB, s)  # (4)
            if m and s[m.end():]:
                s = s[m.end():]
            if s == before:
                break
        if s.lower().startswith("[fwd:") and s.endswith("]"):  # (6)
            s, reply = s[5:-1], True
            continue
        return s, reply


def ids(value):
    out = []
    for inner in re.findall(r"<([^<>]*)>", value or ""):
        inner = re.sub(r"\s", "", inner)
        if inner:
            out.append(inner)
    return out


class Msg:
    pass


def read_messages():
    msgs = []
    for n, (from_line, raw) in enumerate(split_mbox(open(mbox_path, "rb").read()), 1):
        e = email.message_from_bytes(raw, policy=email.policy.default)
        m = Msg()
        m.seq = n
        m.size = len(raw.replace(b"\n", b"\r\n"))
        m.arrival = datetime.datetime.strptime(
            " ".join(from_line.split()[2:]), "%a %b %d %H:%M:%S %Y"
        ).replace(tzinfo=datetime.timezone.utc).timestamp()
        date = e["Date"]
        m.sent = date.datetime.timestamp() if date is not None and date.datetime else m.arrival
        m.decoded_subject = str(e["Subject"] or "")
        base, m.reply = base_subject(m.decoded_subject)
        m.subject = casemap(base)
        for field in ("From", "To", "Cc"):
            addrs = e[field].addresses if e[field] is not None else ()
            local, display = "", ""
            if addrs:
                a = addrs[0]
                local = a.username
                display = a.display_name.strip() or (
                    "%s@%s" % (a.username, a.domain) if a.domain else a.username)
            setattr(m, field.lower(), casemap(local))
            setattr(m, "display_" + field.lower(), casemap(display))
        mids = ids(e["Message-ID"] and str(e["Message-ID"]))
        m.mid = mids[0] if mids else None
        m.refs = ids(e["References"] and str(e["References"]))
        if not m.refs:
            m.refs = ids(e["In-Reply-To"] and str(e["In-Reply-To"]))[:1]
        msgs.append(m)
    return msgs


# ---- naive SORT ----------------------------------------------------------------------------

KEYS = {
    "ARRIVAL": lambda m: m.arrival, "DATE": lambda m: m.sent, "SIZE": lambda m: m.size,
    "SUBJECT": lambda m: m.subject, "FROM": lambda m: m.__dict__["from"],
    "TO": lambda m: m.to, "CC": lambda m: m.cc,
    "DISPLAYFROM": lambda m: m.display_from, "DISPLAYTO": lambda m: m.display_to,
}


def naive_sort(msgs, criteria):
    """Stable sorts from the last criterion to the first, on sequence order: ties end up in
    sequence order whatever REVERSE says (REVERSE reverses only its criterion)."""
    out = sorted(msgs, key=lambda m: m.seq)
    for crit in reversed(criteria):
        reverse = crit.startswith("REVERSE ")
        key = KEYS[crit.split()[-1]]
        out = sorted(out, key=key, reverse=reverse)  # Python's sort is stable, also reversed
    return [m.seq for m in out]


# ---- naive THREAD --------------------------------------------------------------------------


class Box:
    def __init__(self, msg=None):
        self.msg, self.parent, self.children = msg, None, []


def date_key(box):
    while box.msg is None:
        box = box.children[0]
    return (box.msg.sent, box.msg.seq)


def thread_subject(box):
    m = box.msg if box.msg is not None else box.children[0].msg
    return m.subject if m is not None else ""


def fmt(box):
    if box.msg is None:
        if len(box.children) == 1:
            return fmt(box.children[0])
        return "".join("(%s)" % fmt(k) for k in box.children)
    s = str(box.msg.seq)
    if len(box.children) == 1:
        s += " " + fmt(box.children[0])
    elif box.children:
        s += " " + "".join("(%s)" % fmt(k) for k in box.children)
    return s


def naive_references(msgs):
    table, boxes = {}, []
    for m in msgs:
        b = Box(m)
        boxes.append(b)
        if m.mid is not None and m.mid not in table:
            table[m.mid] = b
    dummies = []

    def get(i):
        if i not in table:
            table[i] = Box()
            dummies.append(table[i])
        return table[i]

    def below(a, b):
        while a is not None:
            if a is b:
                return True
            a = a.parent
        return False

    def link(p, c):
        c.parent = p
        p.children.append(c)

    for m, b in zip(msgs, boxes):
        prev = None
        for r in m.refs:
            k = get(r)
            if prev is not None and k.parent is None and not below(prev, k):
                link(prev, k)
            prev = k
        if b.parent is not None:
            b.parent.children.remove(b)
            b.parent = None
        if prev is not None and not below(prev, b):
            link(prev, b)
    roots = [b for b in boxes + dummies if b.parent is None]

    def prune(lst, at_root):  # bottom-up, recursive: fine for a small corpus
        out = []
        for b in lst:
            b.children = prune(b.children, False)
            if b.msg is None and not b.children:
                continue
            if b.msg is None and (not at_root or len(b.children) == 1):
                out.extend(b.children)
                continue
            out.append(b)
        return out
    roots = prune(roots, True)
    for b in roots:
        if b.msg is None:
            b.children.sort(key=date_key)
    roots.sort(key=date_key)
    subjects = {}
    for b in roots:
        s = thread_subject(b)
        if not s:
            continue
        t = subjects.get(s)
        if t is None or (t.msg is not None and (b.msg is None or (t.msg.reply and not b.msg.reply))):
            subjects[s] = b
    top = list(roots)
    for b in list(roots):
        if b not in top:
            continue
        s = thread_subject(b)
        t = subjects.get(s) if s else None
        if t is None or t is b:
            continue
        if t.msg is None and b.msg is None:
            for k in b.children:
                link(t, k)
            top.remove(b)
        elif t.msg is None or (b.msg is not None and b.msg.reply and not t.msg.reply):
            link(t, b)
            top.remove(b)
        else:
            d = Box()
            link(d, t)
            link(d, b)
            top[top.index(t)] = d
            top.remove(b)
            subjects[s] = d

    def sort_all(b):
        for k in b.children:
            sort_all(k)
        b.children.sort(key=date_key)
    for b in top:
        sort_all(b)
    top.sort(key=date_key)
    return "".join("(%s)" % fmt(b) for b in top)


def naive_ordered_subject(msgs):
    groups = {}
    for m in sorted(msgs, key=lambda m: (m.subject, m.sent, m.seq)):
        groups.setdefault(m.subject, []).append(m)
    threads = sorted(groups.values(), key=lambda g: (g[0].sent, g[0].seq))
    out = ""
    for g in threads:
        if len(g) == 1:
            out += "(%d)" % g[0].seq
        elif len(g) == 2:
            out += "(%d %d)" % (g[0].seq, g[1].seq)
        else:
            out += "(%d %s)" % (g[0].seq, "".join("(%d)" % m.seq for m in g[1:]))
    return out


# ---- the checks ----------------------------------------------------------------------------

msgs = read_messages()
failures = 0


def fail(what):
    global failures
    failures += 1
    print("FAIL " + what)


ctx = ssl.create_default_context(cafile=cafile)
M = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
M.login(user, password)
caps = M.capability()[1][0].split()
for cap in (b"SORT", b"SORT=DISPLAY", b"ESORT", b"THREAD=ORDEREDSUBJECT", b"THREAD=REFERENCES"):
    if cap not in caps:
        fail("capability %s missing: %s" % (cap, caps))
typ, data = M.select(folder, readonly=True)
if typ != "OK" or int(data[0]) != len(msgs):
    fail("SELECT %s: %s %s (want %d messages)" % (folder, typ, data, len(msgs)))


def numbers(data):
    return [int(x) for x in data[0].split()] if data and data[0] else []


CRITERIA = [[k] for k in KEYS] + [["REVERSE " + k] for k in KEYS] + [
    ["SUBJECT", "REVERSE DATE"], ["FROM", "SIZE"], ["REVERSE DISPLAYTO", "ARRIVAL"],
    ["CC", "REVERSE SUBJECT", "DATE"],
]
for crit in CRITERIA:
    want = naive_sort(msgs, crit)
    typ, data = M.sort("(%s)" % " ".join(crit), "UTF-8", "ALL")
    if typ != "OK" or numbers(data) != want:
        fail("SORT %s: %s %s\n  want %s" % (crit, typ, data, want))
    typ, data = M.uid("SORT", "(%s)" % " ".join(crit), "UTF-8", "ALL")
    if typ != "OK" or numbers(data) != want:  # a fresh folder: UID = sequence number
        fail("UID SORT %s: %s %s" % (crit, typ, data))

# A search program with a non-ASCII string in a legacy charset (a literal, the way imaplib
# sends it), and a sequence set.
for charset, needle in (("UTF-8", "привет"), ("KOI8-R", "ПРИВЕТ"), ("ISO-8859-1", "grüße")):
    subset = [m for m in msgs if needle.lower() in m.decoded_subject.lower()]
    if not subset:
        fail("corpus has no subject with %r" % needle)
    M.literal = needle.encode(charset)
    typ, data = M.sort("(DATE)", charset, "SUBJECT")
    if typ != "OK" or numbers(data) != naive_sort(subset, ["DATE"]):
        fail("SORT (DATE) %s SUBJECT %r: %s %s" % (charset, needle, typ, data))
    M.literal = needle.encode(charset)
    typ, data = M.thread("REFERENCES", charset, "SUBJECT")
    if typ != "OK" or (data[0] or b"").decode() != naive_references(subset):
        fail("THREAD REFERENCES %s SUBJECT %r: %s %s\n  want %s"
             % (charset, needle, typ, data, naive_references(subset)))
subset = [m for m in msgs if 5 <= m.seq <= 40]
typ, data = M.sort("(REVERSE SUBJECT)", "US-ASCII", "5:40")
if typ != "OK" or numbers(data) != naive_sort(subset, ["REVERSE SUBJECT"]):
    fail("SORT 5:40: %s %s" % (typ, data))

# THREAD, both algorithms, on everything and on a subset (parents outside it become dummies).
for name, subset in (("ALL", msgs), ("5:40", [m for m in msgs if 5 <= m.seq <= 40])):
    for alg, naive in (("ORDEREDSUBJECT", naive_ordered_subject), ("REFERENCES", naive_references)):
        want = naive(subset)
        typ, data = M.thread(alg, "UTF-8", name)
        got = (data[0] or b"").decode() if typ == "OK" and data else None
        if got != want:
            fail("THREAD %s %s:\n  got  %s\n  want %s" % (alg, name, got, want))
        typ, data = M.uid("THREAD", alg, "UTF-8", name)
        if typ != "OK" or (data[0] or b"").decode() != want:
            fail("UID THREAD %s %s: %s %s" % (alg, name, typ, data))

# ESORT (RFC 5267): imaplib has no parser for ESEARCH; its raw interface gives the line.
order = naive_sort(msgs, ["REVERSE DATE"])
runs, i = [], 0
while i < len(order):
    j = i
    while j + 1 < len(order) and order[j + 1] == order[j] + 1:
        j += 1
    runs.append(str(order[i]) if i == j else "%d:%d" % (order[i], order[j]))
    i = j + 1
typ, data = M._simple_command("SORT", "RETURN", "(MIN MAX COUNT ALL)", "(REVERSE DATE)", "UTF-8",
                              "ALL")
typ, data = M._untagged_response(typ, data, "ESEARCH")
want = "MIN %d MAX %d COUNT %d ALL %s" % (order[0], order[-1], len(order), ",".join(runs))
got = (data[0] or b"").decode() if data else ""
if typ != "OK" or not got.endswith(") " + want):
    fail("ESORT: %s %s\n  want ... %s" % (typ, data, want))

M.logout()
print("%d messages, %d failures" % (len(msgs), failures))
sys.exit(1 if failures else 0)
