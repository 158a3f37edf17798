#!/usr/bin/env bash
# Benchmark: `hubcache serve` against nginx serving the same files, side by side, with wrk on
# 127.0.0.1. Not a test. Installs nginx and wrk with apt if they are missing.
#   bench/serve_bench.sh [path/to/hubcache]      (default: build/bin/hubcache)
# Env: BENCH_SECONDS (default 10), BENCH_BIG_MB (default 1024), BENCH_SMALL (default 2000),
#      BENCH_REPS (default 3: alternating runs, medians compared).
# Scenarios: (a) one 1 GiB file, (b) 2,000 small files with 8 connections, (c) HEAD requests,
# (d) 1,000 concurrent keep-alive connections. Reports throughput, request rate, latency
# percentiles, socket errors / non-2xx, and the server's RSS (current and peak).
set -euo pipefail
cd "$(dirname "$0")/.."
HUBCACHE=${1:-build/bin/hubcache}
SECS=${BENCH_SECONDS:-10}
BIG_MB=${BENCH_BIG_MB:-1024}
SMALL=${BENCH_SMALL:-2000}
[ -x "$HUBCACHE" ] || { echo "build hubcache first (cmake + ninja), or pass its path" >&2; exit 2; }
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx-light wrk >/dev/null \
    || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx wrk >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d /tmp/hubcache-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "== building the cache in $WORK (1 file of ${BIG_MB} MiB, ${SMALL} small files)"
python3 - "$WORK" "$BIG_MB" "$SMALL" <<'PY'
import hashlib, os, random, sys
work, big_mb, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
repo = os.path.join(work, "cache", "models--bench--repo")
commit = hashlib.sha1(b"bench").hexdigest()
for d in ("blobs", "refs", "snapshots/" + commit + "/small"):
    os.makedirs(os.path.join(repo, d), exist_ok=True)
open(os.path.join(repo, "refs", "main"), "w").write(commit)
# The big file: LFS, blob named by SHA-256, written and hashed in chunks.
tmp = os.path.join(repo, "blobs", "big.tmp")
h = hashlib.sha256()
chunk = os.urandom(1 << 20)
with open(tmp, "wb") as f:
    for i in range(big_mb):
        block = chunk[i % 64:] + chunk[:i % 64]
        h.update(block); f.write(block)
os.rename(tmp, os.path.join(repo, "blobs", h.hexdigest()))
os.symlink("../../blobs/" + h.hexdigest(), os.path.join(repo, "snapshots", commit, "big.bin"))
rnd = random.Random(1)
paths = []
for i in range(small):
    data = os.urandom(rnd.randint(512, 8192))
    oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    open(os.path.join(repo, "blobs", oid), "wb").write(data)
    name = "small/f%05d.json" % i
    os.symlink("../../../blobs/" + oid, os.path.join(repo, "snapshots", commit, name))
    paths.append(name)
open(os.path.join(work, "paths.txt"), "w").write("\n".join(paths) + "\n")
open(os.path.join(work, "commit.txt"), "w").write(commit)
PY
COMMIT=$(cat "$WORK/commit.txt")
SNAP="$WORK/cache/models--bench--repo/snapshots/$COMMIT"

# wrk scripts: cycle through the small files; HEAD on one file.
mk_cycle() {  # $1 = URL prefix, $2 = output
  { echo "local paths = {"; sed "s|.*|\"$1&\",|" "$WORK/paths.txt"; echo "}"
    cat <<'LUA'
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
  } > "$2"
}
mk_cycle "/bench/repo/resolve/main/" "$WORK/ours_cycle.lua"
mk_cycle "/" "$WORK/nginx_cycle.lua"
printf 'wrk.method = "HEAD"\n' > "$WORK/head.lua"

echo "== starting hubcache serve and nginx"
"$HUBCACHE" serve --cache-dir "$WORK/cache" --port 0 --quiet --max-connections 4096 > "$WORK/url.txt" &
OURS_PID=$!; PIDS+=("$OURS_PID")
for _ in $(seq 100); do [ -s "$WORK/url.txt" ] && break; sleep 0.05; done
OURS=$(head -1 "$WORK/url.txt")
NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx/tmp"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes $(nproc);
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
worker_rlimit_nofile 10000;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  default_type application/octet-stream;
  server { listen 127.0.0.1:$NGINX_PORT; root $SNAP; }
}
CONF
"$NGINX" -c "$WORK/nginx/nginx.conf" &
PIDS+=("$!")
sleep 0.5
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
ulimit -n 65536 2>/dev/null || true

