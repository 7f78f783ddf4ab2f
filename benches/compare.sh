#!/usr/bin/env bash
# imapvault vs Dovecot (Debian's dovecot-imapd) on the same generated mail, in one run.
#
#   benches/compare.sh                      # COUNT=10000, 3 rounds, 100 mixed clients
#   COUNT=2000 ROUNDS=1 SECONDS=5 benches/compare.sh
#
# Env: COUNT (10000) SEED (1) ROUNDS (3) CLIENTS (100, mixed) SECONDS (20, mixed and logins)
#      LOGIN_CLIENTS (8) REPEATS (30, open-folder) FETCH_CLIENTS (1) WORKERS (128)
#      QUEUE (128) DOVECOT_PW (same-argon2id | ARGON2ID | SHA512-CRYPT | PLAIN)
#      PORT_BASE (19930: uses 4 ports from there) RUN_DIR (a fresh /tmp dir) KEEP (0: delete
#      RUN_DIR at exit) CARGO_FLAGS ("--locked --offline")
# Everything listens on 127.0.0.1 only. Both servers run for the whole script; each workload
# runs against them in alternation (the order flips every round); the table shows medians over
# rounds and the ratio imapvault / Dovecot.
set -euo pipefail

# SECONDS is bash's own clock: read the caller's value before it ticks (0 = not given).
MIX_SECONDS=${SECONDS:-0}
[ "$MIX_SECONDS" -gt 0 ] 2>/dev/null || MIX_SECONDS=20
COUNT=${COUNT:-10000}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-100}
LOGIN_CLIENTS=${LOGIN_CLIENTS:-8}
REPEATS=${REPEATS:-30}
FETCH_CLIENTS=${FETCH_CLIENTS:-1}
WORKERS=${WORKERS:-128}
QUEUE=${QUEUE:-128}
DOVECOT_PW=${DOVECOT_PW:-same-argon2id}
PORT_BASE=${PORT_BASE:-19930}
KEEP=${KEEP:-0}
CARGO_FLAGS=${CARGO_FLAGS:---locked --offline}
USER_NAME=bench
USER_PASS=bench-password-1
MAIL_UID=65534 # nobody: Dovecot's mail processes run as this uid, its mail home is theirs
MAIL_GID=65534

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=benches/lib.sh
. benches/lib.sh
IV_TLS=$PORT_BASE IV_STARTTLS=$((PORT_BASE + 1)) DC_IMAP=$((PORT_BASE + 2)) DC_IMAPS=$((PORT_BASE + 3))

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

for tool in python3 openssl dovecot doveadm sqlite3 jq cargo; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y dovecot-imapd sqlite3 jq)"
done
for p in $IV_TLS $IV_STARTTLS $DC_IMAP $DC_IMAPS; do
    if ss -ltn "sport = :$p" | grep -q LISTEN; then die "port $p is in use (set PORT_BASE)"; fi
