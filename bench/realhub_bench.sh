#!/usr/bin/env bash
# Benchmark: downloads from the test Hub in real-Hub mode (`bench_download serve-real`: signed
# CDN URLs on a second port, relative 307s for small files, per-request latency and a
# per-connection rate cap), side by side in one run. Not a test.
#   bench/realhub_bench.sh [path/to/hubcache] [path/to/bench_download]
#     (defaults: build/bin/hubcache, build/bench/bench_download)
# Env: BENCH_REPS (3), BENCH_OLD_WORKERS (8), BENCH_BIG_MB (1024), BENCH_SMALL (2001), BENCH_LATENCY_MS (30),
#      BENCH_RATE_MB (50, MB/s per connection, 0 = unlimited), HUBCACHE_OLD_BIN (an
#      earlier hubcache binary timed in the same rounds, for a before/after figure; (b) then
#      also runs `--max-workers BENCH_OLD_WORKERS` (8: the old default), the old binary's
#      concurrency, so peak RSS compares at equal concurrency too).
# (a) bench/big: `hubcache download` vs `aria2c -x16 -s16 -k1M` of the same resolve URL (it
#     follows the 302 to the CDN) [vs HUBCACHE_OLD_BIN]; (b) bench/small: `hubcache download`
#     with default flags and with --max-workers 32; (c) fsync count (strace -c) and system time
#     (/usr/bin/time -v) of (b). Rounds alternate A B A B, each into a fresh directory; medians
#     of wall time (/usr/bin/time) are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
HUBCACHE=$(realpath "${1:-build/bin/hubcache}")
BENCH=$(realpath "${2:-build/bench/bench_download}")
REPS=${BENCH_REPS:-3}
BIG_MB=${BENCH_BIG_MB:-1024}
SMALL=${BENCH_SMALL:-2001}
LATENCY=${BENCH_LATENCY_MS:-30}
RATE=${BENCH_RATE_MB:-50}
OLD=${HUBCACHE_OLD_BIN:-}
OLD_WORKERS=${BENCH_OLD_WORKERS:-8}
[ -x "$HUBCACHE" ] && [ -x "$BENCH" ] || { echo "build first (cmake + ninja: hubcache_cli bench_download), or pass the paths" >&2; exit 2; }
[ -z "$OLD" ] || [ -x "$OLD" ] || { echo "HUBCACHE_OLD_BIN=$OLD is not executable" >&2; exit 2; }
need() {  # need COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null && return
  echo "== installing $2 (apt)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >/dev/null
}
need aria2c aria2
need strace strace
[ -x /usr/bin/time ] || need /usr/bin/time time

WORK=$(mktemp -d /tmp/hubcache-realhub-bench.XXXXXX)
SERVER_PID=
cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT

"$BENCH" serve-real --latency-ms "$LATENCY" --rate-mb "$RATE" --big-mb "$BIG_MB" --small "$SMALL" \
  --port-file "$WORK/endpoint" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 600); do [ -s "$WORK/endpoint" ] && break; kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
