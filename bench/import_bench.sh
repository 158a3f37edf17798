#!/usr/bin/env bash
# Measures `hubcache import` on a generated folder (run by hand, never by ctest).
#   bench/import_bench.sh [path/to/hubcache] [MiB of weights, default 1024] [runs, default 3]
# Prints the median wall time of each step and its throughput, next to cp / sha256sum baselines.
# The page cache is warm (the folder was just written), so the figures are CPU/memory bound.
set -euo pipefail
bin=${1:-build/bin/hubcache}
mib=${2:-1024}
runs=${3:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/hubcache-import-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/src
mkdir -p "$src/sub"
shards=8
per=$(( mib / shards ))
for i in $(seq 1 $shards); do head -c $(( per * 1048576 )) /dev/urandom > "$src/model-0000$i-of-0000$shards.safetensors"; done
for i in $(seq 1 500); do printf '{"i": %d, "pad": "%0200d"}\n' "$i" 0 > "$src/sub/f$i.json"; done
bytes=$(du -sb "$src" | cut -f1)
echo "folder: $shards x ${per} MiB safetensors + 500 small json = $bytes bytes"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() {  # timeit <label> <setup command> <command...>: median seconds over $runs
  local label=$1 setup=$2; shift 2
  local ts=()
  for _ in $(seq 1 "$runs"); do
    eval "$setup"
    local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
    ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
  done
  local m; m=$(printf '%s\n' "${ts[@]}" | median)
  printf '%-34s %8.3f s  %8.0f MB/s\n' "$label" "$m" "$(awk -v b="$bytes" -v m="$m" 'BEGIN {print b / m / 1000000}')"
}
cache=$work/cache
timeit "sha256sum (baseline)" ":" sh -c "sha256sum '$src'/*.safetensors '$src'/sub/*"
timeit "cp -r (baseline)" "rm -rf '$work/cp'" cp -r "$src" "$work/cp"
rm -rf "$work/cp"
timeit "hubcache import --dry-run" ":" "$bin" import "$src" --repo b/dry --cache-dir "$cache" --dry-run
timeit "hubcache import --copy" "rm -rf '$cache'" "$bin" import "$src" --repo b/copy --cache-dir "$cache" --copy
timeit "hubcache import --link" "rm -rf '$cache'" "$bin" import "$src" --repo b/link --cache-dir "$cache" --link
timeit "hubcache import --link (re-run)" ":" "$bin" import "$src" --repo b/link --cache-dir "$cache" --link