done
if ss -ltn | grep -qE '127.0.0.1:(143|993)\b|\*:(143|993)\b|0.0.0.0:(143|993)\b'; then
    log "warning: something listens on 143/993 (system dovecot?); it shares the CPU with this run"
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/imapvault-bench.XXXXXX)}
mkdir -p "$RUN_DIR"
chmod 755 "$RUN_DIR"
IV_PID= DC_PID=
cleanup() {
    local rc=$?
    [ -n "$IV_PID" ] && kill "$IV_PID" 2>/dev/null && wait "$IV_PID" 2>/dev/null
    [ -n "$DC_PID" ] && kill "$DC_PID" 2>/dev/null && wait "$DC_PID" 2>/dev/null
    end_run $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------ build
log "building imapvault (release) and the bench binaries"
# shellcheck disable=SC2086
cargo build --release $CARGO_FLAGS --bin imapvault >&2
IMAPVAULT=$ROOT/target/release/imapvault
# shellcheck disable=SC2086
BENCH_JSON=$(cargo bench $CARGO_FLAGS --no-run --bench load_client --bench tls_ceiling \
    --message-format=json 2>/dev/null)
exe_of() { jq -r "select(.reason==\"compiler-artifact\" and .target.name==\"$1\") | .executable // empty" <<<"$BENCH_JSON" | tail -1; }
LOAD=$(exe_of load_client)
CEILING=$(exe_of tls_ceiling)
[ -x "$LOAD" ] && [ -x "$CEILING" ] || die "could not find the bench executables"

# ------------------------------------------------------------------------------ corpus
CORPUS=$ROOT/benches/data/corpus-s$SEED-n$COUNT
if [ ! -f "$CORPUS/corpus.mbox" ] || [ ! -d "$CORPUS/Maildir/cur" ]; then
    log "generating corpus seed=$SEED count=$COUNT (both formats) in $CORPUS"
    rm -rf "$CORPUS.tmp"
    python3 benches/gen_corpus.py --seed "$SEED" --count "$COUNT" --out "$CORPUS.tmp" \
        --format both --quiet
    mv "$CORPUS.tmp" "$CORPUS"
else
    log "reusing corpus $CORPUS"
fi
CORPUS_BYTES=$(stat -c %s "$CORPUS/corpus.mbox")

# ------------------------------------------------------------------------------ certificates
CERTS=$RUN_DIR/certs
make_certs "$CERTS" rsa:2048


# ------------------------------------------------------------------------------ imapvault
IV=$RUN_DIR/imapvault
mkdir -p "$IV/data"
# All benchmark clients connect from 127.0.0.1 as one user: the per-address and per-user caps
# (issue 6), sized for real deployments, are lifted.
write_imapvault_conf "$IV/imapvault.toml" "$IV/data" "$CERTS" "$IV_TLS" \
    "listen_starttls = [\"127.0.0.1:$IV_STARTTLS\"]
workers = $WORKERS
queue = $QUEUE" \
    'mode = "mailbox"
flags = "per-user"' \
    "[limits]
connections_per_ip = 100000
sessions_per_user = 100000"
printf '%s\n' "$USER_PASS" | "$IMAPVAULT" --config "$IV/imapvault.toml" user add "$USER_NAME" --password-stdin >&2
log "imapvault import of $COUNT messages ($((CORPUS_BYTES / 1048576)) MiB mbox)"
t0=$(now)
"$IMAPVAULT" --config "$IV/imapvault.toml" import --user "$USER_NAME" "$CORPUS/corpus.mbox" \
    2>"$IV/import.log" >&2 || { cat "$IV/import.log" >&2; die "import failed"; }
t1=$(now)
tr '\r' '\n' <"$IV/import.log" | tail -2 >&2
IMPORT_SECS=$(python3 -c "print(f'{$t1-$t0:.3f}')")
IMPORT_RATE=$(python3 -c "print(f'{$COUNT/($t1-$t0):.0f}')")
log "import: $IMPORT_SECS s, $IMPORT_RATE messages/s"
"$IMAPVAULT" --config "$IV/imapvault.toml" serve 2>"$IV/serve.log" &
IV_PID=$!
wait_port "$IV_TLS" "$IV_PID" imapvault

# ------------------------------------------------------------------------------ Dovecot
DC=$RUN_DIR/dovecot
mkdir -p "$DC/home/$USER_NAME"
case $DOVECOT_PW in
same-argon2id)
    # The very hash imapvault stores (argon2id, the argon2 crate's defaults): both servers pay
    # the same cost per LOGIN. Dovecot verifies PHC argon2id strings with libsodium.
    HASH="{ARGON2ID}$(sqlite3 "file:$IV/data/index.sqlite?mode=ro" \
        "SELECT password_hash FROM users WHERE name='$USER_NAME'")"
    ;;
