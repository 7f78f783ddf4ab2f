#!/usr/bin/env bash
# SEARCH latency, index size and ingest rate: imapvault vs Dovecot (Debian's dovecot-imapd)
# without FTS and with dovecot-fts-xapian, on the same generated archive, over TLS on 127.0.0.1
# (issue 3, DESIGN §4/§8).
#
#   benches/search_bench.sh                      # COUNT=1000000 (needs ~90 GB of disk, hours)
#   COUNT=100000 benches/search_bench.sh         # what fits a shared 2-core machine in an hour
#   COUNT=2000 REPEATS=3 benches/search_bench.sh # quick check
#   COUNT=1000000 DOVECOT=0 SPLIT=100000 benches/search_bench.sh  # 1M, imapvault alone, ~37 GB
#   COUNT=1000000 SPLIT=50000 SPLIT_ALONE=1 XAPIAN=0 benches/search_bench.sh  # 1M against Dovecot:
#        ~37 GB + RESERVE_GB, ~1.5 h: imapvault ~15 min, then Dovecot ~1-1.25 h (Maildir ~10-15
#        min, doveadm index ~5 min, queries ~40-55 min: each TEXT/BODY query is two full scans of
#        ~150-220 s); not XAPIAN=1 at 1M: fts-xapian indexes ~18 messages/s here (~15 h)
#
# Env: COUNT (1000000) SEED (7) MAX_SIZE (262144) BODY_MEDIAN (1200) BODY_MAX (8000): the corpus,
#        `gen_corpus.py` with smaller bodies than its defaults (mean ~25 KB, median ~7 KB);
#      DOVECOT (1; 0: imapvault alone) SPLIT (0; N: generate the corpus in mbox parts of N
#        messages, each imported as it is written and then deleted, so the corpus is never on
#        disk whole; the generator runs alongside the import, so that ingest rate is a lower
#        bound, not the importer's own, unless SPLIT_ALONE=1: then each part is imported only
#        once the next one is written, while the generator waits (it never writes more than two
#        parts ahead), which takes about twice as long in all; with DOVECOT=1 the Dovecots
#        come after imapvault's queries, so that the two never share the disk: imapvault's
#        server is stopped, its archive deleted (unless KEEP=1), and the same messages are
#        generated again as a Maildir in RUN_DIR);
#      REUSE (0; 1: with DOVECOT=0 and the RUN_DIR of an earlier run kept with KEEP=1, skip the
#        corpus and the import and run the queries again on that archive with this build;
#        the earlier ingest figures are reported; the reused RUN_DIR is always kept);
#      REPEATS (20) and QUERY_SECONDS (60): runs per query and server, and the time bound of
#        each query's runs (the unmeasured first run aside; one measured run at least);
#        DOVECOT_QUERY_SECONDS (QUERY_SECONDS): that bound on the Dovecots: without FTS each
#        TEXT/BODY search reads every message (~150-220 s at 1M), so 60 s gives it one measured
#        run; raise it for more; XAPIAN (1: also Dovecot with fts-xapian; 0: without only)
#      PORT_BASE (19940: 5 ports from there) RUN_DIR (fresh /tmp dir) KEEP (0) RESERVE_GB (15:
#        free disk to leave) CARGO_TARGET_DIR (target) CARGO_FLAGS ("--locked --offline")
# Steps: generate (or reuse) the corpus in benches/data; `imapvault import` the mbox (timed:
# the ingest rate with indexing); give each Dovecot a hard-linked copy of the Maildir and
# `doveadm index` it (timed; with fts-xapian this builds the Xapian index); then
# benches/search_client.py runs every query against each server in turn (with SPLIT and
# DOVECOT=1, on imapvault before the Maildir is made). Needs dovecot-imapd, dovecot-fts-xapian,
# openssl, python3.
set -euo pipefail

