#!/bin/sh
# Runs every fuzz target (or those named) for SECONDS_PER_TARGET (default 60) each, one after the
# other, and prints per target the run time, executions and crashes. Exits non-zero if any target
# crashed (the input is in fuzz/artifacts/<target>/) or failed to build.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Uses cargo-fuzz (installed from crates.io if missing) with `-s none`: no sanitizer, so it
# works on the stable toolchain (DESIGN §6); the code has no unsafe outside the mmap store, and
# Rust's own checks catch what a sanitizer would: bounds always, integer overflow and debug
# assertions because of `-a` (cargo-fuzz leaves them off with `-O` otherwise). New corpus entries go to fuzz/corpus/<target>/ (not in git); the seeds
# in fuzz/seeds/<target>/ are read only. Runs at nice 19: the machine is shared.
set -u
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-"command_parser mime search session"}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || exit 2
fi

# Longest input per target: sessions and command streams of a few commands, messages of a few
# parts; longer inputs only slow each execution down.
max_len() {
    case $1 in
        mime) echo 16384 ;;
        search) echo 1024 ;;
        *) echo 4096 ;;
    esac
}

nice -n 19 cargo fuzz build -s none -O -a || exit 2

status=0
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="artifacts/$t/last-run.log"
    before=$(ls "artifacts/$t" | grep -c -E '^(crash|timeout|oom|leak)-')
    start=$(date +%s)
    # -timeout: a SEARCH may use its 20 s budget; anything far beyond it is a hang.
    nice -n 19 cargo fuzz run -s none -O -a "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=60 -rss_limit_mb=4096 \
        -max_len="$(max_len "$t")" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    elapsed=$(( $(date +%s) - start ))
    after=$(ls "artifacts/$t" | grep -c -E '^(crash|timeout|oom|leak)-')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    corpus=$(ls "corpus/$t" | wc -l)
    crashes=$((after - before))
    [ $rc -ne 0 ] && [ $crashes -eq 0 ] && crashes="? (exit $rc, see $log)"
    printf '%-15s %6ss  %12s executions  %5s corpus  crashes: %s\n' \
        "$t" "$elapsed" "${execs:-?}" "$corpus" "$crashes"
    if [ $rc -ne 0 ]; then
        status=1
        grep -m 5 -E 'panicked at|ERROR: libFuzzer|Test unit written' "$log" >&2
    fi
done
exit $status
