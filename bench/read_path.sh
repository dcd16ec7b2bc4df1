#!/bin/sh
# The read path's benchmarks (issue 11), one command each, or all three:
#   bench/read_path.sh [runs] [tiles|verify|audit|all]
#     tiles   tally serve against nginx, hash tiles and entry bundles, one core each (tiles.sh)
#     verify  one checkpoint note plus one inclusion proof, in process (bench_verify)
#     audit   tally audit --once catch-up against local replay of the same log (audit.sh)
# Also `bench/run.sh [runs] tiles|verify|audit`, and part of `bench/run.sh [runs]`. Scratch data
# in ./bench-data, on disk. READ_PATH_SKIP_BUILD=1 skips the build; AUDIT_DAYS (default 30)
# sets the audit log's length.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
only=${2:-all}
if [ "${READ_PATH_SKIP_BUILD:-0}" != 1 ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTALLY_BENCH=ON >/dev/null
    cmake --build build-bench -j"$(nproc)" --target tally bench_tiles bench_verify >/dev/null
fi
if [ "$only" = all ] || [ "$only" = tiles ]; then
    echo "## tile and bundle serving: tally serve against nginx, one core each"
    TILES_SKIP_BUILD=1 bench/tiles.sh "$runs" "${TILES_SECONDS:-2}"
fi
if [ "$only" = all ] || [ "$only" = verify ]; then
    echo
    echo "## verify one checkpoint plus one inclusion proof (in process, core 1)"
    d=$(pwd)/bench-data/verify
    rm -rf "$d" && mkdir -p "$d"
    build-bench/tally --dir "$d/log" simulate --miners 64 --days 7 --seed 1 -q >/dev/null
    echo "uptime: $(uptime)"
    taskset -c 1 build-bench/bench/bench_verify "$d/log" "$runs" 2000
    rm -rf "$d"
fi
if [ "$only" = all ] || [ "$only" = audit ]; then
    echo
    echo "## auditor catch-up: tally audit --once against local replay"
    AUDIT_SKIP_BUILD=1 bench/audit.sh "$runs" "${AUDIT_DAYS:-30}"
fi