[ -s "$WORK/endpoint" ] || { cat "$WORK/serve.log" >&2; echo "serve-real did not start" >&2; exit 1; }
export HF_ENDPOINT=$(cat "$WORK/endpoint")
export HF_HOME=$WORK/hf_home HF_HUB_DISABLE_PROGRESS_BARS=1
unset HF_TOKEN HF_HUB_OFFLINE HF_HUB_CACHE 2>/dev/null || true
head -n1 "$WORK/serve.log"
echo "== $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# timed NAME CMD...: runs CMD under /usr/bin/time, appends the wall seconds to $WORK/NAME.times
# and the peak RSS (MiB) to $WORK/NAME-rss.times.
timed() {
  local name=$1; shift
  if ! /usr/bin/time -f "%e %U %S %M" -o "$WORK/last.time" "$@" >"$WORK/last.out" 2>&1; then
    echo "  $name FAILED: $*" >&2; tail -n 5 "$WORK/last.out" >&2; return 1
  fi
  sync  # outside the time: no run pays for the writeback of the one before (aria2c does not flush)
  read -r wall user sys rss_kb <"$WORK/last.time"
  echo "$wall" >>"$WORK/$name.times"
  awk -v k="$rss_kb" 'BEGIN {printf "%.1f\n", k / 1024}' >>"$WORK/$name-rss.times"
  printf '  %-22s %8.2f s wall  (user %.2f s, sys %.2f s, peak RSS %.1f MiB)\n' "$name" "$wall" "$user" "$sys" "$(tail -n1 "$WORK/$name-rss.times")"
}
median() { sort -g "$WORK/$1.times" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

BIG_URL=$HF_ENDPOINT/bench/big/resolve/main/big.bin
echo "== (a) bench/big: ${BIG_MB} MiB LFS, ${LATENCY} ms latency, ${RATE} MB/s per connection, $REPS rounds"
for i in $(seq "$REPS"); do
  timed hubcache "$HUBCACHE" download bench/big --cache-dir "$WORK/a-new-$i" -q
  timed aria2c aria2c -x16 -s16 -k1M --quiet=true --allow-overwrite=true --file-allocation=none \
    -d "$WORK/a-aria-$i" -o big.bin "$BIG_URL"
  [ -z "$OLD" ] || timed hubcache-old "$OLD" download bench/big --cache-dir "$WORK/a-old-$i" -q
  if [ "$i" = 1 ]; then  # the same bytes, once
    blob=$(basename "$(readlink -f "$WORK/a-new-1/models--bench--big/snapshots/"*/big.bin)")
    aria=$(sha256sum "$WORK/a-aria-1/big.bin" | cut -d' ' -f1)
    [ "$blob" = "$aria" ] && echo "  (round 1: hubcache blob and aria2c file have the same sha256)" \
      || { echo "  sha256 differs: hubcache $blob, aria2c $aria" >&2; exit 1; }
  fi
  rm -rf "$WORK/a-new-$i" "$WORK/a-aria-$i" "$WORK/a-old-$i"
done
echo "  median: hubcache $(median hubcache) s, aria2c $(median aria2c) s$([ -z "$OLD" ] || echo ", hubcache-old $(median hubcache-old) s")"
echo "  peak RSS (median): hubcache $(median hubcache-rss) MiB, aria2c $(median aria2c-rss) MiB$([ -z "$OLD" ] || echo ", hubcache-old $(median hubcache-old-rss) MiB")"

echo "== (b) bench/small: $SMALL files, $REPS rounds"
WIDE=
"$HUBCACHE" download --help 2>&1 | grep -q -- --max-workers && WIDE=1
for i in $(seq "$REPS"); do
  timed small-default "$HUBCACHE" download bench/small --cache-dir "$WORK/b-def-$i" -q
  [ -z "$WIDE" ] || timed small-workers32 "$HUBCACHE" download bench/small --max-workers 32 --cache-dir "$WORK/b-w32-$i" -q
  if [ -n "$OLD" ]; then
    [ -z "$WIDE" ] || timed small-workers-old "$HUBCACHE" download bench/small --max-workers "$OLD_WORKERS" --cache-dir "$WORK/b-wo-$i" -q
    timed small-old "$OLD" download bench/small --cache-dir "$WORK/b-old-$i" -q
  fi
done
echo "  median: default $(median small-default) s$([ -z "$WIDE" ] || echo ", --max-workers 32 $(median small-workers32) s")$([ -z "$OLD" ] || echo ", hubcache-old $(median small-old) s")"
echo "  peak RSS (median): default $(median small-default-rss) MiB$([ -z "$WIDE" ] || echo ", --max-workers 32 $(median small-workers32-rss) MiB")$([ -z "$OLD" ] || echo "$([ -z "$WIDE" ] || echo ", --max-workers $OLD_WORKERS $(median small-workers-old-rss) MiB ($(median small-workers-old) s)"), hubcache-old $(median small-old-rss) MiB")"

echo "== (c) bench/small, one run each: fsync calls (strace -f -c) and /usr/bin/time -v"
strace -f -c -e trace=fsync,fdatasync -o "$WORK/strace.txt" "$HUBCACHE" download bench/small --cache-dir "$WORK/c-strace" -q >/dev/null
grep -E 'calls|fsync|fdatasync|total' "$WORK/strace.txt" | sed 's/^/  /'
/usr/bin/time -v "$HUBCACHE" download bench/small --cache-dir "$WORK/c-time" -q 2>"$WORK/timev.txt" >/dev/null
grep -E 'Elapsed|System time|User time|Maximum resident|context switches|File system outputs' "$WORK/timev.txt" | sed 's/^\s*/  /'
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
