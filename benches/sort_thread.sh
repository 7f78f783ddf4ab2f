#!/usr/bin/env bash
# SORT and THREAD latency on the bench corpus (issue 3): imports benches/gen_corpus.py's mbox
# into a fresh archive with the release binary, serves it on loopback over TLS, and times
# `SORT (DATE)`, `SORT (SUBJECT)`, `SORT (REVERSE ARRIVAL)`, `THREAD REFERENCES` and
# `THREAD ORDEREDSUBJECT` over the whole INBOX with Python's imaplib (wall clock per command,
# TLS and the response included): median and p95 of ROUNDS runs after one warm-up.
#
#   benches/sort_thread.sh                 # COUNT=10000 SEED=1, 20 rounds
#
# Env: COUNT (10000) SEED (1) ROUNDS (20) PORT (19950) CARGO_FLAGS ("--locked --offline"),
# CORPUS (benches/data/corpus-sSEED-nCOUNT: a directory holding corpus.mbox, made if missing).
set -euo pipefail

COUNT=${COUNT:-10000}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-20}
PORT=${PORT:-19950}
CARGO_FLAGS=${CARGO_FLAGS:---locked --offline}
USER_NAME=bench
USER_PASS=bench-password-1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=benches/lib.sh
. benches/lib.sh
log() { printf '== %s\n' "$*" >&2; }
die() { printf 'sort_thread.sh: %s\n' "$*" >&2; exit 1; }
for tool in python3 openssl cargo; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
if ss -ltn "sport = :$PORT" | grep -q LISTEN; then die "port $PORT is in use (set PORT)"; fi

RUN_DIR=$(mktemp -d /tmp/imapvault-sort.XXXXXX)
IV_PID=
cleanup() {
    [ -n "$IV_PID" ] && kill "$IV_PID" 2>/dev/null && wait "$IV_PID" 2>/dev/null
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2086 # CARGO_FLAGS is a list of flags
cargo build --release $CARGO_FLAGS --bin imapvault >&2
IMAPVAULT=${CARGO_TARGET_DIR:-$ROOT/target}/release/imapvault

CORPUS=${CORPUS:-$ROOT/benches/data/corpus-s$SEED-n$COUNT}
if [ ! -f "$CORPUS/corpus.mbox" ]; then
    log "generating corpus seed=$SEED count=$COUNT in $CORPUS"
    python3 benches/gen_corpus.py --seed "$SEED" --count "$COUNT" --out "$CORPUS" \
        --format mbox --quiet
fi

make_certs "$RUN_DIR/certs" rsa:2048
mkdir -p "$RUN_DIR/data"
write_imapvault_conf "$RUN_DIR/imapvault.toml" "$RUN_DIR/data" "$RUN_DIR/certs" "$PORT"
printf '%s\n' "$USER_PASS" | "$IMAPVAULT" --config "$RUN_DIR/imapvault.toml" user add "$USER_NAME" \
    --password-stdin >&2
log "importing $COUNT messages"
"$IMAPVAULT" --config "$RUN_DIR/imapvault.toml" import --user "$USER_NAME" "$CORPUS/corpus.mbox" \
    2>"$RUN_DIR/import.log" >&2 || { cat "$RUN_DIR/import.log" >&2; die "import failed"; }
"$IMAPVAULT" --config "$RUN_DIR/imapvault.toml" serve 2>"$RUN_DIR/serve.log" &
IV_PID=$!
wait_port "$PORT" "$IV_PID" imapvault

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), COUNT=$COUNT ROUNDS=$ROUNDS"
python3 - "$PORT" "$RUN_DIR/certs/ca.pem" "$USER_NAME" "$USER_PASS" "$ROUNDS" <<'EOF'
import imaplib, ssl, sys, time
port, cafile, user, password, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
M = imaplib.IMAP4_SSL("localhost", int(port), ssl_context=ssl.create_default_context(cafile=cafile))
M.login(user, password)
typ, data = M.select("INBOX", readonly=True)
exists = int(data[0])
CASES = [
    ("SORT (DATE)", lambda: M.sort("(DATE)", "UTF-8", "ALL")),
    ("SORT (SUBJECT)", lambda: M.sort("(SUBJECT)", "UTF-8", "ALL")),
    ("SORT (REVERSE ARRIVAL)", lambda: M.sort("(REVERSE ARRIVAL)", "UTF-8", "ALL")),
    ("THREAD REFERENCES", lambda: M.thread("REFERENCES", "UTF-8", "ALL")),
    ("THREAD ORDEREDSUBJECT", lambda: M.thread("ORDEREDSUBJECT", "UTF-8", "ALL")),
]
print("| command (%d messages) | median ms | p95 ms |" % exists)
print("| --- | --- | --- |")
for name, run in CASES:
    typ, data = run()
    assert typ == "OK" and data[0], (name, typ, data[:1])
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        typ, _ = run()
        times.append((time.perf_counter() - t) * 1e3)
        assert typ == "OK"
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times) + 0.5) - 1)]
    print("| %s | %.1f | %.1f |" % (name, times[len(times) // 2], p95))
M.logout()
EOF
