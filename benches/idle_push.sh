#!/usr/bin/env bash
# IDLE push benchmark (DESIGN §8, issue 4): CONNS TLS sessions idle on one imapvault, spread over
# USERS users; then messages are archived and the delay commit → `* N EXISTS` is measured at
# every session of the users concerned.
#
#   benches/idle_push.sh                          # 10,000 idlers, 100 users, 20 rounds × 5 users
#   CONNS=1000 IDLE_SECONDS=10 ROUNDS=5 benches/idle_push.sh
#
# Env: CONNS (10000) USERS (100) MSGS (5 per user, initial) WORKERS (64) QUEUE (64)
#      ESTABLISHERS (16 client threads doing TLS+LOGIN+SELECT+IDLE) READERS (2 client threads
#      holding the idlers) SETTLE (5 s) IDLE_SECONDS (30) ROUNDS (20) PER_ROUND (5 users per
#      round) PUSH_TIMEOUT (5 s) PORT (19960) RUN_DIR (a fresh /tmp dir) KEEP (0)
#      NOFILE (65536) CARGO_FLAGS ("--locked --offline")
#      SERVER_ENV (empty: extra VAR=value words for the server's environment, e.g.
#        SERVER_ENV=GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576 to test the allocator)
# Only 127.0.0.1. The open-file limit of this shell (server and client both inherit it) is
# raised to NOFILE: each idler is one socket in the server and one in the client.
set -euo pipefail

CONNS=${CONNS:-10000}
USERS=${USERS:-100}
MSGS=${MSGS:-5}
WORKERS=${WORKERS:-64}
QUEUE=${QUEUE:-64}
ESTABLISHERS=${ESTABLISHERS:-16}
READERS=${READERS:-2}
SETTLE=${SETTLE:-5}
IDLE_SECONDS=${IDLE_SECONDS:-30}
ROUNDS=${ROUNDS:-20}
PER_ROUND=${PER_ROUND:-5}
PUSH_TIMEOUT=${PUSH_TIMEOUT:-5}
PORT=${PORT:-19960}
KEEP=${KEEP:-0}
NOFILE=${NOFILE:-65536}
CARGO_FLAGS=${CARGO_FLAGS:---locked --offline}
SERVER_ENV=${SERVER_ENV:-}
USER_PREFIX=push
USER_PASS=push-bench-password-1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=benches/lib.sh
. benches/lib.sh

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'idle_push.sh: %s\n' "$*" >&2; exit 1; }

for tool in openssl cargo jq ss; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
if ss -ltn "sport = :$PORT" | grep -q LISTEN; then die "port $PORT is in use (set PORT)"; fi

# Raise the open-file limit (hard limit too when we may: root). Say what we got.
ulimit -Hn "$NOFILE" 2>/dev/null || true
ulimit -n "$NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
log "open-file limit: $(ulimit -n) (asked for $NOFILE; hard limit $(ulimit -Hn)); server and client inherit it, each needs $CONNS + a few"
[ "$(ulimit -n)" -gt $((CONNS + 100)) ] || die "open-file limit $(ulimit -n) too low for $CONNS sessions"

RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/imapvault-idle.XXXXXX)}
mkdir -p "$RUN_DIR"
IV_PID=
cleanup() {
    local rc=$?
    if [ -n "$IV_PID" ] && kill -0 "$IV_PID" 2>/dev/null; then
        kill "$IV_PID" 2>/dev/null
        # 10,000 parked sessions each get `* BYE` on shutdown: give it time, then insist.
        for _ in $(seq 1 300); do kill -0 "$IV_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$IV_PID" 2>/dev/null || true
        wait "$IV_PID" 2>/dev/null || true
    fi
    end_run $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------ build
log "building imapvault and the idle_push bench (release)"
# shellcheck disable=SC2086
cargo build --release $CARGO_FLAGS --bin imapvault >&2
IMAPVAULT=$ROOT/target/release/imapvault
# shellcheck disable=SC2086
BENCH_JSON=$(cargo bench $CARGO_FLAGS --no-run --bench idle_push --message-format=json 2>/dev/null)
CLIENT=$(jq -r 'select(.reason=="compiler-artifact" and .target.name=="idle_push") | .executable // empty' <<<"$BENCH_JSON" | tail -1)
[ -x "$CLIENT" ] || die "could not find the idle_push executable"

# ------------------------------------------------------------------------------ certificate
CERTS=$RUN_DIR/certs
# ECDSA P-256: cheap handshakes, so that setting up 10,000 sessions is not all RSA signing.
make_certs "$CERTS" ec -pkeyopt ec_paramgen_curve:prime256v1

# ------------------------------------------------------------------------------ archive
IV=$RUN_DIR/imapvault
mkdir -p "$IV/data" "$IV/mail"
# Few workers on purpose: $CONNS idlers must not need a worker each (DESIGN §2). Every idler
# connects from 127.0.0.1, $((CONNS / USERS)) per user: the per-address and per-user caps
# (issue 6) that would refuse a real deployment's single abusive address are lifted.
write_imapvault_conf "$IV/imapvault.toml" "$IV/data" "$CERTS" "$PORT" \
    "listen_starttls = []
workers = $WORKERS
queue = $QUEUE" \
    'mode = "mailbox"
flags = "per-user"' \
    "[limits]
connections_per_ip = $((CONNS + 100))
sessions_per_user = $((CONNS + 100))"
CONF=$IV/imapvault.toml
log "creating $USERS users with $MSGS messages each in INBOX"
for m in $(seq 1 "$MSGS"); do
    printf 'From: Archive <archive@bench.invalid>\r\nTo: someone@bench.invalid\r\nSubject: initial message %s\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <initial-%s@bench.invalid>\r\n\r\nInitial message %s.\r\n' \
        "$m" "$m" "$m" >"$IV/mail/initial-$m.eml"
done
for u in $(seq 0 $((USERS - 1))); do
    printf '%s\n' "$USER_PASS" | "$IMAPVAULT" --config "$CONF" user add "$USER_PREFIX$u" --password-stdin >/dev/null
    "$IMAPVAULT" --config "$CONF" import --user "$USER_PREFIX$u" --folder INBOX "$IV/mail" \
        >/dev/null 2>"$IV/import.log" || { cat "$IV/import.log" >&2; die "import for $USER_PREFIX$u failed"; }
done

# ------------------------------------------------------------------------------ server
# shellcheck disable=SC2086
env $SERVER_ENV "$IMAPVAULT" --config "$CONF" serve 2>"$IV/serve.log" &
IV_PID=$!
for _ in $(seq 1 200); do
    if ss -ltn "sport = :$PORT" | grep -q LISTEN; then break; fi
    kill -0 "$IV_PID" 2>/dev/null || { cat "$IV/serve.log" >&2; die "imapvault exited during start-up"; }
    sleep 0.1
done
ss -ltn "sport = :$PORT" | grep -q LISTEN || die "imapvault did not listen on $PORT"
log "imapvault pid $IV_PID on 127.0.0.1:$PORT, workers=$WORKERS queue=$QUEUE${SERVER_ENV:+, environment: $SERVER_ENV}"

# ------------------------------------------------------------------------------ load
log "$CONNS idlers over $USERS users ($ESTABLISHERS establishing threads, $READERS reader threads)"
RESULT=$("$CLIENT" --port "$PORT" --ca "$CERTS/ca.pem" --archive "$IV/data" --pid "$IV_PID" \
    --pass "$USER_PASS" --users "$USERS" --user-prefix "$USER_PREFIX" --conns "$CONNS" \
    --establishers "$ESTABLISHERS" --readers "$READERS" --settle "$SETTLE" \
    --idle-seconds "$IDLE_SECONDS" --rounds "$ROUNDS" --per-round "$PER_ROUND" \
    --push-timeout "$PUSH_TIMEOUT" --work "$RUN_DIR/push") || die "load client failed"
echo "$RESULT" >"$RUN_DIR/result.txt"
SERVE_ERRORS=$(grep -ciE 'error|panic' "$IV/serve.log" || true)

# ------------------------------------------------------------------------------ report
python3 - "$RESULT" "$SERVE_ERRORS" <<'EOF'
import sys
kv = dict(w.split("=", 1) for w in sys.argv[1].split()[1:])
f = lambda k: float(kv[k])
mib = lambda k: f(k) / 1024
print()
print(f"| what | measured | target |")
print(f"| --- | --- | --- |")
print(f"| idle sessions held | {kv['established']} of {kv['conns']} (setup failures {kv['setup_failed']}, {f('setup_secs'):.0f} s to set up) | 10,000 |")
print(f"| server RSS: before / all idling | {mib('rss0_kib'):.1f} MiB / {mib('rss_idle_kib'):.1f} MiB (anonymous {mib('anon_idle_kib'):.1f} MiB) | < 1 GiB |")
print(f"| RSS per idle session | {f('kib_per_session'):.1f} KiB overall; {f('marginal_kib_per_session'):.1f} KiB marginal (from {kv['warm_n']} sessions on) | |")
print(f"| server threads: before / all idling | {kv['threads0']} / {kv['threads_idle']} | idlers hold none |")
print(f"| server CPU while idle | {f('idle_cpu_pct'):.2f} % of one core over {f('idle_window_s'):.0f} s ({kv['idle_voluntary_switches']} voluntary switches of the reactor thread, {kv['idle_keepalives']} keepalives sent) | |")
print(f"| push commit → * N EXISTS | p50 {f('p50_ms'):.1f} ms, p99 {f('p99_ms'):.1f} ms, max {f('max_ms'):.1f} ms over {kv['notified']} sessions | p99 < 100 ms |")
print(f"| push failures (no EXISTS within the bound) | {kv['missed']} of {kv['expected']} | 0 |")
print(f"| server RSS after the push rounds | {mib('rss_after_push_kib'):.1f} MiB | |")
print()
print(f"{kv['rounds']} rounds × {kv['per_round']} users, one message each, imported in-process (one import p50 {f('commit_p50_ms'):.1f} ms); "
      f"sessions closed by the server: {kv['closed_total']} (BYE {kv['byes']}); load client RSS {mib('client_rss_kib'):.0f} MiB; "
      f"serve.log lines mentioning errors: {sys.argv[2]}")
EOF
echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $("$IMAPVAULT" --version 2>/dev/null || echo imapvault) ($(git rev-parse --short HEAD)), $(rustc --version)"
echo "settings: CONNS=$CONNS USERS=$USERS MSGS=$MSGS WORKERS=$WORKERS QUEUE=$QUEUE ESTABLISHERS=$ESTABLISHERS READERS=$READERS SETTLE=$SETTLE IDLE_SECONDS=$IDLE_SECONDS ROUNDS=$ROUNDS PER_ROUND=$PER_ROUND PUSH_TIMEOUT=$PUSH_TIMEOUT NOFILE=$(ulimit -n) SERVER_ENV=${SERVER_ENV:-none}"
echo "raw: $RESULT"
