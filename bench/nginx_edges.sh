#!/usr/bin/env bash
# Benchmark: the cluster tier deploy/nginx/hubcache-edge.conf ships (three nginx edges in front of
# one `hubcache serve --redirect-all` origin), side by side with the same clients straight from
# the origin. Not a test. Everything runs on 127.0.0.1.
#   bench/nginx_edges.sh [path/to/hubcache]      (default: build/bin/hubcache)
# Env: SIZE_MB (256: the one LFS file, random bytes), CLIENTS (24, spread over the 3 edges),
#      ROUNDS (2: pairs run in turns, direct then edges, medians and the ratio pair by pair).
# Each round is cold: every client downloads `org/bench` (the big file and 4 small ones) into an
# empty cache of its own, at once; on the edge side the three nginx are started afresh on empty
# caches. Timed: from starting the first client to the last one's exit (starting and stopping the
# servers, checking the snapshots and removing them are outside the time, which is why the script
# times its rounds itself instead of timing a whole process per round). Measured per round:
# wall time, aggregate client throughput (clients x snapshot bytes / wall), and the origin's bytes
# for /_blobs/ paths from its access log ("METHOD PATH STATUS BYTES TIMEms"): CLIENTS x the
# snapshot straight, 3 x the snapshot through the edges (each edge fetches each 1 MiB slice once).
# Every client's big file is checked by SHA-256, its small files byte for byte.
# Needs nginx with the slice and auth_request modules (Debian's).
set -euo pipefail
cd "$(dirname "$0")/.."
HUBCACHE=$(realpath -m "${1:-build/bin/hubcache}")
SIZE_MB=${SIZE_MB:-256}
CLIENTS=${CLIENTS:-24}
ROUNDS=${ROUNDS:-2}
EDGES=3
COMMIT=5e1f0c4b2a3d6e7f8091a2b3c4d5e6f708192a3b
CONF=deploy/nginx/hubcache-edge.conf
[ -x "$HUBCACHE" ] || { echo "build first (cmake + ninja: hubcache_cli), or pass the path of hubcache" >&2; exit 2; }
for tool in nginx sha256sum; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (scripts/install-deps.sh installs nginx)" >&2; exit 2; }
done
for mod in slice auth_request; do
  nginx -V 2>&1 | grep -q -- "--with-http_${mod}_module" || { echo "nginx lacks the $mod module" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/hubcache-nginx-edges.XXXXXX)
