#!/bin/sh
# Every benchmark, one command: builds a release tally, then prints each result table with the
# machine, the median of N runs, and the baseline measured in the same run.
#   bench/run.sh [runs] [all|replay|ingest|flood]   (default 5 runs, every section; scratch data goes
#                                             to ./bench-data, on disk; the flood runs
#                                             FLOOD_RUNS times, default 1: ~2 minutes a run)
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
only=${2:-all}
scratch=$(pwd)/bench-data
rm -rf "$scratch" && mkdir -p "$scratch"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTALLY_BENCH=ON >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
# tiles, verify and audit (the read path, issue 11) are the section at the end; alone, only it runs.
case "$only" in tiles | verify | audit)
    READ_PATH_SKIP_BUILD=1 exec bench/read_path.sh "$runs" "$only" ;;
esac

if [ "$only" = all ]; then
echo "## durable appends"
./build-bench/bench/bench_append "$scratch" "$runs" 1.0

echo
echo "## simulate (256 miners, 30 days, 24 markets a day), $runs runs"
rates=""
for i in $(seq "$runs"); do
    rm -rf "$scratch/sim"
    r=$(./build-bench/tally --dir "$scratch/sim" simulate --miners 256 --days 30 -q |
        sed -n 's/.*(\([0-9]*\) records\/s).*/\1/p')
    rates="$rates $r"
done
echo "records/s per run:$rates"
echo "median: $(printf '%s\n' $rates | sort -n | sed -n "$(( (runs + 1) / 2 ))p") records/s"
echo "(simulate signs every odds submission with its miner's key, the writer verifies it, and the"
echo " node scores every daily cycle and appends its derived records)"

echo
./build-bench/bench/bench_scan "$scratch/sim" "$scratch" "$runs"

fi

if [ "$only" != flood ] && [ "$only" != ingest ]; then
echo
echo "## replay to weights, full and gated views (256 miners, 30 days, 72 markets a day)"
./build-bench/tally --dir "$scratch/big" simulate --miners 256 --days 30 --markets-per-day 72 -q
./build-bench/bench/bench_replay "$scratch/big" "$runs"
fi

if [ "$only" = all ]; then
echo
echo "## engine/fx against libm"
./build-bench/bench/bench_fx "$runs"
fi

if [ "$only" = all ] || [ "$only" = ingest ]; then
echo
echo "## signed ingest over HTTP (tally serve + tally loadgen) and its baselines"
INGEST_SKIP_BUILD=1 bench/ingest.sh "${INGEST_RUNS:-3}" "${INGEST_SECONDS:-8}"
fi
if [ "$only" = all ] || [ "$only" = flood ]; then
echo
echo "## flood at 10 x the global limit from 100 IPs"
FLOOD_SKIP_BUILD=1 bench/flood.sh "${FLOOD_RUNS:-1}"
fi
rm -rf "$scratch"

# The read path (issue 11): tile and bundle serving against nginx, checkpoint and proof
# verification, auditor catch-up (bench/read_path.sh; also `bench/run.sh [runs] tiles|verify|audit`).
if [ "$only" = all ]; then
echo
READ_PATH_SKIP_BUILD=1 bench/read_path.sh "$runs" all
fi
