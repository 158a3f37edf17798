#!/usr/bin/env bash
# Benchmark: `hubcache serve` against nginx serving the same files, side by side, with wrk on
# 127.0.0.1. Not a test. Installs nginx and wrk with apt if they are missing.
#   bench/serve_bench.sh [path/to/hubcache]      (default: build/bin/hubcache)
# Env: BENCH_SECONDS (default 10), BENCH_BIG_MB (default 1024), BENCH_SMALL (default 2000).
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
run() {  # label, wrk args...
  local label=$1; shift
  local out; out=$(wrk --latency "$@" 2>&1)
  local rps tput p50 p99 errs non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  tput=$(echo "$out" | awk '/Transfer\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errs=$(echo "$out" | awk '/Socket errors/ {$1=$2=""; print}' | sed 's/^ *//')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '%-34s req/s %10s  transfer/s %9s  p50 %8s  p99 %8s  errors [%s] non2xx [%s]\n' \
    "$label" "$rps" "$tput" "$p50" "$p99" "${errs:-none}" "${non2xx:-0}"
}

echo "== RSS of hubcache serve at start: $(rss)"
echo "== (a) ${BIG_MB} MiB file, 4 connections, ${SECS}s"
run "hubcache  big file"  -t2 -c4 -d"${SECS}s" "$BIG_OURS"
run "nginx     big file"  -t2 -c4 -d"${SECS}s" "$NGINX_URL/big.bin"
echo "   RSS after (a): $(rss)"
echo "== (b) ${SMALL} small files cycled, 8 connections, ${SECS}s"
run "hubcache  small files" -t2 -c8 -d"${SECS}s" -s "$WORK/ours_cycle.lua" "$OURS"
run "nginx     small files" -t2 -c8 -d"${SECS}s" -s "$WORK/nginx_cycle.lua" "$NGINX_URL"
echo "   RSS after (b): $(rss)"
echo "== (c) HEAD on one file, 8 connections, ${SECS}s"
run "hubcache  HEAD regular file" -t2 -c8 -d"${SECS}s" -s "$WORK/head.lua" "$OURS/bench/repo/resolve/main/small/f00001.json"
run "hubcache  HEAD LFS file (302)" -t2 -c8 -d"${SECS}s" -s "$WORK/head.lua" "$OURS/bench/repo/resolve/main/big.bin"
run "nginx     HEAD" -t2 -c8 -d"${SECS}s" -s "$WORK/head.lua" "$NGINX_URL/small/f00001.json"
echo "== (d) 1000 concurrent keep-alive connections, small files, ${SECS}s"
run "hubcache  1000 connections" -t2 -c1000 -d"${SECS}s" --timeout 10s -s "$WORK/ours_cycle.lua" "$OURS"
run "nginx     1000 connections" -t2 -c1000 -d"${SECS}s" --timeout 10s -s "$WORK/nginx_cycle.lua" "$NGINX_URL"
echo "   RSS after (d): $(rss)"
echo "(HEAD on the LFS file answers 302 by design, so wrk counts it as non-2xx.)"
