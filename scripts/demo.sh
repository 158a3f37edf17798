#!/usr/bin/env bash
# Installs what is missing, builds hubcache, and runs the main job on the bundled sample model.
# Safe to run again: every run uses a fresh temporary cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j2
hc=build/bin/hubcache
work=$(mktemp -d -t hubcache-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
cache="$work/hub"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step hubcache import sample/tiny-model --repo hubcache-demo/tiny-model --cache-dir "$cache"
$hc import sample/tiny-model --repo hubcache-demo/tiny-model --copy --cache-dir "$cache"

step hubcache cache ls --cache-dir "$cache"
$hc cache ls --cache-dir "$cache"

step HF_HUB_OFFLINE=1 hubcache resolve hubcache-demo/tiny-model config.json model.safetensors --cache-dir "$cache"
HF_HUB_OFFLINE=1 $hc resolve hubcache-demo/tiny-model config.json model.safetensors --cache-dir "$cache"

step HF_HUB_OFFLINE=1 hubcache resolve hubcache-demo/tiny-model --cache-dir "$cache"
HF_HUB_OFFLINE=1 $hc resolve hubcache-demo/tiny-model --cache-dir "$cache"

step hubcache cache verify hubcache-demo/tiny-model --cache-dir "$cache"
$hc cache verify hubcache-demo/tiny-model --cache-dir "$cache"
echo
echo "demo: OK (the cache above was a temporary folder and is removed now)"
