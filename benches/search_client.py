#!/usr/bin/env python3
"""SEARCH latency client for benches/search_bench.sh (issue 3).

Logs in over TLS (verifying the server against --ca), selects INBOX read-only, and for each
query of --queries (a JSON list of {"name", "key", "string"}) runs `UID SEARCH <key> <string>`:
once unmeasured (warm-up, and the hit count), then up to --repeats times while the query's
time stays under --seconds. EXAMINE INBOX is timed first (up to 5 runs; "hits" = EXISTS).
Prints one line per query:

    RESULT label=L query=NAME runs=N p50_ms=X p99_ms=Y max_ms=Z hits=H status=OK|NO|BAD|ERR

p99 is the nearest-rank percentile of the runs (with 20 runs it is the slowest). A string with
non-ASCII characters is sent as a UTF-8 literal with CHARSET UTF-8, others as quoted strings.
Standard library only. Every loop is bounded in count and time.
"""
import argparse
import imaplib
import json
import math
import socket
import ssl
import sys
import time

# A SEARCH answer is one line: a word in 40 % of 1,000,000 messages is ~3 MB of UIDs, past
# imaplib's 1 MB line limit (which then leaves the connection out of step).
imaplib._MAXLINE = 1 << 28


def percentile(values, p):
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def search(m, key, string):
    """One UID SEARCH; returns (status, hit count, seconds, text of a failure)."""
    if string.isascii():
        quoted = '"' + string.replace("\\", "\\\\").replace('"', '\\"') + '"'
        t0 = time.perf_counter()
        typ, data = m.uid("SEARCH", key, quoted)
    else:
        m.literal = string.encode("utf-8")
        t0 = time.perf_counter()
        typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", key)
    secs = time.perf_counter() - t0
    if typ != "OK":
        return typ, 0, secs, b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
    hits = sum(len(d.split()) for d in data if d)
    return typ, hits, secs, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--queries", required=True, help="JSON file: list of {name, key, string}")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0, help="time bound per query")
    ap.add_argument("--timeout", type=float, default=600.0, help="socket timeout")
    args = ap.parse_args()

    queries = json.load(open(args.queries, encoding="utf-8"))
    ctx = ssl.create_default_context(cafile=args.ca)
    socket.setdefaulttimeout(args.timeout)
    m = imaplib.IMAP4_SSL("127.0.0.1", args.port, ssl_context=ctx)
    m._mode_utf8 = False
    # imaplib sends a literal and its closing CRLF in two writes; with Nagle on, the CRLF waits
    # for the server's delayed ACK of the literal (~40 ms on Linux), which would be measured as
    # search time for every non-ASCII string.
    m.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    m.login(args.user, args.password)
    # Opening the mailbox is timed too (EXAMINE, what a client does before any search): the
    # first run, then up to 4 more, each reading the mailbox afresh.
    times, exists = [], "0"
    for _ in range(5):
        t0 = time.perf_counter()
        typ, data = m.select("INBOX", readonly=True)
        times.append(time.perf_counter() - t0)
        if typ != "OK":
            sys.exit(f"{args.label}: SELECT INBOX failed")
        exists = data[0].decode() if data and data[0] else "0"
        if sum(times) > args.seconds:
            break
    print(f"RESULT label={args.label} query=EXAMINE runs={len(times)} "
          f"p50_ms={percentile(times, 50) * 1000:.2f} p99_ms={percentile(times, 99) * 1000:.2f} "
          f"max_ms={max(times) * 1000:.2f} hits={exists} status=OK", flush=True)
    cipher = m.sock.cipher()[0] if hasattr(m.sock, "cipher") else "?"
    for q in queries:
        name, key, string = q["name"], q["key"], q["string"]
        try:
            status, hits, _, why = search(m, key, string)
            times = []
            start = time.monotonic()
            while status == "OK" and len(times) < args.repeats:
                s2, h2, secs, why = search(m, key, string)
                if s2 != "OK":
                    status = s2
                    break
                times.append(secs)
                if time.monotonic() - start > args.seconds:
                    break
        except (imaplib.IMAP4.error, OSError) as e:
            status, times, hits, why = "ERR", [], 0, str(e)
        line = f"RESULT label={args.label} query={name} runs={len(times)}"
        if times:
            line += (f" p50_ms={percentile(times, 50) * 1000:.2f} p99_ms={percentile(times, 99) * 1000:.2f}"
                     f" max_ms={max(times) * 1000:.2f}")
        line += f" hits={hits} status={status} cipher={cipher}"
        print(line, flush=True)
        if why:
            print(f"# {args.label} {name}: {why[:200]}", flush=True)
    try:
        m.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


if __name__ == "__main__":
    main()