ORIGIN_PID=
EDGE_PIDS=()
CLIENT_PIDS=()
stop_edges() {
  local p
  for p in "${EDGE_PIDS[@]}"; do kill -QUIT "$p" 2>/dev/null || true; done
  for p in "${EDGE_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  EDGE_PIDS=()
}
cleanup() {
  local p
  for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${CLIENT_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_edges
  if [ -n "$ORIGIN_PID" ]; then kill "$ORIGIN_PID" 2>/dev/null || true; wait "$ORIGIN_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {  # a port nothing listens on, below the ephemeral range (clients' own ports come from there)
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  while :; do
    p=$((low - 12000 + RANDOM % 11000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_port() {  # wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most)
  local _
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# --- the source cache: one LFS file of SIZE_MB MiB and four small files, imported under COMMIT.
echo "== source: ${SIZE_MB} MiB random LFS file + 4 small files; $(nproc) cores (clients, nginx and origin share them); load $(load)"
mkdir -p "$WORK/src"
head -c "$((SIZE_MB * 1048576))" /dev/urandom >"$WORK/src/big.bin"
printf '{"model_type": "bench", "hidden_size": 64}\n' >"$WORK/src/config.json"
printf '{"max_new_tokens": 16}\n' >"$WORK/src/generation_config.json"
awk 'BEGIN { printf "{\"vocab\": {"; for (i = 0; i < 3000; i++) printf "%s\"t%d\": %d", i ? ", " : "", i, i; print "}}" }' >"$WORK/src/tokenizer.json"
printf '# org/bench\nA repo for bench/nginx_edges.sh.\n' >"$WORK/src/README.md"
BIG_SHA=$(sha256sum "$WORK/src/big.bin" | cut -d' ' -f1)
SNAP_BYTES=$(find "$WORK/src" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
"$HUBCACHE" import "$WORK/src" --repo org/bench --commit "$COMMIT" --copy --cache-dir "$WORK/origin-cache" >/dev/null
[ -f "$WORK/origin-cache/models--org--bench/blobs/$BIG_SHA" ] || { echo "import did not store big.bin as an LFS blob" >&2; exit 1; }

# --- the origin (access log on stderr, to a file; its URL is the first line on stdout).
"$HUBCACHE" serve --redirect-all --cache-dir "$WORK/origin-cache" --host 127.0.0.1 --port 0 \
  >"$WORK/origin.out" 2>"$WORK/origin.log" &
ORIGIN_PID=$!
ORIGIN=
for _ in $(seq 200); do ORIGIN=$(head -n1 "$WORK/origin.out" 2>/dev/null || true); [[ $ORIGIN == http://* ]] && break; sleep 0.05; done
[[ $ORIGIN == http://* ]] || { echo "hubcache serve did not start:" >&2; cat "$WORK/origin.log" >&2; exit 1; }
ORIGIN_HOSTPORT=${ORIGIN#http://}

# --- the edges: the shipped server block with only the four CHANGE values replaced (each must be
# found exactly once), inside a minimal main config (one foreground process, files in its folder).
EDGE_PORTS=()
subst() {  # subst FILE FROM TO: replace the one occurrence of FROM (fixed string) in FILE
  local n text
  n=$(grep -c -F -- "$2" "$1" || true)
  [ "$n" = 1 ] || { echo "$CONF holds '$2' $n times, not once: update bench/nginx_edges.sh" >&2; exit 1; }
  text=$(<"$1")
  printf '%s\n' "${text/"$2"/"$3"}" >"$1"
}
start_edges() {  # fresh folders, empty caches and new ports every time
  local i dir port
  EDGE_PORTS=()
  for i in $(seq 0 $((EDGES - 1))); do
    dir=$WORK/edge$i
    port=$(free_port)
    while [[ " ${EDGE_PORTS[*]} " == *" $port "* ]]; do port=$(free_port); done
    EDGE_PORTS+=("$port")
    rm -rf "$dir"
    mkdir -p "$dir/cache" "$dir/tmp"
    cp "$CONF" "$dir/edge.conf"
    subst "$dir/edge.conf" "/var/cache/nginx/hubcache " "$dir/cache "
    subst "$dir/edge.conf" "server 127.0.0.1:8080;" "server $ORIGIN_HOSTPORT;"
    subst "$dir/edge.conf" "listen 8081;" "listen 127.0.0.1:$port;"
    subst "$dir/edge.conf" "proxy_redirect http://127.0.0.1:8080/ " "proxy_redirect http://$ORIGIN_HOSTPORT/ "
    cat >"$dir/nginx.conf" <<NGX
daemon off;
master_process off;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  log_format edge '\$request_method \$uri \$status \$upstream_cache_status \$body_bytes_sent';
  access_log $dir/access.log edge;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  include $dir/edge.conf;
}
NGX
    nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
      || { echo "nginx refused the shipped config:" >&2; cat "$dir/error.log" >&2; exit 1; }
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
    EDGE_PIDS+=($!)
  done
  for i in $(seq 0 $((EDGES - 1))); do
    wait_port "${EDGE_PORTS[$i]}" || { echo "edge $i did not start:" >&2; cat "$WORK/edge$i/error.log" >&2; exit 1; }
  done
}

# origin_blob_bytes OFFSET: bytes the origin sent for /_blobs/ paths in its log after byte OFFSET
origin_blob_bytes() {
  tail -c +"$(($1 + 1))" "$WORK/origin.log" | awk '$2 ~ /^\/_blobs\// && $4 ~ /^[0-9]+$/ { s += $4 } END { printf "%.0f\n", s }'
}

# run_round MODE (direct | edges): CLIENTS cold clients at once; sets WALL and OBYTES
run_round() {
  local mode=$1 run=$WORK/run i url start end off fail=0 p snap
  rm -rf "$run"
  mkdir -p "$run"
  [ "$mode" = edges ] && start_edges
  sleep 0.2
  off=$(stat -c %s "$WORK/origin.log")
  CLIENT_PIDS=()
  start=$(date +%s.%N)
  for i in $(seq 0 $((CLIENTS - 1))); do
    if [ "$mode" = edges ]; then url=http://127.0.0.1:${EDGE_PORTS[$((i % EDGES))]}; else url=$ORIGIN; fi
    env -u HF_TOKEN HF_ENDPOINT="$url" HF_HUB_DISABLE_TELEMETRY=1 HF_HOME="$run/home" \
      "$HUBCACHE" download org/bench --cache-dir "$run/c$i" --quiet >"$run/c$i.out" 2>"$run/c$i.err" &
    CLIENT_PIDS+=($!)
  done
  for p in "${CLIENT_PIDS[@]}"; do wait "$p" || fail=1; done
  end=$(date +%s.%N)
  CLIENT_PIDS=()
  WALL=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  sleep 0.3  # the origin logs a response after its last byte went out
  OBYTES=$(origin_blob_bytes "$off")
  if [ "$mode" = edges ]; then
    HITS=$(cat "$WORK"/edge*/access.log | awk '$2 ~ /^\/_blobs\// { n[$4]++ } END { printf "HIT %d, MISS %d", n["HIT"], n["MISS"] }')
    stop_edges
  fi
  if [ "$fail" != 0 ]; then
    for i in $(seq 0 $((CLIENTS - 1))); do [ -s "$run/c$i.err" ] && { echo "client $i:" >&2; cat "$run/c$i.err" >&2; }; done
    echo "a client failed ($mode)" >&2; exit 1
  fi
  # Check every snapshot: the small files byte for byte, the big one by SHA-256 (two at a time).
  for i in $(seq 0 $((CLIENTS - 1))); do
    snap=$run/c$i/models--org--bench/snapshots/$COMMIT
    for f in config.json generation_config.json tokenizer.json README.md; do
      cmp -s "$snap/$f" "$WORK/src/$f" || { echo "client $i ($mode): $f differs from the source" >&2; exit 1; }
    done
  done
  for i in $(seq 0 $((CLIENTS - 1))); do echo "$run/c$i/models--org--bench/snapshots/$COMMIT/big.bin"; done \
    | xargs -P 2 -n 4 sha256sum | awk -v want="$BIG_SHA" -v n="$CLIENTS" '$1 != want { print "wrong SHA-256: " $2 > "/dev/stderr"; bad = 1 }
                                                                         END { exit bad || NR != n }' \
    || { echo "a client's big.bin is wrong ($mode)" >&2; exit 1; }
  rm -rf "$run"
}

mbps() { awk -v c="$CLIENTS" -v b="$SNAP_BYTES" -v w="$1" 'BEGIN { printf "%.0f", c * b / w / 1e6 }'; }
ratio() { awk -v o="$1" -v b="$SNAP_BYTES" 'BEGIN { printf "%.2f", o / b }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== origin $ORIGIN, $EDGES edges on 127.0.0.1; $CLIENTS clients ($((CLIENTS / EDGES)) per edge), snapshot $SNAP_BYTES bytes"
echo "== $ROUNDS rounds, in turns: A = $CLIENTS clients straight from the origin, B = through the $EDGES edges (cold each time)"
DW=() EW=() RATIOS=() DO=() EO=()
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r: load $(load)"
  run_round direct
  DW+=("$WALL"); DO+=("$OBYTES")
  printf '   A direct: %8.3f s  %6s MB/s aggregate  origin /_blobs/ bytes %13d (%s x snapshot)\n' \
    "$WALL" "$(mbps "$WALL")" "$OBYTES" "$(ratio "$OBYTES")"
  run_round edges
  EW+=("$WALL"); EO+=("$OBYTES")
  RATIOS+=("$(awk -v e="$WALL" -v d="${DW[-1]}" 'BEGIN { printf "%.3f", e / d }')")
  printf '   B edges:  %8.3f s  %6s MB/s aggregate  origin /_blobs/ bytes %13d (%s x snapshot); edge blob requests: %s\n' \
    "$WALL" "$(mbps "$WALL")" "$OBYTES" "$(ratio "$OBYTES")" "$HITS"
done
echo "-- after: load $(load)"

DMED=$(printf '%s\n' "${DW[@]}" | median)
EMED=$(printf '%s\n' "${EW[@]}" | median)
RMED=$(printf '%s\n' "${RATIOS[@]}" | median)
DOMED=$(printf '%s\n' "${DO[@]}" | median)
EOMED=$(printf '%s\n' "${EO[@]}" | median)
echo
echo "== report ($(nproc) cores, all processes on them; $ROUNDS rounds each, medians; every snapshot verified)"
printf '   clients                     %d (%d per edge)\n' "$CLIENTS" "$((CLIENTS / EDGES))"
printf '   snapshot                    %d bytes (%d MiB LFS file + 4 small files)\n' "$SNAP_BYTES" "$SIZE_MB"
printf '   wall, direct                %.3f s   (%s MB/s aggregate)\n' "$DMED" "$(mbps "$DMED")"
printf '   wall, through %d edges       %.3f s   (%s MB/s aggregate)\n' "$EDGES" "$EMED" "$(mbps "$EMED")"
printf '   wall edges/direct           %s (median of the pair-by-pair ratios: %s)\n' "$RMED" "${RATIOS[*]}"
printf '   origin bytes, direct        %.0f (%s x snapshot; expected %d.00)\n' "$DOMED" "$(ratio "$DOMED")" "$CLIENTS"
printf '   origin bytes, edges         %.0f (%s x snapshot; expected %d.00)\n' "$EOMED" "$(ratio "$EOMED")" "$EDGES"
