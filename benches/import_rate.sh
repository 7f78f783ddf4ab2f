#!/usr/bin/env bash
# Ingest rate alone: `imapvault import` of the generated corpus into a fresh archive, timed.
#
#   benches/import_rate.sh                   # COUNT=10000 SEED=1, mbox then Maildir
#   COUNT=2000 FORMATS=mbox benches/import_rate.sh
#   MODE=journal FORMATS=mbox benches/import_rate.sh   # import --journal, six users' addresses
#
# Env: COUNT (10000) SEED (1) FORMATS ("mbox maildir") MODE (mailbox) CARGO_FLAGS ("--locked
# --offline") CARGO_TARGET_DIR (target) MAX_SIZE (gen_corpus.py --max-size; its default when
# unset) IMAPVAULT (a binary to measure instead of building one, e.g. an older build to compare)
# CORPUS (a corpus directory to use as is, e.g. one search_bench.sh generated; COUNT must match)
# Each format gets its own fresh archive (so neither counts duplicates of the other). The corpus
# (benches/data/corpus-sSEED-nCOUNT, shared with compare.sh) is read once before timing so the
# figure is the importer's, not the disk's. Target (DESIGN §8): >= 5,000 messages/s.
set -euo pipefail
COUNT=${COUNT:-10000}
SEED=${SEED:-1}
FORMATS=${FORMATS:-mbox maildir}
MODE=${MODE:-mailbox}
CARGO_FLAGS=${CARGO_FLAGS:---locked --offline}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=benches/lib.sh
. benches/lib.sh

if [ -z "${IMAPVAULT:-}" ]; then
    # shellcheck disable=SC2086
    cargo build --release $CARGO_FLAGS --bin imapvault >&2
    IMAPVAULT=${CARGO_TARGET_DIR:-$ROOT/target}/release/imapvault
fi
CORPUS=${CORPUS:-$ROOT/benches/data/corpus-s$SEED-n$COUNT${MAX_SIZE:+-m$MAX_SIZE}}
if [ ! -f "$CORPUS/corpus.mbox" ] || [ ! -d "$CORPUS/Maildir/cur" ]; then
    rm -rf "$CORPUS.tmp"
    python3 benches/gen_corpus.py --seed "$SEED" --count "$COUNT" --out "$CORPUS.tmp" \
        --format both --quiet ${MAX_SIZE:+--max-size "$MAX_SIZE"}
    mv "$CORPUS.tmp" "$CORPUS"
fi

WORK=$(mktemp -d /tmp/imapvault-import.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# The config needs a listener and its certificate even though `import` serves nothing.
make_certs "$WORK/certs" rsa:2048
for fmt in $FORMATS; do
    case $fmt in
    mbox) SRC=$CORPUS/corpus.mbox ;;
    maildir) SRC=$CORPUS/Maildir ;;
    *) echo "import_rate.sh: unknown format $fmt" >&2; exit 2 ;;
    esac
    cat "$SRC" >/dev/null 2>&1 || find "$SRC" -type f -exec cat {} + >/dev/null
    rm -rf "$WORK/data"
    mkdir -p "$WORK/data"
    write_imapvault_conf "$WORK/imapvault.toml" "$WORK/data" "$WORK/certs" 19999 "" \
        "mode = \"$MODE\""
    echo "bench-password" | "$IMAPVAULT" --config "$WORK/imapvault.toml" user add bench --password-stdin
    FEED=(--user bench)
    if [ "$MODE" = journal ]; then
        # The corpus's English senders and recipients at example.org, each a user, so that
        # every journal message is matched against users' addresses and shown to some.
        for who in alice.turner bhall carol derek.olsen emma fmoss; do
            echo "bench-password" | "$IMAPVAULT" --config "$WORK/imapvault.toml" user add "$who" --password-stdin >/dev/null
            "$IMAPVAULT" --config "$WORK/imapvault.toml" user address add "$who" "$who@example.org" >/dev/null
        done
        FEED=(--journal)
    fi
    BYTES=$(du -sb "$SRC" | cut -f1)
    t0=$(date +%s.%N)
    # CPU seconds too: on a shared machine they vary far less than the elapsed time.
    /usr/bin/time -f "%U %S" -o "$WORK/cpu" \
        "$IMAPVAULT" --config "$WORK/imapvault.toml" import "${FEED[@]}" "$SRC" >"$WORK/import.log" 2>&1
    t1=$(date +%s.%N)
    SUMMARY=$(tr '\r' '\n' <"$WORK/import.log" | { grep -a imported || true; } | tail -1)
    INDEX_BYTES=$(du -cb "$WORK/data"/index.sqlite* | tail -1 | cut -f1)
    python3 -c "
secs = $t1 - $t0
user, sys = (float(x) for x in open('$WORK/cpu').read().split()[-2:])
print(f'import $fmt ($MODE mode): $COUNT messages in {secs:.2f} s: {$COUNT / secs:,.0f} messages/s, '
      f'CPU {user:.2f} s user + {sys:.2f} s sys ({$COUNT / (user + sys):,.0f} messages per CPU-second), '
      f'{$BYTES / 1048576 / secs:.1f} MiB/s; archive {$(du -sb "$WORK/data" | cut -f1) / 1048576:.0f} MiB, '
      f'index {$INDEX_BYTES / 1048576:.0f} MiB = {$INDEX_BYTES / $BYTES * 1024:.0f} MiB per GiB of mail; '
      f'importer says: $SUMMARY')"
done
