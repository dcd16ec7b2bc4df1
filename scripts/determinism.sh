#!/bin/sh
# Determinism across builds: one simulated log, replayed by every binary given, must give the
# same state hash and weights hash (each replay also checks every derived record byte for byte
# against the writer's); and each binary, simulating the same history itself, must write the
# same tree (same checkpoint root). Usage: determinism.sh TALLY_BIN... (the first one writes).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 TALLY_BIN TALLY_BIN..." >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args="--miners 40 --days 6 --markets-per-day 18 --seed 11 --quiet"

"$1" simulate --dir "$work/log" $args > /dev/null
first=""
i=0
for bin in "$@"; do
    i=$((i + 1))
    "$bin" replay --dir "$work/log" --quiet > "$work/replay.$i"
    hashes=$(grep -E '^(state hash|weights hash)' "$work/replay.$i")
    "$bin" simulate --dir "$work/own.$i" $args > /dev/null
    root=$("$bin" checkpoint --dir "$work/own.$i" | sed -n 2,3p | tr '\n' ' ')
    echo "$bin: $(echo "$hashes" | tr '\n' ' ') root $root"
    if [ -z "$first" ]; then
        first="$hashes $root"
    elif [ "$hashes $root" != "$first" ]; then
        echo "determinism FAILED: $bin differs from $1" >&2
        exit 1
    fi
done
echo "determinism: $i builds agree"
