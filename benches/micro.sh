#!/usr/bin/env bash
# Micro-benchmarks of the hot paths (benches/micro.rs): builds in release (cargo's bench
# profile) and runs the full set once, printing one BENCH line per benchmark.
#
#   benches/micro.sh                        # everything, 0.5 s of samples per benchmark
#   benches/micro.sh --filter view.         # only names containing "view."
#   benches/micro.sh --seconds 2            # longer sampling, steadier figures
#
# Env: CARGO_FLAGS ("--locked --offline"). Extra arguments go to the benchmark binary.
# About 30 s in all on a 2-core machine (plus the release build the first time). Close other
# heavy work first: the figures are wall-clock and the loop cannot tell a busy machine.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CARGO_FLAGS=${CARGO_FLAGS:---locked --offline}

# shellcheck disable=SC2086 # CARGO_FLAGS is a list of flags
cargo bench $CARGO_FLAGS --bench micro --no-run
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
exec cargo bench $CARGO_FLAGS --bench micro -- "$@"