COUNT=${COUNT:-1000000}
SEED=${SEED:-7}
MAX_SIZE=${MAX_SIZE:-262144}
BODY_MEDIAN=${BODY_MEDIAN:-1200}
BODY_MAX=${BODY_MAX:-8000}
REPEATS=${REPEATS:-20}
QUERY_SECONDS=${QUERY_SECONDS:-60}
DOVECOT_QUERY_SECONDS=${DOVECOT_QUERY_SECONDS:-$QUERY_SECONDS}
XAPIAN=${XAPIAN:-1}
DOVECOT=${DOVECOT:-1}
SPLIT=${SPLIT:-0}
SPLIT_ALONE=${SPLIT_ALONE:-0}
REUSE=${REUSE:-0}
PORT_BASE=${PORT_BASE:-19940}
KEEP=${KEEP:-0}
# A run that reuses an archive never deletes it: it was kept to be run again.
[ "$REUSE" = 1 ] && KEEP=1
RESERVE_GB=${RESERVE_GB:-15}
CARGO_FLAGS=${CARGO_FLAGS:---locked --offline}
USER_NAME=bench
USER_PASS=bench-password-1
MAIL_UID=65534 # nobody: Dovecot's mail processes run as this uid
MAIL_GID=65534

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=benches/lib.sh
. benches/lib.sh
IV_TLS=$PORT_BASE
DC_IMAPS=$((PORT_BASE + 1)) DC_IMAP=$((PORT_BASE + 2))
DX_IMAPS=$((PORT_BASE + 3)) DX_IMAP=$((PORT_BASE + 4))

log() { printf '== %s: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'search_bench.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }

[ "$DOVECOT" = 1 ] || XAPIAN=0
# Split with Dovecot: the Dovecots' phase (a whole Maildir) comes after imapvault's.
DOVECOT_AFTER=0
[ "$SPLIT" = 0 ] || [ "$DOVECOT" = 0 ] || DOVECOT_AFTER=1
if [ "$REUSE" = 1 ]; then
    [ "$DOVECOT" = 0 ] || die "REUSE needs DOVECOT=0"
    [ -n "${RUN_DIR:-}" ] && [ -f "$RUN_DIR/corpus.env" ] && [ -f "$RUN_DIR/imapvault/imapvault.toml" ] ||
        die "REUSE needs RUN_DIR of a kept run (with corpus.env and imapvault/imapvault.toml)"
fi
TOOLS="python3 openssl cargo"
[ "$DOVECOT" = 1 ] && TOOLS="$TOOLS dovecot doveadm"
for tool in $TOOLS; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y dovecot-imapd dovecot-fts-xapian)"
done
if [ "$XAPIAN" = 1 ] && [ ! -e /usr/lib/dovecot/modules/lib21_fts_xapian_plugin.so ]; then
    die "dovecot-fts-xapian is not installed (apt-get install -y dovecot-fts-xapian, or XAPIAN=0)"
fi
for p in $IV_TLS $DC_IMAPS $DC_IMAP $DX_IMAPS $DX_IMAP; do
    if ss -ltn "sport = :$p" | grep -q LISTEN; then die "port $p is in use (set PORT_BASE)"; fi
done

# Disk: the corpus twice (mbox, Maildir; the Dovecots hard-link the Maildir), imapvault's blobs
# and index, Dovecot's indexes; ~25 KB per message each, so ~4 copies' worth, plus the reserve.
CORPUS=$ROOT/benches/data/corpus-s$SEED-n$COUNT-m$MAX_SIZE-b$BODY_MEDIAN-$BODY_MAX
NEED_GB=$((COUNT * 25 * 4 / 1000000 + RESERVE_GB))
[ -d "$CORPUS" ] && NEED_GB=$((COUNT * 25 * 2 / 1000000 + RESERVE_GB))
# Split: imapvault's blobs and index only (~34 KB per message: ~33 GB at 1M on 2026-11-26),
# plus two parts in flight; with the Dovecots, whichever phase needs more: the Maildir (~25 KB
# per message), Dovecot's index (~1 KB; fts-xapian's ~38 KB more) once imapvault's archive is
# deleted, or beside it if KEEP=1.
if [ "$SPLIT" != 0 ]; then
    IV_KB=$((COUNT * 34 + SPLIT * 25 * 2)) DC_KB=0
    if [ "$DOVECOT_AFTER" = 1 ]; then
        DC_KB=$((COUNT * 26))
        [ "$XAPIAN" = 0 ] || DC_KB=$((DC_KB + COUNT * 38))
        [ "$KEEP" = 0 ] || DC_KB=$((DC_KB + COUNT * 34))
    fi
    NEED_GB=$(((IV_KB > DC_KB ? IV_KB : DC_KB) / 1000000 + RESERVE_GB))
