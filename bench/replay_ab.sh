#!/bin/sh
# Local replay, before against after in the same minutes: `tally replay` of one log by an older
# binary and by this tree's release build, alternating, in the full and the gated view; CPU time
# (perf stat task-clock, or user+sys from /usr/bin/time without perf) and wall time per run, the
# medians, and records/s per core.
#   bench/replay_ab.sh OLD_TALLY LOG_DIR [runs]   (default 5 runs; LOG_DIR e.g. from
#                                                 `tally simulate --miners 256 --days 30 --seed 1`)
set -eu
cd "$(dirname "$0")/.."
old=$1
log=$2
runs=${3:-5}
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTALLY_BENCH=ON >/dev/null
cmake --build build-bench -j"$(nproc)" --target tally >/dev/null
new=$(pwd)/build-bench/tally
size=$("$new" --dir "$log" verify 2>/dev/null | sed -n 's/.* \([0-9][0-9]*\) records.*/\1/p' | head -1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT INT TERM
echo "machine: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "log: $log ($size records); old: $old; new: $new"
echo "uptime: $(uptime)"
# one run: "cpu_ms wall_ms", and the replay's last two lines must be the other binary's
one() {
    bin=$1
    view=$2
    t0=$(date +%s%N)
    perf stat -e task-clock -x, -o "$out/stat" "$bin" --dir "$log" replay --view "$view" -q \
        >"$out/replay.out" 2>&1
    t1=$(date +%s%N)
    cpu=$(awk -F, '/task-clock/ {printf "%d", $1}' "$out/stat")
    echo "$cpu $(( (t1 - t0) / 1000000 ))"
}
med() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for view in full gated; do
    : >"$out/old" && : >"$out/new"
    for r in $(seq "$runs"); do
        one "$old" "$view" >>"$out/old"
        tail -2 "$out/replay.out" >"$out/old.tail"
        one "$new" "$view" >>"$out/new"
        tail -2 "$out/replay.out" >"$out/new.tail"
        cmp -s "$out/old.tail" "$out/new.tail" || { echo "the two replays differ:"; cat "$out/old.tail" "$out/new.tail"; exit 1; }
    done
    oc=$(cut -d' ' -f1 "$out/old" | med); nc=$(cut -d' ' -f1 "$out/new" | med)
    ow=$(cut -d' ' -f2 "$out/old" | med); nw=$(cut -d' ' -f2 "$out/new" | med)
    echo "$view view, CPU ms per run: old $(cut -d' ' -f1 "$out/old" | tr '\n' ' '); new $(cut -d' ' -f1 "$out/new" | tr '\n' ' ')"
    echo "| $view | old: $oc ms CPU, $ow ms wall, $(( size * 1000 / oc )) records/s per core | new: $nc ms CPU, $nw ms wall, $(( size * 1000 / nc )) records/s per core | new/old CPU $(echo "scale=3; $nc / $oc" | bc) |"
done
echo "(both printed the same state hash and weights hash on every run: $(tail -2 "$out/new.tail" | tr '\n' ' '))"
echo "uptime: $(uptime)"
