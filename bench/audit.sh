#!/bin/sh
# The auditor catch-up benchmark, one command: records/s of `tally audit --once` (checkpoint,
# deltas with every header, signature and body checked, reveals, gated replay, verdicts,
# attestations, cosignature) from GENESIS against `tally serve` holding a simulated log over
# loopback, against the baselines of the same run: `tally --dir LOG replay --view gated` of the
# same log, locally, and the same with --signatures (every actor signature checked, as the
# auditor does). The auditor's round log line gives its time by phase. Each audit run gets a fresh copy of the log (its attestations are appended to
# the primary) and a fresh auditor directory; the auditor is validator 0 of the simulation
# (tally keygen --sim-validator 0), bound with a permit and stake in every METAGRAPH.
#   bench/audit.sh [runs] [days]   (default 3 runs, 30 days of 256 miners at 24 markets a day;
#                                   scratch in ./bench-data/audit, on disk)
# AUDIT_SKIP_BUILD=1 skips the build; AUDIT_LOG=DIR uses an existing simulated log (256 miners,
# seed 1; AUDIT_MINERS=N if not 256) instead of simulating one; AUDIT_BIN=PATH runs another tally
# binary (an older build, for a before/after in the same minutes).
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
days=${2:-30}
miners=${AUDIT_MINERS:-256}
if [ "${AUDIT_SKIP_BUILD:-0}" != 1 ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTALLY_BENCH=ON >/dev/null
    cmake --build build-bench -j"$(nproc)" --target tally >/dev/null
fi
bin=${AUDIT_BIN:-$(pwd)/build-bench/tally}
scratch=$(pwd)/bench-data/audit
rm -rf "$scratch" && mkdir -p "$scratch"
pid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ "${AUDIT_KEEP:-0}" = 1 ] || rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

log=${AUDIT_LOG:-$scratch/log}
if [ -z "${AUDIT_LOG:-}" ]; then
    t0=$(date +%s)
    "$bin" --dir "$log" simulate --miners "$miners" --days "$days" --seed 1 -q
    echo "simulated in $(( $(date +%s) - t0 )) s"
fi
size=$("$bin" --dir "$log" verify 2>/dev/null | sed -n 's/.* \([0-9][0-9]*\) records.*/\1/p' | head -1)
vkey=$("$bin" --dir "$log" key 2>/dev/null | tail -1)
origin=${vkey%%+*}
echo "log: tally simulate --miners $miners --days $days --seed 1 ($size records); origin $origin"