fi
[ "$REUSE" = 0 ] || NEED_GB=$RESERVE_GB
FREE_GB=$(df -BG --output=avail "$ROOT/benches" | tail -1 | tr -dc 0-9)
[ "$FREE_GB" -ge "$NEED_GB" ] ||
    die "COUNT=$COUNT needs ~$NEED_GB GB free (with $RESERVE_GB GB left over), $FREE_GB GB are: lower COUNT"

RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/imapvault-search.XXXXXX)}
mkdir -p "$RUN_DIR"
chmod 755 "$RUN_DIR"
IV_PID= DC_PID= DX_PID= GEN_PID=
cleanup() {
    local rc=$?
    for pid in $IV_PID $DC_PID $DX_PID $GEN_PID; do
        # (wait fails for a process the signal ended, e.g. the generator: set -e must not stop
        # the loop there and leave the next server running)
        if kill "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
    done
    end_run $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building imapvault (release)"
# shellcheck disable=SC2086
cargo build --release $CARGO_FLAGS --bin imapvault >&2
IMAPVAULT=${CARGO_TARGET_DIR:-$ROOT/target}/release/imapvault
IV_VERSION="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src sql Cargo.toml Cargo.lock || echo +uncommitted)"

if [ "$REUSE" = 1 ]; then
    log "reusing the archive in $RUN_DIR/imapvault"
elif [ "$SPLIT" != 0 ]; then
    PARTS=$RUN_DIR/parts
    log "generating $COUNT messages in parts of $SPLIT in $PARTS, each imported as it is written"
elif [ ! -f "$CORPUS/corpus.mbox" ] || [ ! -d "$CORPUS/Maildir/cur" ]; then
    log "generating $COUNT messages in $CORPUS"
    rm -rf "$CORPUS.tmp"
    python3 benches/gen_corpus.py --seed "$SEED" --count "$COUNT" --max-size "$MAX_SIZE" \
        --body-median "$BODY_MEDIAN" --body-max "$BODY_MAX" --out "$CORPUS.tmp" --format both \
        --quiet 2>"$RUN_DIR/gen.log"
    mv "$CORPUS.tmp" "$CORPUS"
else
    log "reusing corpus $CORPUS"
fi
if [ "$REUSE" = 1 ]; then
    # shellcheck source=/dev/null
    . "$RUN_DIR/corpus.env"
elif [ "$SPLIT" = 0 ]; then
    CORPUS_BYTES=$(stat -c %s "$CORPUS/corpus.mbox")
    MAIL_BYTES=$(du -sb "$CORPUS/Maildir/cur" | cut -f1)
fi

CERTS=$RUN_DIR/certs
make_certs "$CERTS" rsa:2048
RESULTS=$RUN_DIR/results.txt
if [ "$REUSE" = 1 ]; then
    # (imapvault's only: a kept split run also holds the Dovecots')
    grep 'label=imapvault workload=ingest' "$RESULTS" >"$RESULTS.ingest" || die "no ingest figures in $RESULTS"
    mv "$RESULTS.ingest" "$RESULTS"
else
    : >"$RESULTS"
fi

# ------------------------------------------------------------------------------ imapvault
IV=$RUN_DIR/imapvault
if [ "$REUSE" = 0 ]; then
    mkdir -p "$IV/data"
    write_imapvault_conf "$IV/imapvault.toml" "$IV/data" "$CERTS" "$IV_TLS" \
        "listen_starttls = []
workers = 16"
    echo "$USER_PASS" | "$IMAPVAULT" --config "$IV/imapvault.toml" user add "$USER_NAME" --password-stdin >&2
    if [ "$SPLIT" = 0 ]; then
        cat "$CORPUS/corpus.mbox" >/dev/null
        log "imapvault import of $COUNT messages ($((CORPUS_BYTES / 1048576)) MiB mbox), content index on"
        t0=$(now)
        /usr/bin/time -f "%U %S" -o "$IV/cpu" "$IMAPVAULT" --config "$IV/imapvault.toml" import \
            --user "$USER_NAME" "$CORPUS/corpus.mbox" 2>"$IV/import.log" >&2 ||
            { tail -5 "$IV/import.log" >&2; die "import failed"; }
        t1=$(now)
        read -r CPU_U CPU_S <"$IV/cpu"
        IMPORT_SECS=$(secs "$t0" "$t1")
    else
        mkdir -p "$PARTS"
        python3 benches/gen_corpus.py --seed "$SEED" --count "$COUNT" --max-size "$MAX_SIZE" \
            --body-median "$BODY_MEDIAN" --body-max "$BODY_MAX" --out "$PARTS" --format mbox \
            --split "$SPLIT" --quiet 2>"$RUN_DIR/gen.log" &
        GEN_PID=$!
        IMPORT_SECS=0 CPU_U=0 CPU_S=0 CORPUS_BYTES=0
        for ((k = 0; k * SPLIT < COUNT; k++)); do
            part=$(printf '%s/part-%05d.mbox' "$PARTS" "$k")
            for ((w = 0; w < 36000; w++)); do # at most 2 hours per part
                [ -f "$part" ] && break
                kill -0 "$GEN_PID" 2>/dev/null || [ -f "$part" ] || die "the generator stopped early ($(tail -1 "$RUN_DIR/gen.log"))"
                sleep 0.2
            done
            [ -f "$part" ] || die "part $k did not appear"
            # SPLIT_ALONE: wait for the next part too, so that the generator is waiting for this
            # one to go while it is imported.
            next=$(printf '%s/part-%05d.mbox' "$PARTS" $((k + 1)))
            for ((w = 0; w < 36000; w++)); do
                [ "$SPLIT_ALONE" = 1 ] && [ $(((k + 1) * SPLIT)) -lt "$COUNT" ] || break
                [ -f "$next" ] && break
                kill -0 "$GEN_PID" 2>/dev/null || [ -f "$next" ] || die "the generator stopped early ($(tail -1 "$RUN_DIR/gen.log"))"
                sleep 0.2
            done
            CORPUS_BYTES=$((CORPUS_BYTES + $(stat -c %s "$part")))
            log "imapvault import of part $k ($((k * SPLIT))..): $(du -sh "$part" | cut -f1)"
            t0=$(now)
            /usr/bin/time -f "%U %S" -o "$IV/cpu" "$IMAPVAULT" --config "$IV/imapvault.toml" import \
                --user "$USER_NAME" "$part" 2>>"$IV/import.log" >&2 ||
                { tail -5 "$IV/import.log" >&2; die "import failed"; }
            t1=$(now)
            rm -f "$part"
            read -r u s <"$IV/cpu"
            IMPORT_SECS=$(python3 -c "print($IMPORT_SECS + $t1 - $t0)")
            CPU_U=$(python3 -c "print($CPU_U + $u)") CPU_S=$(python3 -c "print($CPU_S + $s)")
        done
        wait "$GEN_PID" || die "the generator failed"
        GEN_PID=
        # Without the Maildir, the messages' bytes are the mbox's less its "From " lines (close).
        MAIL_BYTES=$CORPUS_BYTES
    fi
    IV_INDEX=$(du -cb "$IV/data"/index.sqlite* | tail -1 | cut -f1)
    echo "RESULT label=imapvault workload=ingest secs=$IMPORT_SECS cpu_user=$CPU_U cpu_sys=$CPU_S index_bytes=$IV_INDEX" >>"$RESULTS"
    printf 'CORPUS_BYTES=%s\nMAIL_BYTES=%s\n' "$CORPUS_BYTES" "$MAIL_BYTES" >"$RUN_DIR/corpus.env"
fi
"$IMAPVAULT" --config "$IV/imapvault.toml" serve 2>"$IV/serve.log" &
IV_PID=$!
wait_port "$IV_TLS" "$IV_PID" imapvault

# ------------------------------------------------------------------------------ queries
# Common strings occur in a large share of the messages, rare ones in a few (the hit counts
# are printed). Each Message-ID holds the message's number: TEXT finds it in one message.
RARE_ID=$(printf '.%07d.' $((COUNT / 3)))
QUERIES=$RUN_DIR/queries.json
cat >"$QUERIES" <<EOF
[
  {"name": "TEXT-common", "key": "TEXT", "string": "meeting"},
  {"name": "TEXT-rare", "key": "TEXT", "string": "$RARE_ID"},
  {"name": "TEXT-rare-utf8", "key": "TEXT", "string": "Киселёва"},
  {"name": "BODY-common", "key": "BODY", "string": "please"},
  {"name": "BODY-rare", "key": "BODY", "string": "warehouse approve sample"},
  {"name": "BODY-absent", "key": "BODY", "string": "zyxwvut"},
  {"name": "FROM-common", "key": "FROM", "string": "example.org"},
  {"name": "FROM-rare", "key": "FROM", "string": "k.sato@corp"},
  {"name": "SUBJECT-common", "key": "SUBJECT", "string": "re:"},
  {"name": "SUBJECT-rare", "key": "SUBJECT", "string": "invoice urgent"}
]
EOF
run_client() { # label port seconds [socket-timeout]
    log "queries on $1"
    python3 benches/search_client.py --label "$1" --port "$2" --ca "$CERTS/ca.pem" \
        --user "$USER_NAME" --password "$USER_PASS" --queries "$QUERIES" \
        --repeats "$REPEATS" --seconds "$3" --timeout "${4:-600}" | tee -a "$RESULTS" >&2
}

# ------------------------------------------------------------------------------ Dovecot
start_dovecot() { # dir imaps imap fts(0|1) -> sets DOVECOT_PID
    local d=$1 imaps=$2 imap=$3 fts=$4
    mkdir -p "$d/home/$USER_NAME"
    printf '%s:{PLAIN}%s\n' "$USER_NAME" "$USER_PASS" >"$d/passwd"
    chmod 644 "$d/passwd"
    # A hard-linked copy: the same files, its own directory (Dovecot keeps uidlists there).
    cp -al "$MAILDIR" "$d/home/$USER_NAME/Maildir"
    chown -R "$MAIL_UID:$MAIL_GID" "$d/home"
    local plugins="" plugin_conf=""
    if [ "$fts" = 1 ]; then
        plugins="mail_plugins = \$mail_plugins fts fts_xapian"
        plugin_conf="plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = yes
  fts_enforced = yes
}"
    fi
    write_dovecot_conf "$d" "$imaps" "$imap" benches/search_bench.sh "default_vsz_limit = 4G
$plugins
$plugin_conf"
    dovecot -c "$d/dovecot.conf" -F 2>"$d/master.stderr" &
    DOVECOT_PID=$!
}
index_dovecot() { # label dir pid port
    wait_port "$4" "$3" "$1"
    log "$1: doveadm index of $COUNT messages"
    local t0 t1
    t0=$(now)
    doveadm -c "$2/dovecot.conf" index -u "$USER_NAME" INBOX >&2
    t1=$(now)
    local idx
    idx=$(find "$2/home/$USER_NAME/Maildir" -maxdepth 1 \( -name 'dovecot*' -o -name 'xapian-indexes' \) \
        -exec du -cb {} + | tail -1 | cut -f1)
    echo "RESULT label=$1 workload=ingest secs=$(secs "$t0" "$t1") index_bytes=$idx" >>"$RESULTS"
}
MAILDIR=$CORPUS/Maildir
if [ "$DOVECOT_AFTER" = 1 ]; then
    run_client imapvault "$IV_TLS" "$QUERY_SECONDS"
    kill "$IV_PID"
    wait "$IV_PID" 2>/dev/null || true
    IV_PID=
    # Its figures are in results.txt: the disk is for the Maildir now.
    if [ "$KEEP" = 1 ]; then
        log "imapvault stopped; its archive is kept (KEEP=1)"
    else
        log "imapvault stopped; deleting its archive to free the disk"
        rm -rf "$IV/data"
    fi
    log "generating the same $COUNT messages as a Maildir in $RUN_DIR/corpus"
    python3 benches/gen_corpus.py --seed "$SEED" --count "$COUNT" --max-size "$MAX_SIZE" \
        --body-median "$BODY_MEDIAN" --body-max "$BODY_MAX" --out "$RUN_DIR/corpus" --format maildir \
        --quiet 2>"$RUN_DIR/gen-maildir.log" &
    GEN_PID=$!
    wait "$GEN_PID" || die "the Maildir generator failed ($(tail -1 "$RUN_DIR/gen-maildir.log"))"
    GEN_PID=
    MAILDIR=$RUN_DIR/corpus/Maildir
    # The messages' own bytes, as in an unsplit run (the parts' sum has the "From " lines too).
    MAIL_BYTES=$(du -sb "$MAILDIR/cur" | cut -f1)
    printf 'CORPUS_BYTES=%s\nMAIL_BYTES=%s\n' "$CORPUS_BYTES" "$MAIL_BYTES" >"$RUN_DIR/corpus.env"