PLAIN) HASH="{PLAIN}$USER_PASS" ;;
*) HASH=$(doveadm pw -s "$DOVECOT_PW" -p "$USER_PASS") ;;
esac
printf '%s:%s\n' "$USER_NAME" "$HASH" >"$DC/passwd"
chmod 644 "$DC/passwd"
PW_DESC="${HASH%%\$*}\$$(cut -d'$' -f2-4 <<<"${HASH#*\}}" )"
log "Dovecot password scheme: $PW_DESC"
cp -r "$CORPUS/Maildir" "$DC/home/$USER_NAME/Maildir"
chown -R "$MAIL_UID:$MAIL_GID" "$DC/home"
# Room for the benchmark's clients: the defaults (100 processes per service, 10 connections
# per user and IP) would refuse most of the 100 mixed clients from one user on 127.0.0.1.
write_dovecot_conf "$DC" "$DC_IMAPS" "$DC_IMAP" benches/compare.sh "default_process_limit = 1024
default_client_limit = 4096
default_vsz_limit = 1G
protocol imap {
  mail_max_userip_connections = 10000
}"
dovecot -c "$DC/dovecot.conf" -F 2>"$DC/master.stderr" &
DC_PID=$!
wait_port "$DC_IMAPS" "$DC_PID" dovecot
log "Dovecot $(dovecot --version) warm-up: doveadm index (builds dovecot.index and the cache)"
t0=$(now)
doveadm -c "$DC/dovecot.conf" index -u "$USER_NAME" INBOX >&2
t1=$(now)
DC_INDEX_SECS=$(python3 -c "print(f'{$t1-$t0:.3f}')")
log "doveadm index: $DC_INDEX_SECS s"

# ------------------------------------------------------------------------------ workloads
RESULTS=$RUN_DIR/results.txt
: >"$RESULTS"
run_client() { # label port workload args...
    local label=$1 port=$2 wl=$3
    shift 3
    "$LOAD" "$wl" --label "$label" --port "$port" --ca "$CERTS/ca.pem" \
        --user "$USER_NAME" --pass "$USER_PASS" "$@" | tee -a "$RESULTS" >/dev/null ||
        echo "RESULT label=$label workload=$wl failed=1" >>"$RESULTS"
}
both() { # round workload args...
    local round=$1
    shift
    if [ $((round % 2)) -eq 1 ]; then
        run_client imapvault "$IV_TLS" "$@"
        run_client dovecot "$DC_IMAPS" "$@"
    else
        run_client dovecot "$DC_IMAPS" "$@"
        run_client imapvault "$IV_TLS" "$@"
    fi
}

log "warm-up (not counted): one open-folder and one fetch-bodies pass on each server"
for label_port in "imapvault $IV_TLS" "dovecot $DC_IMAPS"; do
    set -- $label_port
    "$LOAD" open-folder --label "$1" --port "$2" --ca "$CERTS/ca.pem" --user "$USER_NAME" \
        --pass "$USER_PASS" --repeats 2 >/dev/null
    "$LOAD" fetch-bodies --label "$1" --port "$2" --ca "$CERTS/ca.pem" --user "$USER_NAME" \
        --pass "$USER_PASS" --rounds 1 >/dev/null
done

for round in $(seq 1 "$ROUNDS"); do
    log "round $round of $ROUNDS"
    both "$round" fetch-bodies --rounds 1 --clients "$FETCH_CLIENTS" --seconds 300
    both "$round" open-folder --repeats "$REPEATS" --seconds 120
    both "$round" mixed --clients "$CLIENTS" --seconds "$MIX_SECONDS"
    # The same mix from one client: per-command service time without queueing.
    both "$round" mixed --clients 1 --seconds "$((MIX_SECONDS / 2 > 5 ? MIX_SECONDS / 2 : 5))" --name mixed-1
    echo "RESULT label=imapvault workload=rss round=$round $(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s=%s ", tolower(substr($1, 1, length($1)-1)), $2}' "/proc/$IV_PID/status")" >>"$RESULTS"
    both "$round" logins --clients "$LOGIN_CLIENTS" --seconds "$((MIX_SECONDS / 2 > 5 ? MIX_SECONDS / 2 : 5))"