start_node() {
    rm -rf "$scratch/primary" "$scratch/serve.out"
    cp -a "$log" "$scratch/primary"
    env TALLY_CONFIG=/dev/null TALLY_INGEST_LISTEN=127.0.0.1:0 TALLY_LEDGER_LISTEN=127.0.0.1:0 \
        TALLY_OPS_LISTEN=127.0.0.1:0 TALLY_LOG_ACCESS="${AUDIT_ACCESS_LOG:-0}" \
        TALLY_RATE_IP_PER_S=65535 TALLY_RATE_IP_PER_MIN=65535 \
        TALLY_RATE_GLOBAL_PER_S=65535 TALLY_RATE_GLOBAL_PER_MIN=65535 \
        TALLY_RATE_KEY_PER_S=65535 TALLY_RATE_KEY_PER_MIN=65535 \
        "$bin" serve --dir "$scratch/primary" >"$scratch/serve.out" 2>"$scratch/serve.err" &
    pid=$!
    i=0
    while ! grep -q '  ops    http' "$scratch/serve.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && { echo "tally serve did not start" >&2; cat "$scratch/serve.err" >&2; exit 1; }
        sleep 0.1
    done
    ledger=$(sed -n 's/^  ledger \(http.*\)/\1/p' "$scratch/serve.out")
}
stop_node() {
    kill -TERM "$pid" && wait "$pid" || true
    pid=""
}
now() { date +%s.%N; }
med() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "machine: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "uptime: $(uptime)"
echo "auditor: TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL=<ledger> TALLY_AUDIT_ORIGIN=$origin TALLY_AUDIT_PRIMARY_KEY=<tally key> tally audit --dir A --once (A/auditor.key from tally keygen --sim-validator 0 --sim-seed 1 --sim-miners $miners); the primary: tally serve, default threads, rate limits 65535"
rt=""
st=""
at=""
: >"$scratch/phases"
for r in $(seq "$runs"); do
    t0=$(now)
    "$bin" --dir "$log" replay --view gated --quiet >"$scratch/replay.out" 2>&1 ||
        { echo "replay failed" >&2; tail -5 "$scratch/replay.out" >&2; exit 1; }
    t1=$(now)
    rs=$(echo "$t1 - $t0" | bc)
    t0=$(now)
    "$bin" --dir "$log" replay --view gated --signatures --quiet >"$scratch/replay.out" 2>&1 ||
        { echo "replay --signatures failed" >&2; tail -5 "$scratch/replay.out" >&2; exit 1; }
    t1=$(now)
    ss=$(echo "$t1 - $t0" | bc)
    start_node
    rm -rf "$scratch/a" && mkdir -p "$scratch/a"
    "$bin" keygen --out "$scratch/a/auditor.key" --sim-validator 0 --sim-seed 1 \
        --sim-miners "$miners" >/dev/null
    t0=$(now)
    set +e
    env TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL="$ledger" TALLY_AUDIT_ORIGIN="$origin" \
        TALLY_AUDIT_PRIMARY_KEY="$vkey" TALLY_LOG_LEVEL="${AUDIT_LOG_LEVEL:-info}" \
        ${AUDIT_WRAP:-} "$bin" audit --dir "$scratch/a" --once >"$scratch/audit.out" 2>"$scratch/audit.err"
    rc=$?
    set -e
    t1=$(now)
    stop_node
    as=$(echo "$t1 - $t0" | bc)
    if [ "$rc" != 0 ]; then
        echo "tally audit --once exited $rc:" >&2
        tail -5 "$scratch/audit.out" "$scratch/audit.err" >&2
        exit 1
    fi
    echo "run $r: replay --view gated $rs s; replay --view gated --signatures $ss s; audit --once $as s ($(tail -2 "$scratch/audit.out" | head -1))"
    round=$(grep '"event":"round"' "$scratch/audit.err" | tail -1)
    echo "  round: $round"
    for f in checkpoint fetch verify replicate reveals check post; do
        echo "$f $(echo "$round" | sed -n "s/.*\"${f}_ms\":\([0-9]*\).*/\1/p")" >>"$scratch/phases"
    done
    rt="$rt $rs"
    st="$st $ss"
    at="$at $as"
done
echo "uptime: $(uptime)"
mr=$(printf '%s\n' $rt | med)
ms=$(printf '%s\n' $st | med)
ma=$(printf '%s\n' $at | med)
echo
echo "median of $runs runs, $size records:"
echo "| what | median s | records/s |"
echo "|---|---|---|"
echo "| tally replay --view gated, local (baseline) | $mr | $(echo "$size / $mr" | bc) |"
echo "| tally replay --view gated --signatures, local (input records' actor signatures too) | $ms | $(echo "$size / $ms" | bc) |"
echo "| tally audit --once over loopback, from GENESIS | $ma | $(echo "$size / $ma" | bc) |"
echo "audit / replay records/s: $(echo "scale=3; $mr / $ma" | bc); audit / replay --signatures: $(echo "scale=3; $ms / $ma" | bc)"
echo "where the auditor's time went (median ms of each phase over the runs, from its round log line):"
for f in checkpoint fetch verify replicate reveals check post; do
    printf '  %s %s ms\n' "$f" "$(awk -v f="$f" '$1 == f {print $2}' "$scratch/phases" | med)"
done
