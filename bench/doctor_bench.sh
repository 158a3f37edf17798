#!/bin/sh
# hubcache doctor vs du -sh over the same generated home (200,000 files, 50.5 GB apparent, sparse).
# usage: bench/doctor_bench.sh [BUILD_DIR]   (default build); times with bench/ab.sh (A B A B, medians)
set -eu
build=${1:-build}
ab=$(dirname "$0")/ab.sh
home=${TMPDIR:-/tmp}/hubcache-doctor-home
[ -d "$home" ] || "$build/bench/hubcache_gen_home" "$home"
hubcache=$(realpath "$build/bin/hubcache")
du -sh "$home" >/dev/null  # warm the dentry and inode caches for both
echo "doctor findings:"; HOME=$home "$hubcache" doctor "$home" | tail -1
HOME=$home "$ab" -n 9 "'$hubcache' doctor '$home'" "du -sh '$home'"
echo "peak RSS (KiB) of doctor alone:"
HOME=$home /usr/bin/time -f %M "$hubcache" doctor "$home" 2>&1 >/dev/null | tail -1
