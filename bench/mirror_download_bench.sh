#!/usr/bin/env bash
# Benchmark: downloads from `hubcache serve` on 127.0.0.1, side by side in one run. Not a test.
#   bench/mirror_download_bench.sh [path/to/hubcache]      (default: build/bin/hubcache)
# Env: BENCH_BIG_MB (default 1024), BENCH_SMALL (default 2000), BENCH_REPS (default 3).
# (a) one LFS file of BENCH_BIG_MB MiB: `hubcache download` (SHA-256 verified) vs `curl -L -o`
#     of the same URL from the same server vs @huggingface/hub downloadFileToCacheDir (node);
# (b) BENCH_SMALL small files in one snapshot: `hubcache download` vs snapshotDownload (node).
# Every run writes into a fresh cache (removed after); runs alternate between the clients and
# medians are compared. The JS runs need tests/interop/node_modules (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
HUBCACHE=$(realpath "${1:-build/bin/hubcache}")
BIG_MB=${BENCH_BIG_MB:-1024}
SMALL=${BENCH_SMALL:-2000}
REPS=${BENCH_REPS:-3}
JS_CLIENT=$PWD/tests/interop/serve_client.mjs
[ -x "$HUBCACHE" ] || { echo "build hubcache first (cmake + ninja), or pass its path" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is needed (scripts/install-deps.sh)" >&2; exit 2; }
HAVE_JS=0
[ -d tests/interop/node_modules/@huggingface/hub ] && command -v node >/dev/null && HAVE_JS=1

WORK=$(mktemp -d /tmp/hubcache-mirror-bench.XXXXXX)
SERVER_PID=
cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "== source cache in $WORK: bench/big (${BIG_MB} MiB LFS), bench/small (${SMALL} files)"
python3 - "$WORK/src" "$BIG_MB" "$SMALL" <<'PY'
import hashlib, os, random, sys
root, big_mb, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def repo(name, commit):
    r = os.path.join(root, "models--bench--" + name)
    for d in ("blobs", "refs", "snapshots/" + commit):
        os.makedirs(os.path.join(r, d), exist_ok=True)
    open(os.path.join(r, "refs", "main"), "w").write(commit)
    return r
big = repo("big", hashlib.sha1(b"big").hexdigest())
tmp, h, chunk = os.path.join(big, "blobs", "tmp"), hashlib.sha256(), os.urandom(1 << 20)
with open(tmp, "wb") as f:
    for i in range(big_mb):
        block = chunk[i % 4096:] + chunk[:i % 4096]
        h.update(block); f.write(block)
os.rename(tmp, os.path.join(big, "blobs", h.hexdigest()))
os.symlink("../../blobs/" + h.hexdigest(), os.path.join(big, "snapshots", hashlib.sha1(b"big").hexdigest(), "model.safetensors"))
commit = hashlib.sha1(b"small").hexdigest()
sm, rnd = repo("small", commit), random.Random(1)
os.makedirs(os.path.join(sm, "snapshots", commit, "files"))
for i in range(small):
    data = os.urandom(rnd.randint(100, 4096))
    oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    open(os.path.join(sm, "blobs", oid), "wb").write(data)
    os.symlink("../../../blobs/" + oid, os.path.join(sm, "snapshots", commit, "files", "f%05d.json" % i))
PY

"$HUBCACHE" serve --cache-dir "$WORK/src" --host 127.0.0.1 --port 0 --quiet >"$WORK/serve.out" &
SERVER_PID=$!
URL=
for _ in $(seq 100); do URL=$(head -n1 "$WORK/serve.out" 2>/dev/null || true); [[ $URL == http://* ]] && break; sleep 0.1; done
[[ $URL == http://* ]] || { echo "hubcache serve did not start" >&2; exit 1; }
echo "== hubcache serve at $URL (pid $SERVER_PID); $(nproc) cores"

# time_run NAME CMD... : runs CMD with a fresh, empty $OUT, appends seconds to $WORK/NAME.times.
# Outputs of many files are kept until the end: on ext4, creating thousands of files right after
# deleting thousands makes inode allocation scan the recently freed ones (seconds for 2,000
# files), which measures the benchmark's own clean-up rather than the client.
RUN=0
time_run() {
  local name=$1; shift
  RUN=$((RUN + 1)); export OUT=$WORK/out.$RUN; mkdir -p "$OUT"
  sync; local t0=$EPOCHREALTIME
  "$@" >"$WORK/last.log" 2>&1 || { echo "$name failed:"; cat "$WORK/last.log"; exit 1; }
  local t1=$EPOCHREALTIME
  echo "$t1 - $t0" | bc -l >>"$WORK/$name.times"
  if [ "$(find "$OUT" | head -n 100 | wc -l)" -lt 100 ]; then rm -rf "$OUT"; fi
}
median() { sort -g "$WORK/$1.times" | awk '{a[NR]=$1} END {printf "%.3f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ours() { HF_ENDPOINT=$URL HF_HUB_DISABLE_PROGRESS_BARS=1 "$HUBCACHE" download "$@" --cache-dir "$OUT" -q; }
js() { node "$JS_CLIENT" "$1" "$URL" "$OUT" "$2" - "${3:-}"; }
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "== (a) ${BIG_MB} MiB LFS file, $REPS rounds"; load
for r in $(seq "$REPS"); do
  time_run curl_big sh -c "curl -sfL -o \"\$OUT/model.safetensors\" \"$URL/bench/big/resolve/main/model.safetensors\""
  time_run ours_big ours bench/big model.safetensors
  if [ $HAVE_JS = 1 ]; then time_run js_big js file bench/big model.safetensors; fi
done
load
printf '   curl -L -o            median %ss  (%s MiB/s)\n' "$(median curl_big)" "$(echo "$BIG_MB / $(median curl_big)" | bc)"
printf '   hubcache download     median %ss  (%s MiB/s)  ratio to curl %s\n' "$(median ours_big)" \
  "$(echo "$BIG_MB / $(median ours_big)" | bc)" "$(echo "scale=3; $(median ours_big) / $(median curl_big)" | bc)"
if [ $HAVE_JS = 1 ]; then printf '   @huggingface/hub      median %ss  (%s MiB/s)  ratio to ours %s\n' "$(median js_big)" \
  "$(echo "$BIG_MB / $(median js_big)" | bc)" "$(echo "scale=3; $(median js_big) / $(median ours_big)" | bc)"; fi

echo "== (b) ${SMALL} small files in one snapshot, $REPS rounds"; load
for r in $(seq "$REPS"); do
  time_run ours_small ours bench/small
  if [ $HAVE_JS = 1 ]; then time_run js_small js snapshot bench/small; fi
done
load
printf '   hubcache download     median %ss\n' "$(median ours_small)"
if [ $HAVE_JS = 1 ]; then printf '   @huggingface/hub      median %ss  ratio to ours %s\n' "$(median js_small)" \
  "$(echo "scale=2; $(median js_small) / $(median ours_small)" | bc)"; fi
echo "== all times: $(for f in "$WORK"/*.times; do printf '%s=[%s] ' "$(basename "$f" .times)" "$(paste -sd, "$f")"; done)"