done

log "rustls ceiling (in memory, no sockets)"
"$CEILING" --seconds 3 | tee -a "$RESULTS" >/dev/null

# ------------------------------------------------------------------------------ report
{
    echo "RESULT label=imapvault workload=import secs=$IMPORT_SECS msgs_per_s=$IMPORT_RATE bytes=$CORPUS_BYTES"
    echo "RESULT label=dovecot workload=doveadm-index secs=$DC_INDEX_SECS"
} >>"$RESULTS"
IV_ERRORS=$(grep -ciE 'error|panic' "$IV/serve.log" || true)
DC_ERRORS=$(grep -ciE 'error|panic|fatal' "$DC/dovecot.log" || true)

export COUNT CLIENTS LOGIN_CLIENTS PW_DESC IV_ERRORS DC_ERRORS
python3 - "$RESULTS" <<'EOF'
import os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    if not line.startswith("RESULT "):
        continue
    kv = dict(w.split("=", 1) for w in line.split()[1:])
    rows.setdefault((kv["label"], kv["workload"]), []).append(kv)

def vals(label, wl, key):
    return [float(r[key]) for r in rows.get((label, wl), []) if key in r]

def med(label, wl, key):
    v = vals(label, wl, key)
    if key == "errors":  # every error counts: the total over rounds, not a median
        return sum(v) if v else None
    return statistics.median(v) if v else None

def fmt(x, unit=""):
    if x is None:
        return "n/a"
    if unit == "MiB/s":
        return f"{x / 1048576:.1f} MiB/s"
    if abs(x) >= 100:
        return f"{x:,.0f}{unit}"
    return f"{x:.2f}{unit}"

def spread(label, wl, key, scale=1):
    v = vals(label, wl, key)
    return f"{min(v)/scale:.1f}–{max(v)/scale:.1f}" if len(v) > 1 else ""

def failed(label, wl):
    return sum(1 for r in rows.get((label, wl), []) if r.get("failed"))

table = []
def row(name, wl, key, unit, better):
    a, b = med("imapvault", wl, key), med("dovecot", wl, key)
    ratio = f"{a / b:.2f}×" if a is not None and b not in (None, 0) else "n/a"
    scale = 1048576 if unit == "MiB/s" else 1
    table.append((name, fmt(a, unit if unit == "MiB/s" else " " + unit if unit else ""),
                  fmt(b, unit if unit == "MiB/s" else " " + unit if unit else ""), ratio, better,
                  spread("imapvault", wl, key, scale) + " / " + spread("dovecot", wl, key, scale)))

row("FETCH BODY[] bytes/s", "fetch-bodies", "bytes_per_s", "MiB/s", "higher")
row("FETCH BODY[] messages/s", "fetch-bodies", "msgs_per_s", "msg/s", "higher")
row("open folder p50", "open-folder", "p50_ms", "ms", "lower")
row("open folder p99", "open-folder", "p99_ms", "ms", "lower")
row("  SELECT p50", "open-folder", "select_p50_ms", "ms", "lower")
row("  ENVELOPE+BODYSTRUCTURE newest 500 p50", "open-folder", "envelope_p50_ms", "ms", "lower")
row("  FETCH 1:* (UID FLAGS) p50", "open-folder", "flags_p50_ms", "ms", "lower")
row(f"mixed ({os.environ['CLIENTS']} clients) commands/s", "mixed", "cmds_per_s", "cmd/s", "higher")
row("mixed p50", "mixed", "p50_ms", "ms", "lower")
row("mixed p99", "mixed", "p99_ms", "ms", "lower")
row("mixed errors (total, all rounds)", "mixed", "errors", "", "lower")
for op in ["select", "status", "list", "fetch", "search", "uidsearch", "noop"]:
    row(f"  mixed {op.upper()} p99", "mixed", f"{op}_p99_ms", "ms", "lower")
