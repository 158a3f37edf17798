#!/bin/sh
# `hubcache cache move` across filesystems vs `cp -a` of the same tree (and `cp -a` + `sync`, the
# same durability: the move flushes the new side before it removes the old). The tree is a 5 GB
# cache (4 blobs of 1.25 GB of random bytes and their links) on the root filesystem; the
# destination is a loop-mounted ext4 image. Each run starts from a hardlink copy of the tree
# (cp -al, a few ms, in both commands) because the move removes its source, and from an empty
# destination. Goal: move ≥ 0.9x the speed of cp -a.
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
"$ab" -n 3 -t 900 "sh '$work/move.sh'" "sh '$work/cp.sh'"
echo "== hubcache cache move (A) vs cp -a + sync (B)"
"$ab" -n 3 -t 900 "sh '$work/move.sh'" "sh '$work/cp_sync.sh'"