fi
if [ "$DOVECOT" = 1 ]; then
    DC=$RUN_DIR/dovecot
    start_dovecot "$DC" "$DC_IMAPS" "$DC_IMAP" 0
    DC_PID=$DOVECOT_PID
    index_dovecot dovecot "$DC" "$DC_PID" "$DC_IMAPS"
    if [ "$XAPIAN" = 1 ]; then
        DX=$RUN_DIR/dovecot-xapian
        start_dovecot "$DX" "$DX_IMAPS" "$DX_IMAP" 1
        DX_PID=$DOVECOT_PID
        index_dovecot dovecot-xapian "$DX" "$DX_PID" "$DX_IMAPS"
    fi
fi

[ "$DOVECOT_AFTER" = 1 ] || run_client imapvault "$IV_TLS" "$QUERY_SECONDS"
# A full scan of 1M messages takes minutes: a longer socket timeout than the client's 600 s, so
# that a slow one is not cut off (and the connection with it).
[ "$DOVECOT" = 0 ] || run_client dovecot "$DC_IMAPS" "$DOVECOT_QUERY_SECONDS" 1800
[ "$XAPIAN" = 0 ] || run_client dovecot-xapian "$DX_IMAPS" "$DOVECOT_QUERY_SECONDS" 1800

# ------------------------------------------------------------------------------ report
export COUNT CORPUS_BYTES MAIL_BYTES REPEATS QUERY_SECONDS DOVECOT_QUERY_SECONDS SPLIT SPLIT_ALONE DOVECOT_AFTER
python3 - "$RESULTS" <<'EOF'
import os, sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        kv = dict(w.split("=", 1) for w in line.split()[1:])
        rows[(kv["label"], kv.get("query") or kv["workload"])] = kv
