#!/usr/bin/env bash
# Installs what is missing, builds hubcache, and runs the main job on the bundled sample model:
# import it into a source cache, serve that cache as a Hub mirror on 127.0.0.1, download from the
# mirror into a fresh cache, list and verify it, and resolve it offline. Works with no terminal.
# Safe to run again: every run uses fresh temporary caches and an ephemeral port.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
# The two executables only, with the library they link (scripts/test.sh builds everything).
cmake --build build -j2 --target hubcache_cli hubcache_net
hc=build/bin/hubcache
work=$(mktemp -d -t hubcache-demo-XXXXXX)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
source_cache="$work/source-hub"
cache="$work/hub"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step hubcache import sample/tiny-model --repo hubcache-demo/tiny-model --copy --cache-dir "$source_cache"
$hc import sample/tiny-model --repo hubcache-demo/tiny-model --copy --cache-dir "$source_cache"

step hubcache serve --cache-dir "$source_cache" --host 127.0.0.1 --port 0 --quiet '&'
$hc serve --cache-dir "$source_cache" --host 127.0.0.1 --port 0 --quiet >"$work/serve.out" &
server_pid=$!
endpoint=
for _ in $(seq 100); do
  endpoint=$(head -n1 "$work/serve.out" 2>/dev/null || true)
  [[ $endpoint == http://* ]] && break
  sleep 0.1
done
[[ $endpoint == http://* ]] || { echo "demo: hubcache serve did not print its URL" >&2; exit 1; }
echo "mirror at $endpoint"

# On a terminal: progress bars (forced on). Without one: the --json progress events, one a line.
progress=()
[[ -t 2 ]] || progress=(--json)
step HF_ENDPOINT="$endpoint" hubcache download hubcache-demo/tiny-model --cache-dir "$cache" "${progress[@]}"
HF_ENDPOINT="$endpoint" HF_HUB_DISABLE_PROGRESS_BARS=0 $hc download hubcache-demo/tiny-model --cache-dir "$cache" "${progress[@]}"

step hubcache cache ls --cache-dir "$cache"
$hc cache ls --cache-dir "$cache"

step hubcache cache verify hubcache-demo/tiny-model --cache-dir "$cache"
$hc cache verify hubcache-demo/tiny-model --cache-dir "$cache"

step kill "$server_pid" '# stop the mirror: everything below is offline'
kill "$server_pid"
wait "$server_pid" || true
server_pid=

step HF_HUB_OFFLINE=1 hubcache resolve hubcache-demo/tiny-model config.json model.safetensors --cache-dir "$cache"
HF_HUB_OFFLINE=1 $hc resolve hubcache-demo/tiny-model config.json model.safetensors --cache-dir "$cache"

step HF_HUB_OFFLINE=1 hubcache download hubcache-demo/tiny-model --cache-dir "$cache" -q
snapshot=$(HF_ENDPOINT="$endpoint" HF_HUB_OFFLINE=1 $hc download hubcache-demo/tiny-model --cache-dir "$cache" -q)
echo "$snapshot"

step diff -r sample/tiny-model "$snapshot"
diff -r sample/tiny-model "$snapshot" && echo "identical to the sample"
echo
echo "demo: OK (the caches above were temporary folders and are removed now)"
