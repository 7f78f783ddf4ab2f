#!/usr/bin/env python3
"""COMPRESS=DEFLATE (RFC 4978) checked with Python's own zlib, not the server's code.

Usage: compress_check.py HOST PORT CAFILE USER PASSWORD MODE
MODE "fetch": log in, COMPRESS DEFLATE, then SELECT and FETCH over the compressed stream, and
print the message bytes of INBOX 1 as hex on stdout.
MODE "bomb": log in, COMPRESS DEFLATE, then send 64 MiB of 'A' with no line end (about 64 KiB
compressed) and print the first line the server answers, which must end the session.
"""
import socket
import ssl
import sys
import zlib

host, port, cafile, user, password, mode = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
sock = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=30), server_hostname="localhost")
plain = sock.makefile("rb")


def plain_line():
    return plain.readline().decode("latin-1").rstrip("\r\n")


assert plain_line().startswith("* OK"), "greeting"
sock.sendall(f"a LOGIN {user} {password}\r\n".encode())
assert plain_line().startswith("a OK"), "login"
sock.sendall(b"b COMPRESS DEFLATE\r\n")
ok = plain_line()
assert ok == "b OK DEFLATE active", ok

deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
inflate = zlib.decompressobj(-15)
pending = b""


def send(data: bytes):
    sock.sendall(deflate.compress(data) + deflate.flush(zlib.Z_SYNC_FLUSH))


def fill():
    global pending
    chunk = sock.recv(65536)
    if not chunk:
        raise EOFError("server closed")
    pending += inflate.decompress(chunk)


def line() -> bytes:
    global pending
    while b"\r\n" not in pending:
        fill()
    head, _, pending = pending.partition(b"\r\n")
    return head


def exact(n: int) -> bytes:
    global pending
    while len(pending) < n:
        fill()
    out, pending = pending[:n], pending[n:]
    return out


if mode == "fetch":
    send(b"c SELECT INBOX\r\n")
    while not line().startswith(b"c "):
        pass
    send(b"d FETCH 1 BODY.PEEK[]\r\n")
    head = line()
    assert head.startswith(b"* 1 FETCH (BODY[] {"), head
    size = int(head[head.rindex(b"{") + 1:-1])
    body = exact(size)
    rest = line()
    assert rest == b")", rest
    done = line()
    assert done.startswith(b"d OK"), done
    send(b"e COMPRESS DEFLATE\r\n")
    again = line()
    assert again.startswith(b"e NO [COMPRESSIONACTIVE]"), again
    send(b"f LOGOUT\r\n")
    print(body.hex())
elif mode == "bomb":
    chunk = b"A" * (1 << 20)
    try:
        for _ in range(64):
            sock.sendall(deflate.compress(chunk))
        sock.sendall(deflate.flush(zlib.Z_SYNC_FLUSH))
    except OSError:
        pass  # the server may hang up before everything is sent (ssl errors are OSErrors)
    try:
        print(line().decode("latin-1"))
    except (EOFError, OSError, zlib.error):
        print("<closed>")
else:
    sys.exit(f"unknown mode {mode}")
