#!/bin/sh
# The ingest benchmark, one command: signed odds over HTTP through a fresh `tally serve` (release
# build), driven by `tally loadgen` on the same 2-core machine, at 1, 8 and 64 concurrent miners
# and 1, 50 and 66 events (items, three markets each) a request, and 200 items of one market
# (a request holds at most 200 markets), with the baselines of the same run: the Ed25519
# verification ceiling of the machine (every core) and the same items through the node's own
# path without HTTP (bench_ingest store). Then the p99 of a receipt at the global limit of §7.1
# (200 requests/s of 50 items), and the cost of a scoring cycle appended while ingest goes on.
#   bench/ingest.sh [runs] [seconds]   (default 3 runs of the 64 x 50 point, 1 of the others,
#                                       8 s each; scratch data in ./bench-data/ingest, on disk)
# INGEST_SKIP_BUILD=1 skips the build.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
secs=${2:-8}
if [ "${INGEST_SKIP_BUILD:-0}" != 1 ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTALLY_BENCH=ON >/dev/null
    cmake --build build-bench -j"$(nproc)" --target tally bench_ingest >/dev/null
fi
bin=$(pwd)/build-bench/tally
scratch=$(pwd)/bench-data/ingest
rm -rf "$scratch" && mkdir -p "$scratch"

# A fresh node on 127.0.0.1 with ephemeral ports; limits raised so that one client address can
# carry a whole subnet's miners (the per-IP, global and per-key windows, the first two at their
# largest setting, 65,535), unless $1 = default (the §7.1 global window; per-IP raised).
start_node() {
    dir=$scratch/node
    rm -rf "$dir" && "$bin" init --dir "$dir" >/dev/null
    if [ "${1:-}" = default ]; then
        env TALLY_INGEST_LISTEN=127.0.0.1:0 TALLY_LEDGER_LISTEN=127.0.0.1:0 \
            TALLY_OPS_LISTEN=127.0.0.1:0 TALLY_RATE_IP_PER_S=1000 TALLY_RATE_IP_PER_MIN=60000 \
            TALLY_LOG_LEVEL=debug TALLY_CONFIG=/dev/null \
            "$bin" serve --dir "$dir" >"$scratch/serve.out" 2>"$scratch/serve.err" &
    else
        env TALLY_INGEST_LISTEN=127.0.0.1:0 TALLY_LEDGER_LISTEN=127.0.0.1:0 \
            TALLY_OPS_LISTEN=127.0.0.1:0 TALLY_RATE_IP_PER_S=65535 TALLY_RATE_IP_PER_MIN=65535 \
            TALLY_RATE_GLOBAL_PER_S=65535 TALLY_RATE_GLOBAL_PER_MIN=65535 \
            TALLY_RATE_KEY_PER_S=1000 TALLY_RATE_KEY_PER_MIN=60000 TALLY_LOG_LEVEL=debug \
            TALLY_CONFIG=/dev/null \
            "$bin" serve --dir "$dir" >"$scratch/serve.out" 2>"$scratch/serve.err" &
    fi
    pid=$!
    i=0
    while ! grep -q '  ops    http' "$scratch/serve.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 300 ] && { echo "tally serve did not start" >&2; exit 1; }
        sleep 0.1
    done
    ingest=$(sed -n 's/^  ingest \(http.*\)/\1/p' "$scratch/serve.out")
    ops=$(sed -n 's/^  ops    \(http.*\)/\1/p' "$scratch/serve.out")
}

stop_node() {
    kill -TERM "$pid" && wait "$pid" || true
}

# loadgen ARGS... → its JSON summary in $scratch/lg.json; prints items/s p50 p99 max
loadgen() {
    "$bin" loadgen --ingest "$ingest" --ops "$ops" --admin-token-file "$scratch/node/admin.token" \
        --quiet --out "$scratch/lg.json" "$@" >/dev/null
    python3 - "$scratch/lg.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l, c = r["latency_ms"], r["receipts"]
print("%.0f %.2f %.2f %.2f %d %d" % (r["items_per_s"], l["p50"], l["p99"], l["max"],
      c["verified"], c["failed"]))
PY
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

build-bench/bench/bench_ingest verify 3 2 | sed 's/^/baseline /'
build-bench/bench/bench_ingest store "$scratch" "$runs" "$secs" 64 50 | sed 's/^/baseline /'
build-bench/bench/bench_ingest store "$scratch" 1 "$secs" 8 50 | sed 's/^/baseline /'

echo
echo "HTTP (tally serve + tally loadgen, same machine), $secs s each:"
echo "miners batch runs  items/s(median)  p50_ms  p99_ms  max_ms  receipts_ok  receipts_bad"
for m in 1 8 64; do
    c=$m
    [ "$c" -gt 16 ] && c=16
    for b in 1 50 66 200; do
        mk=3
        [ "$b" = 200 ] && mk=1
        n=1
        [ "$m" = 64 ] && [ "$b" = 50 ] && n=$runs
        rates=""
        last=""
        k=0
        while [ $k -lt "$n" ]; do
            start_node
            last=$(loadgen --miners "$m" --concurrency "$c" --batch "$b" --markets "$mk" \
                --seconds "$secs" --seed $((k + 1)))
            stop_node
            rates="$rates $(echo "$last" | cut -d' ' -f1)"
            k=$((k + 1))
        done
        med=$(printf '%s\n' $rates | median)
        set -- $last
        printf '%6s %5s %4s  %15s  %6s  %6s  %6s  %11s  %12s\n' "$m" "$b" "$n" "$med" "$2" "$3" \
            "$4" "$5" "$6"
    done
done

echo
echo "p99 at the global limit of §7.1 (200 requests/s of 50 items, 64 miners), default global"
echo "window, $secs s:"
start_node default
loadgen --miners 64 --concurrency 16 --batch 50 --rate 200 --seconds "$secs" |
    awk '{printf "  items/s %s, p50 %s ms, p99 %s ms, max %s ms, receipts ok %s, bad %s\n", $1, $2, $3, $4, $5, $6}'
stop_node

echo
echo "cycle cost while ingesting (64 miners x 4 items at 100 requests/s for 20 s; a cycle asked"
echo "after 10 s): receipt latency with the cycle, against the same load without one"
start_node
loadgen --miners 64 --concurrency 16 --batch 4 --rate 100 --seconds 20 |
    awk '{printf "  without a cycle: p50 %s ms, p99 %s ms, max %s ms\n", $2, $3, $4}'
stop_node
start_node
token=$(cat "$scratch/node/admin.token")
( sleep 10 && python3 - "$ops" "$token" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/admin/v1/cycle", data=b"{}", method="POST",
    headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=30).read()
PY
) &
loadgen --miners 64 --concurrency 16 --batch 4 --rate 100 --seconds 20 |
    awk '{printf "  with a cycle:    p50 %s ms, p99 %s ms, max %s ms\n", $2, $3, $4}'
wait $! 2>/dev/null || true
stop_node
grep '"cycle_appended"' "$scratch/serve.err" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("  the cycle: %d records appended in one transaction, %d ms to compute and append" % (r["records"], r["ms"]))'
grep '"event":"commit"' "$scratch/serve.err" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
big = max(rows, key=lambda r: r["records"]) if rows else None
if big:
    print("  the largest commit of that run: %d records in %d ms (the writer holds ingest for one commit)" % (big["records"], big["ms"]))'
rm -rf "$scratch"