servers = [s for s in ("imapvault", "dovecot", "dovecot-xapian") if (s, "ingest") in rows]
queries = []
for (label, q) in rows:
    if label == "imapvault" and q != "ingest":
        queries.append(q)

def cell(s, q, k):
    r = rows.get((s, q), {})
    if r.get("status") != "OK":
        return r.get("status", "n/a")
    return r.get(k, "n/a")

def ratio(a, b):
    try:
        # Two significant digits: a ratio of 0.00002 must not print as 0.000.
        r = float(a) / float(b)
        return (f"{r:.2g}" if r >= 1e-4 else f"{r:.6f}".rstrip("0")) + "×"
    except (TypeError, ValueError, ZeroDivisionError):
        return "n/a"

hdr = ["query", "hits iv / dc / dx", "imapvault p50 / p99 ms"] + [f"{s} p50 / p99 ms" for s in servers[1:]] + \
      [f"p50 ratio iv/{'dc' if s == 'dovecot' else 'dx'}" for s in servers[1:]]
print("| " + " | ".join(hdr) + " |")
print("|" + "|".join("---" for _ in hdr) + "|")
for q in queries:
    hits = " / ".join(rows.get((s, q), {}).get("hits", "n/a") for s in servers)
    cols = [q, hits]
    for s in servers:
        cols.append(f"{cell(s, q, 'p50_ms')} / {cell(s, q, 'p99_ms')}")
    for s in servers[1:]:
        cols.append(ratio(cell("imapvault", q, "p50_ms"), cell(s, q, "p50_ms")))
    print("| " + " | ".join(cols) + " |")
