#!/bin/sh
# `hubcache cache move` across filesystems vs `cp -a` of the same tree (and `cp -a` + `sync`, the
# same durability: the move flushes the new side before it removes the old). The tree is a 5 GB
# cache (4 blobs of 1.25 GB of random bytes and their links) on the root filesystem; the
# destination is a loop-mounted ext4 image. Each run starts from a hardlink copy of the tree
# (cp -al, a few ms, in both commands) because the move removes its source, and from an empty
# destination. Goal: move ≥ 0.9x the speed of cp -a. Every run starts after an untimed `sync`,
# so no run pays for the writeback the cp -a before it left behind.
# usage: bench/move_bench.sh [BUILD_DIR] (default build); root (mount); times with bench/ab.sh
set -eu
build=${1:-build}
ab=$(dirname "$0")/ab.sh
work=${TMPDIR:-/tmp}/hubcache-move-bench
hubcache=$(realpath "$build/bin/hubcache")
src=$work/src/hub
mnt=$work/mnt
if [ ! -d "$src" ]; then
  snap=$src/models--org--big/snapshots/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  mkdir -p "$src/models--org--big/blobs" "$src/models--org--big/refs" "$snap"
  for i in 1 2 3 4; do
    head -c 1250000000 /dev/urandom > "$src/models--org--big/blobs/tmp"
    h=$(sha256sum "$src/models--org--big/blobs/tmp" | cut -d' ' -f1)
    mv "$src/models--org--big/blobs/tmp" "$src/models--org--big/blobs/$h"
    ln -s "../../blobs/$h" "$snap/w$i.bin"
  done
  printf aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa > "$src/models--org--big/refs/main"
fi
if ! mountpoint -q "$mnt"; then
  mkdir -p "$mnt"
  [ -f "$work/disk.img" ] || { truncate -s 12G "$work/disk.img"; mkfs.ext4 -q -F "$work/disk.img"; }
  mount -o loop "$work/disk.img" "$mnt"
fi
cat "$src"/models--org--big/blobs/* > /dev/null  # the source in the page cache for both
cat > "$work/move.sh" <<SH
rm -rf $mnt/hub $work/run; cp -al $src $work/run && $hubcache cache move $mnt/hub --cache-dir $work/run --yes >/dev/null
SH
cat > "$work/cp.sh" <<SH
rm -rf $mnt/hub $work/run; cp -al $src $work/run && cp -a $work/run $mnt/hub
SH
cat > "$work/cp_sync.sh" <<SH
rm -rf $mnt/hub $work/run; cp -al $src $work/run && cp -a $work/run $mnt/hub && sync
SH
sync
echo "== hubcache cache move (A) vs cp -a (B)"
"$ab" -n 3 -t 900 -s sync "sh '$work/move.sh'" "sh '$work/cp.sh'"
echo "== hubcache cache move (A) vs cp -a + sync (B)"
"$ab" -n 3 -t 900 -s sync "sh '$work/move.sh'" "sh '$work/cp_sync.sh'"
# What this machine allows: the move does cp's work plus SHA-256 of every blob on the new side.
# Machine CPU (all cores busy time in /proc/stat, so the loop device's kernel writeback counts)
# during one run of each; a run cannot be shorter than its CPU seconds divided by the cores.
busy() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2 + $3 + $4 + $7 + $8) / hz}' /proc/stat; }
echo "== the CPU each needs (machine busy time during the run; $(nproc) cores)"
for s in move cp move cp; do
  sync; sleep 1
  b0=$(busy); t0=$(date +%s.%N)
  sh "$work/$s.sh" 2>/dev/null
  t1=$(date +%s.%N); b1=$(busy)
  echo "$s $t0 $t1 $b0 $b1"
done | awk -v cores="$(nproc)" -v bytes="$(stat -c %s "$src"/models--org--big/blobs/* | awk '{ s += $1 } END { print s }')" \
  -v rate="$(openssl speed -seconds 2 -evp sha256 -bytes 1048576 2>/dev/null | awk '/^sha256/ {sub(/k$/, "", $NF); print $NF * 1000}')" '
  { n[$1]++; wall[$1] += $3 - $2; cpu[$1] += $5 - $4 }
  END {
    for (s in n) printf "  %-4s wall %.2f s, cpu %.2f s\n", s, wall[s] / n[s], cpu[s] / n[s]
    need = cpu["cp"] / n["cp"] + bytes / rate
    printf "  SHA-256 on one core (openssl speed, 1 MiB blocks): %.0f MB/s, so %.2f s for the %.0f bytes\n", rate / 1e6, bytes / rate, bytes
    printf "  the work a verified move cannot skip, cp'"'"'s cpu + SHA-256 of every byte: %.2f s of cpu / %d cores = %.2f s: at best %.2fx cp -a (%.2f s) on this machine\n", need, cores, need / cores, (wall["cp"] / n["cp"]) / (need / cores), wall["cp"] / n["cp"]
  }'
