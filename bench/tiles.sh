#!/bin/sh
# The tile benchmark, one command: full hash tiles and entry bundles of one simulated log served
# by `tally serve` (one HTTP thread) and by an unmodified nginx (Debian's, one worker) serving
# `tally tiles export` of the same log, both pinned to core 1 (taskset -c 1), loaded from core 0
# by bench_tiles over keep-alive connections on 127.0.0.1 (1 and 4 connections).
#   bench/tiles.sh [runs] [seconds]   (default 3 runs of 3 s per point; scratch in
#                                      ./bench-data/tiles, on disk)
# TILES_SKIP_BUILD=1 skips the build. Needs nginx (apt-get install nginx-light).
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
secs=${2:-3}
if [ "${TILES_SKIP_BUILD:-0}" != 1 ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTALLY_BENCH=ON >/dev/null
    cmake --build build-bench -j"$(nproc)" --target tally bench_tiles >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx_bin" ]; then
    echo "nginx is not installed (apt-get install nginx-light): tile benchmark skipped"
    exit 0
fi
bin=$(pwd)/build-bench/tally
scratch=$(pwd)/bench-data/tiles
rm -rf "$scratch" && mkdir -p "$scratch/nginx"
pid=""
npid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$npid" ] && kill -TERM "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
    rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

"$bin" --dir "$scratch/log" simulate --miners 64 --days 7 --seed 1 -q
size=$("$bin" --dir "$scratch/log" tiles export "$scratch/export" 2>/dev/null |
    sed -n 's/^exported tree size \([0-9]*\) .*/\1/p')
full=$((size / 256))
echo "log: tally simulate --miners 64 --days 7 --seed 1: $size records, $full full tiles; exported with tally tiles export"

nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$scratch/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $scratch/nginx/nginx.pid;
error_log $scratch/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    default_type application/octet-stream;
    client_body_temp_path $scratch/nginx/body;
    proxy_temp_path $scratch/nginx/proxy;
    fastcgi_temp_path $scratch/nginx/fastcgi;
    uwsgi_temp_path $scratch/nginx/uwsgi;
    scgi_temp_path $scratch/nginx/scgi;
    server {
        listen 127.0.0.1:$nport;
        root $scratch/export;
    }
}
EOF
taskset -c 1 "$nginx_bin" -p "$scratch/nginx" -c "$scratch/nginx/nginx.conf" \
    2>"$scratch/nginx/stderr" &
npid=$!