print()
count, mbox, mail = int(os.environ["COUNT"]), int(os.environ["CORPUS_BYTES"]), int(os.environ["MAIL_BYTES"])
gib = mail / 2**30
for s in servers:
    r = rows[(s, "ingest")]
    secs = float(r["secs"])
    idx = int(r["index_bytes"])
    what = "imapvault import (mbox, content index on)" if s == "imapvault" else f"{s}: doveadm index of the Maildir"
    extra = ""
    if "cpu_user" in r:
        cpu = float(r["cpu_user"]) + float(r["cpu_sys"])
        extra = f", CPU {cpu:.1f} s ({count / cpu:,.0f} messages per CPU-second)"
        if os.environ.get("SPLIT", "0") != "0":
            alongside = "waiting" if os.environ.get("SPLIT_ALONE") == "1" else "running alongside"
            extra += f" (in parts of {os.environ['SPLIT']}, the corpus generator {alongside})"
    print(f"- {what}: {secs:.1f} s, {count / secs:,.0f} messages/s, {mail / 2**20 / secs:.1f} MiB/s{extra}; "
          f"index {idx / 2**20:,.0f} MiB = {idx / 2**20 / gib:,.0f} MiB per GiB of mail")
bound = os.environ["QUERY_SECONDS"]
if len(servers) > 1 and os.environ["DOVECOT_QUERY_SECONDS"] != bound:
    bound += f" (Dovecot: {os.environ['DOVECOT_QUERY_SECONDS']})"
