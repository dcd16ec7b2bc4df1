#!/bin/sh
# The auditor with one signature thread against the default (0: online cores), in one run,
# interleaved, beside the local gated replay of the same log (the baseline of bench/audit.sh):
# per run, the replay, then `tally audit --once` from GENESIS with TALLY_AUDIT_VERIFY_THREADS=1
# and with the default, each against `tally serve` on a fresh copy of the log and with a fresh
# auditor directory. LOG is a log of bench/audit.sh's simulation (256 miners, seed 1; keep one
# with AUDIT_KEEP=1 bench/audit.sh, then move bench-data/audit/log out of bench-data).
#   bench/audit_threads.sh LOG [runs]   (default 3; scratch in ./bench-data/audit_threads)
set -eu
cd "$(dirname "$0")/.."
log=$(realpath "$1"); runs=${2:-3}
bin=$(pwd)/build-bench/tally
scratch=$(pwd)/bench-data/audit_threads
rm -rf "$scratch" && mkdir -p "$scratch" && cd "$scratch"
pid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    cd / && rm -rf "$scratch"
}
trap cleanup EXIT INT TERM
vkey=$("$bin" --dir "$log" key 2>/dev/null | tail -1)
origin=${vkey%%+*}
now() { date +%s.%N; }
echo "machine: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "uptime: $(uptime)"
for r in $(seq "$runs"); do
    t0=$(now); "$bin" --dir "$log" replay --view gated --quiet >/dev/null 2>&1; t1=$(now)
    line="run $r: replay $(echo "$t1 - $t0" | bc) s;"
    for th in 1 0; do
        rm -rf aprim a serve.out; cp -a "$log" aprim; mkdir a
        "$bin" keygen --out a/auditor.key --sim-validator 0 --sim-seed 1 --sim-miners 256 >/dev/null
        env TALLY_CONFIG=/dev/null TALLY_INGEST_LISTEN=127.0.0.1:0 TALLY_LEDGER_LISTEN=127.0.0.1:0 \
            TALLY_OPS_LISTEN=127.0.0.1:0 TALLY_LOG_ACCESS=0 TALLY_RATE_IP_PER_S=65535 \
            TALLY_RATE_IP_PER_MIN=65535 TALLY_RATE_GLOBAL_PER_S=65535 TALLY_RATE_GLOBAL_PER_MIN=65535 \
            TALLY_RATE_KEY_PER_S=65535 TALLY_RATE_KEY_PER_MIN=65535 \
            "$bin" serve --dir aprim >serve.out 2>serve.err &
        pid=$!
        while ! grep -q '  ops    http' serve.out 2>/dev/null; do sleep 0.1; done
        ledger=$(sed -n 's/^  ledger \(http.*\)/\1/p' serve.out)
        t0=$(now)
        env TALLY_CONFIG=/dev/null TALLY_AUDIT_PRIMARY_URL="$ledger" TALLY_AUDIT_ORIGIN="$origin" \
            TALLY_AUDIT_PRIMARY_KEY="$vkey" TALLY_AUDIT_VERIFY_THREADS=$th \
            "$bin" audit --dir a --once >audit.out 2>audit.err
        t1=$(now)
        kill -TERM $pid; wait $pid || true
        pid=""
        v=$(grep '"event":"round"' audit.err | tail -1 | sed -n 's/.*"verify_ms":\([0-9]*\).*/\1/p')
        line="$line threads=$th audit $(echo "$t1 - $t0" | bc) s (verify $v ms, $(tail -1 audit.out));"
    done
    echo "$line"
done
echo "uptime: $(uptime)"
