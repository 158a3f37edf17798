#!/usr/bin/env bash
# Benchmark: downloads over Xet from `hubcache serve --xet` on 127.0.0.1, against the plain
# /resolve path of the same server, side by side with bench/ab.sh (A B A B, medians). Not a test.
#   bench/xet_bench.sh [path/to/hubcache]      (default: build/bin/hubcache)
# Env: BENCH_REPS (3), BENCH_BIG_MB (1024), BENCH_INC_MB (256).
# The server holds two repos in one hand-built cache (docs/cache-format.md: blobs/<sha256>,
# snapshots/<commit>/<path> symlinks, refs): bench/big, one random LFS file of BENCH_BIG_MB MiB;
# bench/inc, a random LFS file of BENCH_INC_MB MiB at revision A (refs/rev-a) and, at revision B
# (refs/main), the same file with 5% of it changed in the middle and 1% appended (issue 14). It
# starts with `--xet-index`, so chunking the blobs happens before it listens and is in no timed
# figure (its duration is printed).
# (a) cold: bench/big into a fresh cache with `hubcache download --xet on` (A) vs `--xet off`
#     (B: the 302 to /_blobs/ of the same server);
# (b) incremental: a client cache holding A (downloaded over Xet, so it has A's Xet record), then
#     B with `--xet on` (A) vs `--xet off` (B), each from a fresh copy of that state; and
#     @huggingface/hub downloadFileToCacheDir (tests/interop/serve_client.mjs, Xet by default,
#     no local chunk reuse) fetching B into its own cache that holds A, vs hubcache --xet on;
# (b2) one untimed B-after-A run over Xet from a second server on the same two blobs whose commits
#     sort the other way: `--xet-index` chunks snapshots in commit-hash order, so there B owns the
#     xorbs and A is made of B's (in (b), A's commit sorts first, as on the Hub A came first).
# Bytes are counted at the server: the byte column of its access log (stderr), summed over the
# requests of one untimed run per client made before the timed ones (each result compared byte
# for byte with the source blob). Peak RSS: GNU time's %M through ab.sh (and for the untimed
# runs), else (or with AB_RSS=0) VmHWM polled from /proc/<pid>/status for the checked runs only.
# Every cache is fresh and removed after use; the temp folder and servers go on exit (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
HUBCACHE=$(realpath "${1:-build/bin/hubcache}")
REPS=${BENCH_REPS:-3}
BIG_MB=${BENCH_BIG_MB:-1024}
INC_MB=${BENCH_INC_MB:-256}
[ -x "$HUBCACHE" ] || { echo "build hubcache first (cmake + ninja), or pass its path" >&2; exit 2; }
AB=$(realpath bench/ab.sh)
JS_CLIENT=$PWD/tests/interop/serve_client.mjs
HAVE_JS=0
[ -d tests/interop/node_modules/@huggingface/hub ] && command -v node >/dev/null && HAVE_JS=1
GNU_TIME=0
[ "${AB_RSS:-1}" != 0 ] && [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null && GNU_TIME=1

WORK=$(mktemp -d /tmp/hubcache-xet-bench.XXXXXX)
SERVER_PID= SERVER2_PID=
stop() {  # stop PID: one server this script started
  if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi
}
cleanup() { stop "$SERVER_PID"; stop "$SERVER2_PID"; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The clients read no user configuration or token; Xet is not turned off from outside.
export HF_HOME=$WORK/home HF_HUB_DISABLE_PROGRESS_BARS=1
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_DISABLE_XET HF_HUB_OFFLINE HF_HUB_CACHE HUGGINGFACE_HUB_CACHE

echo "== source cache in $WORK/src: bench/big (${BIG_MB} MiB), bench/inc (${INC_MB} MiB at rev-a; main: 5% changed, 1% appended)"
python3 - "$WORK/src" "$BIG_MB" "$INC_MB" >"$WORK/src.env" <<'PY'
import hashlib, os, sys
root, big_mb, inc_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MiB = 1 << 20

def repo(name, refs):
    r = os.path.join(root, "models--bench--" + name)
    os.makedirs(os.path.join(r, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(r, "refs"), exist_ok=True)
    for ref, commit in refs.items():
        os.makedirs(os.path.join(r, "snapshots", commit), exist_ok=True)
        with open(os.path.join(r, "refs", ref), "w") as f:
            f.write(commit)  # 40 hex, no newline
    return r

def blob(r, blocks):  # writes and hashes the blocks, names the blob by its SHA-256
    tmp, h, size = os.path.join(r, "blobs", "tmp"), hashlib.sha256(), 0
    with open(tmp, "wb") as f:
        for b in blocks:
            h.update(b); f.write(b); size += len(b)
    etag = h.hexdigest()
    os.rename(tmp, os.path.join(r, "blobs", etag))
    return etag, size

def link(r, commit, path, etag):
    os.symlink("../../blobs/" + etag, os.path.join(r, "snapshots", commit, path))

def randoms(n):  # n random bytes in blocks of at most 4 MiB
    while n > 0:
        k = min(n, 4 * MiB); yield os.urandom(k); n -= k

big_commit = hashlib.sha1(b"xet-bench big").hexdigest()
big = repo("big", {"main": big_commit})
big_etag, big_size = blob(big, randoms(big_mb * MiB))
link(big, big_commit, "big.bin", big_etag)

# bench/inc: A is random; B is A with [s, s + n) replaced (n = 5%, in the middle) and 1% appended.
# `serve --xet-index` chunks snapshots in commit-hash order and a later blob references the xorbs
# of the chunks it shares with an earlier one; A's commit sorts first, so B is made of A's xorbs
# plus new ones, as on the Hub where A was uploaded first. src2 (part b2) swaps the two commits.
a_commit, b_commit = sorted(hashlib.sha1(b"xet-bench inc " + x).hexdigest() for x in (b"A", b"B"))
inc = repo("inc", {"rev-a": a_commit, "main": b_commit})
size = inc_mb * MiB
n = size // 20
s = size // 2 - n // 2
tmp_a = os.path.join(inc, "blobs", "a.tmp")
with open(tmp_a, "wb") as f:
    for b in randoms(size): f.write(b)
def read_a():
    with open(tmp_a, "rb") as f:
        while b := f.read(4 * MiB): yield b
a_etag, a_size = blob(inc, read_a())
os.unlink(tmp_a)
def blocks_b():
    with open(os.path.join(inc, "blobs", a_etag), "rb") as f:
        off = 0
        while b := f.read(4 * MiB):
            lo, hi = max(s, off), min(s + n, off + len(b))
            if lo < hi:
                b = b[:lo - off] + os.urandom(hi - lo) + b[hi - off:]
            yield b
            off += len(b)
    yield from randoms(size // 100)
b_etag, b_size = blob(inc, blocks_b())
link(inc, a_commit, "model.safetensors", a_etag)
link(inc, b_commit, "model.safetensors", b_etag)
# src2: the same two blobs (hard links), B's commit sorting before A's: B is indexed first.
root = root + "2"
a2_commit, b2_commit = "f" + a_commit[1:], "0" + b_commit[1:]
inc2 = repo("inc", {"rev-a": a2_commit, "main": b2_commit})
for etag, commit in ((a_etag, a2_commit), (b_etag, b2_commit)):
    os.link(os.path.join(inc, "blobs", etag), os.path.join(inc2, "blobs", etag))
    link(inc2, commit, "model.safetensors", etag)
print(f"BIG_ETAG={big_etag} BIG_SIZE={big_size} A_ETAG={a_etag} A_SIZE={a_size} B_ETAG={b_etag} B_SIZE={b_size}"
      f" A_COMMIT={a_commit} B_COMMIT={b_commit} B2_COMMIT={b2_commit} CHANGED={n} CHANGED_AT={s} APPENDED={size // 100}")
PY
. "$WORK/src.env"
SRC_BIG=$WORK/src/models--bench--big/blobs/$BIG_ETAG
SRC_B=$WORK/src/models--bench--inc/blobs/$B_ETAG
sync

load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
server_rss() { echo "server memory: $(grep -E '^Vm(RSS|HWM)' "/proc/$SERVER_PID/status" | tr -s ' \t' ' ' | paste -sd, -)"; }
mib() { awk -v k="$1" 'BEGIN { if (k == "" || k == "-") print "-"; else printf "%.1f", k / 1024 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f%%", 100 * a / b }'; }
commas() { echo "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }

# start_server SRC NAME: `serve --xet --xet-index` of SRC, access log (stderr) in $WORK/NAME.log;
# it indexes every LFS blob before it listens (the URL on stdout comes after that). Sets S_PID,
# S_URL and S_INDEX_S (seconds from the start to the URL).
start_server() {
  local t0=$EPOCHREALTIME
  "$HUBCACHE" serve --xet --xet-index --cache-dir "$1" --host 127.0.0.1 --port 0 >"$WORK/$2.out" 2>"$WORK/$2.log" &
  S_PID=$!
  S_URL=
  for _ in $(seq 36000); do  # up to an hour: chunking runs at a few hundred MB/s
    S_URL=$(head -n1 "$WORK/$2.out" 2>/dev/null || true)
    [[ $S_URL == http://* ]] && break
    kill -0 "$S_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ $S_URL == http://* ]] || { echo "hubcache serve --xet did not start:" >&2; cat "$WORK/$2.log" >&2; exit 1; }
  S_INDEX_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
}
start_server "$WORK/src" serve
SERVER_PID=$S_PID URL=$S_URL INDEX_S=$S_INDEX_S LOG=$WORK/serve.log
INDEX_MB=$((BIG_MB + INC_MB + INC_MB + INC_MB / 100))
echo "== hubcache serve --xet --xet-index at $URL (pid $SERVER_PID); $(nproc) cores"
echo "   indexing ~${INDEX_MB} MiB of LFS blobs before listening took ${INDEX_S} s (start to URL): in no timed figure below"
server_rss
if [ "$GNU_TIME" = 1 ]; then echo "   peak RSS: GNU time (/usr/bin/time -f %M)"; else echo "   peak RSS: VmHWM polled from /proc/<pid>/status (no GNU time at /usr/bin/time)"; fi
[ "$HAVE_JS" = 1 ] || echo "   (no node or tests/interop/node_modules/@huggingface/hub: the JS rows are skipped; scripts/install-deps.sh)"

# measure CMD...: one untimed-by-ab run; sets M_S (wall seconds) and M_KIB (peak RSS, KiB).
measure() {
  local t0 t1 pid hwm=0 v
  t0=$EPOCHREALTIME
  if [ "$GNU_TIME" = 1 ]; then
    /usr/bin/time -f %M -o "$WORK/m.rss" "$@" </dev/null >"$WORK/m.out" 2>&1 || { echo "failed: $*" >&2; cat "$WORK/m.out" "$WORK/m.rss" >&2; exit 1; }
    M_KIB=$(tail -n1 "$WORK/m.rss")
  else
    "$@" </dev/null >"$WORK/m.out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
      sleep 0.02
    done
    wait "$pid" || { echo "failed: $*" >&2; cat "$WORK/m.out" >&2; exit 1; }
    M_KIB=$hwm
  fi
  t1=$EPOCHREALTIME
  M_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}
# log_mark: the access log's line count now. served SINCE: the bytes of the requests logged after
# line SINCE, once the log has been still for 0.3 s (a line is written when its answer completes).
# Sets SV_XORB (/_xet/xorbs/ bodies), SV_BLOB (/_blobs/ bodies), SV_ALL (every body), SV_N (requests).
log_mark() { wc -l <"$LOG"; }
served() {
  local since=$1 n0 n1
  n1=$(log_mark)
  while sleep 0.3; n0=$n1; n1=$(log_mark); [ "$n0" != "$n1" ]; do :; done
  read -r SV_XORB SV_BLOB SV_ALL SV_N < <(tail -n +"$((since + 1))" "$LOG" | awk '
    $1 ~ /^[A-Z]+$/ && $3 ~ /^[0-9]+$/ && $4 ~ /^[0-9]+$/ {
      n++; all += $4
      if ($2 ~ /^\/_xet\/xorbs\//) x += $4
      if ($2 ~ /^\/_blobs\//) b += $4
    }
    END { printf "%d %d %d %d\n", x, b, all, n }')
}
show_served() {  # LABEL SIZE: one line about the last `served`
  printf '   %-34s %s s, peak RSS %s MiB; served %s bytes in %d requests (xorbs %s, /_blobs/ %s) = %s of %s\n' \
    "$1" "$M_S" "$(mib "$M_KIB")" "$(commas "$SV_ALL")" "$SV_N" "$(commas "$SV_XORB")" "$(commas "$SV_BLOB")" \
    "$(pct "$SV_ALL" "$2")" "$(commas "$2")"
}
# ab_fig FILE: from an ab.sh report, "A_median B_median A_rss B_rss ratio" (rss "-" when absent).
ab_fig() {
  awk '
    $1 == "A" && $2 == "min" { am = $5; ar = ($8 == "peak") ? $11 : "-" }
    $1 == "B" && $2 == "min" { bm = $5; br = ($8 == "peak") ? $11 : "-" }
    $1 == "A/B" { r = $6 }
    END { print am, bm, ar, br, r }' "$1"
}
dl() {  # dl CACHE XET [download args]: the command string for one hubcache download
  local cache=$1 xet=$2; shift 2
  echo "HF_ENDPOINT=$URL '$HUBCACHE' download $* --xet $xet --cache-dir '$cache' -q"
}
js() {  # js CACHE REVISION: @huggingface/hub downloadFileToCacheDir of bench/inc's file
  echo "node '$JS_CLIENT' file $URL '$1' bench/inc - model.safetensors $2"
}

echo
echo "== (a) cold: bench/big, ${BIG_MB} MiB random, into a fresh cache: A = hubcache download --xet on, B = --xet off (plain /resolve -> /_blobs/)"
load
declare -A BYTES KIB
for x in on off; do
  rm -rf "$WORK/ca"; mark=$(log_mark)
  measure bash -c "$(dl "$WORK/ca" $x bench/big big.bin)"
  served "$mark"
  cmp "$WORK/ca/models--bench--big/snapshots/"*/big.bin "$SRC_BIG" || { echo "(a) --xet $x: the file differs from the source" >&2; exit 1; }
  show_served "--xet $x (checked run)" "$BIG_SIZE"
  BYTES[a_$x]=$SV_ALL; KIB[a_$x]=$M_KIB
done
rm -rf "$WORK/ca"
"$AB" -n "$REPS" -t 1800 -s "rm -rf '$WORK/ca' && mkdir '$WORK/ca' && sync" \
  "$(dl "$WORK/ca" on bench/big big.bin)" "$(dl "$WORK/ca" off bench/big big.bin)" | tee "$WORK/ab_a.txt"
rm -rf "$WORK/ca"
load; server_rss

echo
echo "== (b) incremental (issue 14): bench/inc, B = A (${INC_MB} MiB) with $(commas "$CHANGED") bytes changed at $(commas "$CHANGED_AT") and $(commas "$APPENDED") appended"
load
rm -rf "$WORK/stateA"; mark=$(log_mark)
measure bash -c "$(dl "$WORK/stateA" on bench/inc model.safetensors --revision rev-a)"
served "$mark"
show_served "A over Xet (the client's state)" "$A_SIZE"
ls "$WORK/stateA/models--bench--inc/.hubcache/xet/$A_ETAG" >/dev/null 2>&1 \
  || echo "   NOTE: no Xet record for A in the client cache (.hubcache/xet/$A_ETAG): B cannot reuse A's chunks"
for x in on off; do
  rm -rf "$WORK/cl"; cp -a "$WORK/stateA" "$WORK/cl"; sync; mark=$(log_mark)
  measure bash -c "$(dl "$WORK/cl" $x bench/inc model.safetensors)"
  served "$mark"
  cmp "$WORK/cl/models--bench--inc/snapshots/$B_COMMIT/model.safetensors" "$SRC_B" || { echo "(b) --xet $x: B differs from the source" >&2; exit 1; }
  show_served "B after A, --xet $x (checked run)" "$B_SIZE"
  BYTES[b_$x]=$SV_ALL; KIB[b_$x]=$M_KIB
done
rm -rf "$WORK/cl"
"$AB" -n "$REPS" -t 1800 -s "rm -rf '$WORK/cl' && cp -a '$WORK/stateA' '$WORK/cl' && sync" \
  "$(dl "$WORK/cl" on bench/inc model.safetensors)" "$(dl "$WORK/cl" off bench/inc model.safetensors)" | tee "$WORK/ab_b.txt"
rm -rf "$WORK/cl"

if [ "$HAVE_JS" = 1 ]; then
  echo
  echo "== (b, JS) @huggingface/hub $(node -p 'require("./tests/interop/node_modules/@huggingface/hub/package.json").version') downloadFileToCacheDir: B into its own cache holding A (Xet, no local chunk reuse)"
  rm -rf "$WORK/jstateA"; mark=$(log_mark)
  measure bash -c "$(js "$WORK/jstateA" rev-a)"
  served "$mark"
  show_served "JS: A (its state)" "$A_SIZE"
  rm -rf "$WORK/jl"; cp -a "$WORK/jstateA" "$WORK/jl"; sync; mark=$(log_mark)
  measure bash -c "$(js "$WORK/jl" main)"
  served "$mark"
  grep -q '^RESULT {"ok":true' "$WORK/m.out" || { echo "JS client failed:" >&2; cat "$WORK/m.out" >&2; exit 1; }
  cmp "$WORK/jl/models--bench--inc/snapshots/$B_COMMIT/model.safetensors" "$SRC_B" || { echo "(b) JS: B differs from the source" >&2; exit 1; }
  show_served "JS: B after A (checked run)" "$B_SIZE"
  BYTES[b_js]=$SV_ALL; KIB[b_js]=$M_KIB
  rm -rf "$WORK/jl"
  echo "   A = @huggingface/hub, B = hubcache download --xet on; both from their own cache holding A"
  "$AB" -n "$REPS" -t 1800 -s "rm -rf '$WORK/cl' '$WORK/jl' && cp -a '$WORK/stateA' '$WORK/cl' && cp -a '$WORK/jstateA' '$WORK/jl' && sync" \
    "$(js "$WORK/jl" main)" "$(dl "$WORK/cl" on bench/inc model.safetensors)" | tee "$WORK/ab_js.txt"
  rm -rf "$WORK/cl" "$WORK/jl"
fi
load; server_rss

echo
echo "== (b2) the same B after A from a server whose index made B first (B's commit sorts before A's:"
echo "   $WORK/src2, the same blobs), so A is made of B's xorbs: one checked run, untimed by ab.sh"
start_server "$WORK/src2" serve2
SERVER2_PID=$S_PID
echo "   server at $S_URL, indexing ${S_INDEX_S} s"
URL1=$URL LOG1=$LOG
URL=$S_URL LOG=$WORK/serve2.log
rm -rf "$WORK/stateA2"; mark=$(log_mark)
measure bash -c "$(dl "$WORK/stateA2" on bench/inc model.safetensors --revision rev-a)"
served "$mark"
show_served "A over Xet (the client's state)" "$A_SIZE"
mark=$(log_mark)
measure bash -c "$(dl "$WORK/stateA2" on bench/inc model.safetensors)"
served "$mark"
cmp "$WORK/stateA2/models--bench--inc/snapshots/$B2_COMMIT/model.safetensors" "$SRC_B" || { echo "(b2): B differs from the source" >&2; exit 1; }
show_served "B after A, --xet on (checked run)" "$B_SIZE"
B2_S=$M_S B2_KIB=$M_KIB B2_BYTES=$SV_ALL
URL=$URL1 LOG=$LOG1
stop "$SERVER2_PID"; SERVER2_PID=
rm -rf "$WORK/stateA2"

# The table: times and peak RSS are ab.sh medians (the checked run's RSS when ab has none), bytes
# are the checked runs' at the server.
read -r A_ON A_OFF A_ON_RSS A_OFF_RSS A_RATIO < <(ab_fig "$WORK/ab_a.txt")
read -r B_ON B_OFF B_ON_RSS B_OFF_RSS B_RATIO < <(ab_fig "$WORK/ab_b.txt")
[ "$A_ON_RSS" = - ] && A_ON_RSS=$(mib "${KIB[a_on]}"); [ "$A_OFF_RSS" = - ] && A_OFF_RSS=$(mib "${KIB[a_off]}")
[ "$B_ON_RSS" = - ] && B_ON_RSS=$(mib "${KIB[b_on]}"); [ "$B_OFF_RSS" = - ] && B_OFF_RSS=$(mib "${KIB[b_off]}")
echo
echo "== summary: medians of $REPS rounds (A B A B), loopback, server indexed beforehand (--xet-index, ${INDEX_S} s, untimed)"
row() { printf '| %-30s | %-30s | %8s | %9s | %15s | %8s |\n' "$@"; }
row "case" "client" "wall s" "peak MiB" "bytes served" "of file"
row "------------------------------" "------------------------------" "--------" "---------" "---------------" "--------"
row "(a) cold ${BIG_MB} MiB" "hubcache --xet on" "$A_ON" "$A_ON_RSS" "$(commas "${BYTES[a_on]}")" "$(pct "${BYTES[a_on]}" "$BIG_SIZE")"
row "(a) cold ${BIG_MB} MiB" "hubcache --xet off" "$A_OFF" "$A_OFF_RSS" "$(commas "${BYTES[a_off]}")" "$(pct "${BYTES[a_off]}" "$BIG_SIZE")"
row "(a) on/off, pair by pair" "" "$A_RATIO" "" "" ""
row "(b) B after A, ${INC_MB} MiB" "hubcache --xet on" "$B_ON" "$B_ON_RSS" "$(commas "${BYTES[b_on]}")" "$(pct "${BYTES[b_on]}" "$B_SIZE")"
row "(b) B after A, ${INC_MB} MiB" "hubcache --xet off" "$B_OFF" "$B_OFF_RSS" "$(commas "${BYTES[b_off]}")" "$(pct "${BYTES[b_off]}" "$B_SIZE")"
row "(b) on/off, pair by pair" "" "$B_RATIO" "" "" ""
if [ "$HAVE_JS" = 1 ]; then
  read -r J_JS J_ON J_JS_RSS J_ON_RSS J_RATIO < <(ab_fig "$WORK/ab_js.txt")
  [ "$J_JS_RSS" = - ] && J_JS_RSS=$(mib "${KIB[b_js]}")
  row "(b) B after A, ${INC_MB} MiB" "@huggingface/hub (Xet)" "$J_JS" "$J_JS_RSS" "$(commas "${BYTES[b_js]}")" "$(pct "${BYTES[b_js]}" "$B_SIZE")"
  row "(b) JS / hubcache --xet on" "same rounds: hubcache $J_ON s" "$J_RATIO" "" "" ""
fi
row "(b2) B indexed before A" "hubcache --xet on, one run" "$B2_S" "$(mib "$B2_KIB")" "$(commas "$B2_BYTES")" "$(pct "$B2_BYTES" "$B_SIZE")"
echo "The Xet client's memory budget is 256 MiB (xet_memory_budget): peak RSS --xet on, (a) $A_ON_RSS MiB, (b) $B_ON_RSS MiB."
echo "(b)'s changed share is $(pct "$((CHANGED + APPENDED))" "$B_SIZE") of B; bytes are whole response bodies at the server (Xet: 8-byte chunk headers included)."