print(f"- corpus: {count:,} messages, {mail / 2**20:,.0f} MiB of messages (mean {mail / count / 1024:.1f} KiB); "
      f"p50/p99 over up to {os.environ['REPEATS']} runs per query (p99 = slowest of them), each query's runs bounded to "
      f"{bound} s; hit counts from the unmeasured first run")
if os.environ.get("DOVECOT_AFTER") == "1" and len(servers) > 1:
    print("- Dovecot ran after imapvault's phase (imapvault's server stopped, its archive deleted unless KEEP=1), "
          "on a Maildir of the same generated messages (gen_corpus.py --format maildir, same seed and sizes)")
EOF
echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: imapvault $IV_VERSION (built at the start of the run), Dovecot $(dovecot --version), fts-xapian $(dpkg-query -W -f '${Version}' dovecot-fts-xapian 2>/dev/null || echo none)"
echo "settings: COUNT=$COUNT SPLIT=$SPLIT SPLIT_ALONE=$SPLIT_ALONE SEED=$SEED MAX_SIZE=$MAX_SIZE BODY_MEDIAN=$BODY_MEDIAN BODY_MAX=$BODY_MAX REPEATS=$REPEATS QUERY_SECONDS=$QUERY_SECONDS DOVECOT_QUERY_SECONDS=$DOVECOT_QUERY_SECONDS"
