#!/bin/sh
# The flood benchmark, one command: builds a release tally (build-bench), then floods a fresh
# `tally serve` at 10 x its global limit from 100 source IPs (127.0.3.N, all local on lo) for
# 30 s, its ledger listener and then (a fresh node) its ingest listener, against a baseline
# measured in the same run. Prints the machine, the command and each figure (bench_flood.c).
#   bench/flood.sh [runs] [--netns] [bench_flood options: --rate --flood-s --base-s --ips
#                  --threads --variant ledger|ingest|both]
# runs defaults to 1 (each run is about 2 x 55 s); the figures are medians over the runs.
# --netns runs it in a network namespace of its own (unshare -n; -rn when not root), so the
# flood cannot touch any other loopback service; without it, no root tool is needed.
# Scratch data goes to ./bench-data/flood (on disk); FLOOD_SKIP_BUILD=1 skips the build (not a TALLY_ name: the node refuses unknown TALLY_ keys).
set -eu
cd "$(dirname "$0")/.."
runs=1
netns=0
case "${1:-}" in [0-9]*) runs=$1; shift ;; esac
if [ "${1:-}" = --netns ]; then
    netns=1
    shift
fi
if [ "${FLOOD_SKIP_BUILD:-0}" != 1 ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTALLY_BENCH=ON >/dev/null
    cmake --build build-bench -j"$(nproc)" --target tally bench_flood >/dev/null
fi
scratch=$(pwd)/bench-data/flood
mkdir -p "$scratch"
set -- ./build-bench/bench/bench_flood ./build-bench/tally "$scratch" --runs "$runs" "$@"
if [ "$netns" = 1 ]; then
    flag=-rn
    [ "$(id -u)" = 0 ] && flag=-n
    echo "(in a network namespace of its own: unshare $flag, lo up)"
    unshare "$flag" sh -c 'ip link set lo up && exec "$@"' sh "$@"
else
    "$@"
fi
rm -rf "$scratch"
