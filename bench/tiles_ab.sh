#!/bin/sh
# Tiles and entry bundles, before against after against nginx in one run: `tally serve` of an
# older build (BEFORE, e.g. a release build of main), of build-bench/tally, and an unmodified
# nginx serving `tally tiles export` of the same log, all under taskset -c 1 with one HTTP thread
# (one worker), bench_tiles under taskset -c 0, interleaved point by point. The same setup as
# bench/tiles.sh, which it does not replace; prints each point and the medians.
#   bench/tiles_ab.sh BEFORE [runs] [seconds]   (default 5 runs of 2 s; scratch in
#                                              ./bench-data/tiles_ab)
set -eu
cd "$(dirname "$0")/.."
old=$(realpath "$1"); runs=${2:-5}; secs=${3:-2}
new=$(pwd)/build-bench/tally; bt=$(pwd)/build-bench/bench/bench_tiles
scratch=$(pwd)/bench-data/tiles_ab
rm -rf "$scratch" && mkdir -p "$scratch/nginx" && cd "$scratch"
pid=""; npid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$npid" ] && kill -TERM "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
    cd / && rm -rf "$scratch"
}
trap cleanup EXIT INT TERM
"$new" --dir log simulate --miners 64 --days 7 --seed 1 -q >/dev/null 2>&1
"$new" --dir log tiles export export >/dev/null 2>&1
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >nginx/nginx.conf <<EOC
worker_processes 1; daemon off; pid $PWD/nginx/nginx.pid; error_log $PWD/nginx/error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_timeout 65; keepalive_requests 100000000;
  default_type application/octet-stream; client_body_temp_path $PWD/nginx/body; proxy_temp_path $PWD/nginx/proxy;
  fastcgi_temp_path $PWD/nginx/fcgi; uwsgi_temp_path $PWD/nginx/uwsgi; scgi_temp_path $PWD/nginx/scgi;
  server { listen 127.0.0.1:$nport; root $PWD/export; } }
EOC
taskset -c 1 "$(command -v nginx || echo /usr/sbin/nginx)" -p "$PWD/nginx" -c "$PWD/nginx/nginx.conf" 2>nginx/stderr &
npid=$!
sleep 1
nworker=$(pgrep -P "$npid" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
serve() {
    rm -f serve.out
    env TALLY_CONFIG=/dev/null TALLY_INGEST_LISTEN=127.0.0.1:0 TALLY_LEDGER_LISTEN=127.0.0.1:0 \
        TALLY_OPS_LISTEN=127.0.0.1:0 TALLY_HTTP_THREADS=1 TALLY_LOG_ACCESS=0 \
        TALLY_RATE_IP_PER_S=65535 TALLY_RATE_IP_PER_MIN=65535 \
        TALLY_RATE_GLOBAL_PER_S=65535 TALLY_RATE_GLOBAL_PER_MIN=65535 \
        taskset -c 1 "$1" serve --dir log >serve.out 2>serve.err &
    pid=$!
    while ! grep -q '  ops    http' serve.out 2>/dev/null; do sleep 0.1; done
    tport=$(sed -n 's/^  ledger http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' serve.out)
}
echo "machine: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "uptime: $(uptime)"
: >points
for r in $(seq "$runs"); do
  for k in entries tile; do
    for c in 1 4; do
      line="run $r $k conns $c:"
      for which in old new; do
        b=$old; [ $which = new ] && b=$new
        serve "$b"
        c0=$(ticks $pid)
        t=$(taskset -c 0 "$bt" tally "$tport" $k $c "$secs" 132)
        c1=$(ticks $pid)
        kill -TERM $pid; wait $pid || true
        pid=""
        cpu=$(echo "$t" | awk -v d=$((c1 - c0)) -v hz="$hz" '{printf "%.1f", d / hz * 1e6 / $5}')
        line="$line $which $t ${cpu}us |"
      done
      c0=$(ticks "$nworker")
      t=$(taskset -c 0 "$bt" nginx "$nport" $k $c "$secs" 132)
      c1=$(ticks "$nworker")
      cpu=$(echo "$t" | awk -v d=$((c1 - c0)) -v hz="$hz" '{printf "%.1f", d / hz * 1e6 / $5}')
      echo "$line nginx $t ${cpu}us"
    done
  done
done | tee points
echo "uptime: $(uptime)"
echo "(each point: req/s p50_ms p99_ms failed answered, then the server's CPU per request)"
echo "medians: kind conns server req/s p99_ms CPU_us/req"
awk '{ split($0, parts, "|");
  for (i = 1; i <= 3; i++) { n = split(parts[i], f, " ");
    for (j = 1; j <= n; j++) if (f[j] == "old" || f[j] == "new" || f[j] == "nginx") {
      key = $3 " " $5 " " f[j]; rps[key] = rps[key] " " f[j+1]; p99[key] = p99[key] " " f[j+3];
      sub("us", "", f[j+6]); cpu[key] = cpu[key] " " f[j+6] } } }
function med(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) a[i] += 0;
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return a[int((n + 1) / 2)] }
END { for (k in rps) print k, med(rps[k]), med(p99[k]), med(cpu[k]) }' points | sort
