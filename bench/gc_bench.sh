#!/bin/sh
# `hubcache cache gc --max-size ... --dry-run` on the synthetic 1,000-repo cache (1000 repos x 2
# revisions x 50 files, sparse blobs), every revision with a use record of a random age, against
# `hubcache cache ls --json` (the scan alone, without files) as the yardstick. Goal: gc ≤ 0.5 s.
# usage: bench/gc_bench.sh [BUILD_DIR]   (default build); times with bench/ab.sh (A B A B, medians)
set -eu
build=${1:-build}
ab=$(dirname "$0")/ab.sh
cache=${TMPDIR:-/tmp}/hubcache-gc-bench/hub
hubcache=$(realpath "$build/bin/hubcache")
if [ ! -d "$cache" ]; then
  "$build/bench/hubcache_gen_cache" "$cache" --repos 1000 --revisions 2 --files 50 --changed 10
  i=0
  for snap in "$cache"/*/snapshots/*; do
    repo=${snap%/snapshots/*}
    mkdir -p "$repo/.hubcache/used"
    touch -d "@$(( $(date +%s) - (i * 7919 % 31536000) ))" "$repo/.hubcache/used/${snap##*/}"
    i=$((i + 1))
  done
  sync
fi
# The same kernel caches for every run: after a test suite the dentry cache holds hundreds of
# thousands of other entries and every lookup of both commands slows (0.36 s -> 0.46 s for the
# scan alone on the 2-core machine). Root drops them (reclaimable dentries and inodes) first.
if [ -w /proc/sys/vm/drop_caches ]; then sync; echo 2 > /proc/sys/vm/drop_caches; fi
echo "plan:"; "$hubcache" cache gc --max-size 500GB --dry-run --cache-dir "$cache" | sed -n '1,2p'
"$ab" -n 11 "'$hubcache' cache gc --max-size 500GB --dry-run --cache-dir '$cache'" \
  "'$hubcache' cache ls --json --cache-dir '$cache'"