for op in ["select", "status", "list", "fetch", "search", "uidsearch", "noop"]:
    row(f"  1 client: {op.upper()} p50", "mixed-1", f"{op}_p50_ms", "ms", "lower")
row("  1 client: commands/s", "mixed-1", "cmds_per_s", "cmd/s", "higher")
row(f"logins/s ({os.environ['LOGIN_CLIENTS']} clients)", "logins", "logins_per_s", "/s", "higher")
row("login p50", "logins", "p50_ms", "ms", "lower")
row("login errors (total)", "logins", "errors", "", "lower")

w = [max(len(r[i]) for r in table + [("workload", "imapvault", "Dovecot", "ratio iv/dc", "better", "spread iv / dc")]) for i in range(6)]
hdr = ("workload", "imapvault", "Dovecot", "ratio iv/dc", "better", "spread iv / dc")
print()
print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |")
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in table:
    print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
print()
imp = rows[("imapvault", "import")][0]
print(f"ingest (imapvault import of the mbox, timed around the command): {float(imp['msgs_per_s']):,.0f} messages/s "
      f"({float(imp['secs']):.1f} s for {os.environ['COUNT']} messages, {int(imp['bytes'])/1048576/float(imp['secs']):.1f} MiB/s); target ≥ 5,000")
dci = rows[("dovecot", "doveadm-index")][0]
print(f"Dovecot warm-up 'doveadm index' of the copied Maildir: {float(dci['secs']):.1f} s (not an ingest figure)")
c = rows.get(("rustls", "tls-ceiling"), [{}])[0]
if c:
    print(f"rustls ceiling ({c['cipher']}, 16 KiB records, in memory): encrypt {float(c['encrypt_bytes_per_s'])/1048576:,.0f} MiB/s, "
          f"decrypt {float(c['decrypt_bytes_per_s'])/1048576:,.0f} MiB/s, both on one core {float(c['both_one_core_bytes_per_s'])/1048576:,.0f} MiB/s")
fb = rows.get(("imapvault", "fetch-bodies"), [{}])[0]
print(f"TLS cipher negotiated: imapvault {fb.get('cipher','?')}, Dovecot {rows.get(('dovecot','fetch-bodies'),[{}])[0].get('cipher','?')}")
for r in rows.get(("imapvault", "rss"), []):
    print(f"imapvault memory after mixed round {r['round']}: VmRSS {int(r['vmrss'])/1024:.0f} MiB "
          f"(anonymous {int(r['rssanon'])/1024:.0f} MiB, file-backed {int(r['rssfile'])/1024:.0f} MiB)")
fails = [(l, wl) for (l, wl) in rows if failed(l, wl)]
if fails:
    print("FAILED runs: " + ", ".join(f"{l}/{wl} ×{failed(l, wl)}" for l, wl in fails))
print("Dovecot password scheme: " + os.environ["PW_DESC"] + "; imapvault: argon2id (argon2 crate defaults)")
print(f"log lines mentioning errors: imapvault serve.log {os.environ['IV_ERRORS']}, dovecot.log {os.environ['DC_ERRORS']}")
EOF
echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "versions: $("$IMAPVAULT" --version 2>/dev/null || echo imapvault) ($(git rev-parse --short HEAD)), Dovecot $(dovecot --version), $(rustc --version)"
echo "settings: COUNT=$COUNT SEED=$SEED ROUNDS=$ROUNDS CLIENTS=$CLIENTS SECONDS=$MIX_SECONDS LOGIN_CLIENTS=$LOGIN_CLIENTS REPEATS=$REPEATS FETCH_CLIENTS=$FETCH_CLIENTS WORKERS=$WORKERS QUEUE=$QUEUE"
echo "raw results: $RESULTS (kept only with KEEP=1)"
