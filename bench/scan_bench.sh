#!/usr/bin/env bash
# Cache listing speed: `hubcache cache ls --json` vs @huggingface/hub's scanCacheDir (whole
# processes, median of RUNS) on a synthetic 1000 repos x 2 revisions x 50 files cache, and the
# whole-process latency of `hubcache resolve ORG/NAME FILE` on a cached file.
#   bench/scan_bench.sh [BUILD_DIR=build] [RUNS=11]
# On a machine shared with other work, `nice -n -20 bench/scan_bench.sh` (root) gets closer to
# idle-machine figures; the script prints the load average either way.
# Needs: a built tree (ninja -C BUILD_DIR), node + tests/interop/node_modules for the JS side
# (skipped otherwise), optionally hyperfine (apt install hyperfine) as a cross-check.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-11}
bin=$build/bin/hubcache
gen=$build/bench/hubcache_gen_cache
timeit=$build/bench/hubcache_timeit
for f in "$bin" "$gen" "$timeit"; do
  [ -x "$f" ] || { echo "missing $f: build first (ninja -C $build)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/hubcache-scan-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
cache=$work/hub
"$gen" "$cache" --repos 1000 --revisions 2 --files 50 --changed 10
sync  # no writeback of the fresh cache during the timings
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "hubcache: $("$bin" cache ls --cache-dir "$cache" | tail -n 1)"

echo
echo "== hubcache cache ls --json (whole process, page cache warm)"
"$timeit" "$runs" 2 -- "$bin" cache ls --json --cache-dir "$cache"
echo "== hubcache cache ls --json, one thread (taskset -c 0)"
"$timeit" "$runs" 2 -- taskset -c 0 "$bin" cache ls --json --cache-dir "$cache"
if [ -x /usr/bin/time ]; then
  echo "== CPU time of one hubcache cache ls --json (user + sys, less sensitive to other load), 5 runs"
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f "   wall %e s, user %U s, sys %S s" "$bin" cache ls --json --cache-dir "$cache" 2>&1 >/dev/null
  done
fi

if command -v node >/dev/null && [ -d tests/interop/node_modules/@huggingface/hub ]; then
  echo "== JS scanCacheDir (@huggingface/hub $(node -p "require('./tests/interop/node_modules/@huggingface/hub/package.json').version"), whole node process)"
  echo "   $(node bench/js_scan.mjs "$cache")"
  "$timeit" "$runs" 1 -- node bench/js_scan.mjs "$cache"
  echo "== JS scanCacheDir, in-process time only (3 runs)"
  for _ in 1 2 3; do node bench/js_scan.mjs "$cache" --in-process | sed 's/^/   /'; done
  echo "== node startup alone (for reference)"
  "$timeit" "$runs" 1 -- node -e 0
else
  echo "== JS scanCacheDir: skipped (node or tests/interop/node_modules missing)"
fi

echo
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== hubcache resolve ORG/NAME FILE on a cached file (whole process)"
"$timeit" 201 10 -- "$bin" resolve bench-org/model-500 model-7.safetensors --cache-dir "$cache"
echo "   -> $("$bin" resolve bench-org/model-500 model-7.safetensors --cache-dir "$cache")"
if command -v hyperfine >/dev/null; then
  echo "== hyperfine cross-check"
  hyperfine -N --warmup 10 --runs 200 --style basic \
    "$bin resolve bench-org/model-500 model-7.safetensors --cache-dir $cache" 2>/dev/null | sed -n '1,4p'
  hyperfine -N --warmup 2 --runs "$runs" --style basic "$bin cache ls --json --cache-dir $cache" 2>/dev/null | sed -n '1,4p'
fi