# Limits raised to their largest setting (loopback is exempt by default, but the global window
# applies to every request: at most 65,535 a minute, so tally is started afresh for each point
# and a point stops at 60,000 requests); the access log at debug, as nginx's is off.
start_tally() {
    rm -f "$scratch/serve.out"
    env TALLY_CONFIG=/dev/null TALLY_INGEST_LISTEN=127.0.0.1:0 TALLY_LEDGER_LISTEN=127.0.0.1:0 \
        TALLY_OPS_LISTEN=127.0.0.1:0 TALLY_HTTP_THREADS=1 TALLY_LOG_ACCESS=0 \
        TALLY_RATE_IP_PER_S=65535 TALLY_RATE_IP_PER_MIN=65535 \
        TALLY_RATE_GLOBAL_PER_S=65535 TALLY_RATE_GLOBAL_PER_MIN=65535 \
        taskset -c 1 "$bin" serve --dir "$scratch/log" >"$scratch/serve.out" 2>"$scratch/serve.err" &
    pid=$!
    i=0
    while ! grep -q '  ops    http' "$scratch/serve.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 300 ] && { echo "tally serve did not start" >&2; cat "$scratch/serve.err" >&2; exit 1; }
        sleep 0.1
    done
    tport=$(sed -n 's/^  ledger http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$scratch/serve.out")
    [ -n "$tport" ] || { echo "no ledger port in serve.out" >&2; exit 1; }
}
stop_tally() {
    kill -TERM "$pid" && wait "$pid" || true
    pid=""
}
i=0
while ! curl -sf -o /dev/null "http://127.0.0.1:$nport/checkpoint"; do
    i=$((i + 1))
    [ $i -gt 300 ] && { echo "nginx did not start" >&2; cat "$scratch/nginx/stderr" >&2; exit 1; }
    sleep 0.1
done
start_tally
# Both must serve the same bytes.
for p in tile/0/000 tile/entries/001; do
    curl -sf "http://127.0.0.1:$tport/log/$p" | cmp -s - "$scratch/export/$p" ||
        { echo "tally serve and the export differ at $p" >&2; exit 1; }
    curl -sf "http://127.0.0.1:$nport/$p" | cmp -s - "$scratch/export/$p" ||
        { echo "nginx does not serve the export at $p" >&2; exit 1; }
done
stop_tally
echo "machine: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "servers: $("$nginx_bin" -v 2>&1), worker_processes 1, access_log off, sendfile on; tally serve TALLY_HTTP_THREADS=1, TALLY_LOG_ACCESS=0, rate limits 65535, a fresh process per point; both under taskset -c 1, the client (bench_tiles) under taskset -c 0"
echo "load: $runs runs; per run, per kind and connection count: tally then nginx, $secs s each (or 60,000 requests); keep-alive, no Accept-Encoding (both send the stored bytes)"
echo "uptime: $(uptime)"
# CPU ticks (user + system, every thread) a process has used: /proc/PID/stat fields 14 and 15.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
nworker=$(pgrep -P "$npid" | head -1)
out=$scratch/points
: >"$out"
for r in $(seq "$runs"); do
    for k in tile entries; do
        for c in 1 4; do
            start_tally
            c0=$(ticks "$pid")
            t=$(taskset -c 0 build-bench/bench/bench_tiles tally "$tport" "$k" "$c" "$secs" "$full")
            c1=$(ticks "$pid")
            stop_tally
            # the server's CPU per request: what one core of it can serve whatever else runs
            tc=$(echo "$t" | awk -v d=$((c1 - c0)) -v hz="$hz" '{printf "%.1f", d / hz * 1e6 / $5}')
            c0=$(ticks "$nworker")
            n=$(taskset -c 0 build-bench/bench/bench_tiles nginx "$nport" "$k" "$c" "$secs" "$full")
            c1=$(ticks "$nworker")
            nc=$(echo "$n" | awk -v d=$((c1 - c0)) -v hz="$hz" '{printf "%.1f", d / hz * 1e6 / $5}')
            echo "run $r $k conns $c: tally $t ${tc}us | nginx $n ${nc}us   (req/s p50_ms p99_ms failed ok server-CPU-per-request)"
            echo "$k $c $t $tc $n $nc" >>"$out"
        done
    done
done
echo "uptime: $(uptime)"
echo
echo "median of $runs runs (each column's own median):"
echo "| kind | conns | tally req/s | tally p50 ms | tally p99 ms | tally CPU µs/req | nginx req/s | nginx p50 ms | nginx p99 ms | nginx CPU µs/req | tally / nginx req/s | the same, median of each run's pair | tally / nginx req per CPU-s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
med() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for k in tile entries; do
    for c in 1 4; do
        row=""
        for col in 3 4 5 8 9 10 11 14; do
            row="$row $(awk -v k="$k" -v c="$c" -v f="$col" '$1 == k && $2 == c {print $f}' "$out" | med)"
        done
        set -- $row
        label="hash tile 0/N (8 KiB)"
        [ "$k" = entries ] && label="entry bundle entries/N"
        pair=$(awk -v k="$k" -v c="$c" '$1 == k && $2 == c {printf "%.3f\n", $3 / $9}' "$out" | med)
        echo "| $label | $c | $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 | $(awk -v a="$1" -v b="$5" 'BEGIN {printf "%.2f", a / b}') | $pair | $(awk -v a="$4" -v b="$8" 'BEGIN {printf "%.2f", b / a}') |"
    done
done