# The LFS file is fetched where clients end up: the redirect target of resolve.
BIG_OURS=$(curl -sI "$OURS/bench/repo/resolve/main/big.bin" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
curl -sf -o /dev/null "$BIG_OURS" && curl -sf -o /dev/null "$NGINX_URL/big.bin" || { echo "servers not answering" >&2; exit 1; }
cmp <(curl -s "$OURS/bench/repo/resolve/main/small/f00007.json") "$SNAP/small/f00007.json"

rss() { awk '/VmRSS|VmHWM/ {printf "%s %s kB  ", $1, $2}' "/proc/$OURS_PID/status"; echo; }
to_mb() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  f = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1/1024 : 1/1048576; printf "%.2f", n * f }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# wrk once; sets RPS, MBPS, P99 (as printed), ERRS (socket errors + non-2xx).
wrk_once() {
  local out; out=$(wrk --latency "$@" 2>&1)
  RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  MBPS=$(to_mb "$(echo "$out" | awk '/Transfer\/sec/ {print $2}')")
  P99=$(echo "$out" | awk '$1=="99%" {print $2}')
  ERRS=$(echo "$out" | awk '/Socket errors/ {s = $4 + $6 + $8 + $10} /Non-2xx/ {s += $NF} END {print s + 0}')
}
# scenario LABEL METRIC(rps|mbps) -- ours args -- nginx args: BENCH_REPS alternating runs, medians.
scenario() {
  local label=$1 metric=$2; shift 2
  local ours=() theirs=(); shift  # the first "--"
  while [ "$1" != "--" ]; do ours+=("$1"); shift; done; shift; theirs=("$@")
  local o=() n=()
  for rep in $(seq "$REPS"); do
    wrk_once "${ours[@]}";   printf '  %-28s run %d: %10s req/s %10s MB/s  p99 %8s  errors %s\n' "hubcache $label" "$rep" "$RPS" "$MBPS" "$P99" "$ERRS"
    [ "$metric" = rps ] && o+=("$RPS") || o+=("$MBPS")
    wrk_once "${theirs[@]}"; printf '  %-28s run %d: %10s req/s %10s MB/s  p99 %8s  errors %s\n' "nginx $label" "$rep" "$RPS" "$MBPS" "$P99" "$ERRS"
    [ "$metric" = rps ] && n+=("$RPS") || n+=("$MBPS")
  done
  local mo mn; mo=$(median "${o[@]}"); mn=$(median "${n[@]}")
  printf '  => %s median %s: hubcache %s, nginx %s, ratio %s\n' "$label" "$metric" "$mo" "$mn" \
    "$(awk -v a="$mo" -v b="$mn" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')"
}
REPS=${BENCH_REPS:-3}
HEAD_BENCH=${HEAD_BENCH:-$(dirname "$HUBCACHE")/../bench/head_bench}
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wrk shares them)"
echo "== RSS of hubcache serve at start: $(rss)"
echo "== (a) ${BIG_MB} MiB file, 4 connections, ${SECS}s x ${REPS}"
scenario "big file" mbps -- -t2 -c4 -d"${SECS}s" --timeout 60s "$BIG_OURS" -- -t2 -c4 -d"${SECS}s" --timeout 60s "$NGINX_URL/big.bin"
echo "   RSS after (a): $(rss)"
echo "== (b) ${SMALL} small files cycled, 8 connections, ${SECS}s x ${REPS}"
scenario "small files" rps -- -t2 -c8 -d"${SECS}s" -s "$WORK/ours_cycle.lua" "$OURS" \
  -- -t2 -c8 -d"${SECS}s" -s "$WORK/nginx_cycle.lua" "$NGINX_URL"
echo "   RSS after (b): $(rss)"
echo "== (c) HEAD, 8 connections, ${SECS}s (bench/head_bench: wrk cannot time HEAD)"
if [ -x "$HEAD_BENCH" ]; then
  for rep in $(seq "$REPS"); do
    echo "  hubcache HEAD regular file  run $rep: $("$HEAD_BENCH" "$OURS/bench/repo/resolve/main/small/f00001.json" 8 "$SECS")"
    echo "  hubcache HEAD LFS file (302) run $rep: $("$HEAD_BENCH" "$OURS/bench/repo/resolve/main/big.bin" 8 "$SECS")"
    echo "  nginx    HEAD                run $rep: $("$HEAD_BENCH" "$NGINX_URL/small/f00001.json" 8 "$SECS")"
  done
else
  echo "  (build bench/head_bench first: ninja -C build head_bench)"
fi
echo "== (d) 1000 concurrent keep-alive connections, small files, ${SECS}s x ${REPS}"
scenario "1000 connections" rps -- -t2 -c1000 -d"${SECS}s" --timeout 10s -s "$WORK/ours_cycle.lua" "$OURS" \
  -- -t2 -c1000 -d"${SECS}s" --timeout 10s -s "$WORK/nginx_cycle.lua" "$NGINX_URL"
echo "   RSS after (d): $(rss)"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
