#!/usr/bin/env bash
# Measures `hubcache inspect` of a remote 30-shard safetensors model over loopback (run by hand,
# never by ctest). Issue 15's goals: <= 0.3 s and <= 0.1% of the weight bytes transferred.
#   bench/inspect_bench.sh [path/to/hubcache] [shards, default 30] [MiB per shard, default 100] [runs, default 5]
# The shards have real headers (200 BF16 tensors each, about 20 KB of JSON, as a 70B checkpoint's
# shards) and zero data made sparse with truncate; `hubcache import --link` puts them in a cache
# and `hubcache serve` serves it on 127.0.0.1. Bytes are counted by the server
# (/metrics: hubcache_response_bytes_total). Also times @huggingface/hub's parseSafetensorsMetadata
# (tests/interop/inspect_oracle.mjs, node) on the same server, when tests/interop/node_modules exists.
set -euo pipefail
bin=${1:-build/bin/hubcache}
shards=${2:-30}
mib=${3:-100}
runs=${4:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hubcache-inspect-bench-XXXXXX")
serve_pid=
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
src=$work/src
mkdir -p "$src"

python3 - "$src" "$shards" "$mib" <<'PY'
import json, os, struct, sys
src, shards, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per_shard = 200
weight_map = {}
total = 0
for s in range(1, shards + 1):
    name = f"model-{s:05d}-of-{shards:05d}.safetensors"
    # 200 tensors of BF16 filling about `mib` MiB: rows x 1024 each.
    rows = max(1, (mib << 20) // (per_shard * 1024 * 2))
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for t in range(per_shard):
        layer, part = divmod((s - 1) * per_shard + t, 10)
        tname = f"model.layers.{layer}.{['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj', 'input_layernorm', 'post_attention_layernorm', 'mlp.act'][part]}.weight"
        n = rows * 1024 * 2
        header[tname] = {"dtype": "BF16", "shape": [rows, 1024], "data_offsets": [offset, offset + n]}
        weight_map[tname] = name
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path = os.path.join(src, name)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(8 + len(text) + offset)  # sparse zeros
    total += offset
with open(os.path.join(src, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
with open(os.path.join(src, "config.json"), "w") as f:
    json.dump({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "max_position_embeddings": 8192,
               "torch_dtype": "bfloat16"}, f)
PY
weights=$(du -b --apparent-size -c "$src"/*.safetensors | tail -1 | cut -f1)
echo "model: $shards shards x ~$mib MiB (sparse), $weights weight bytes"
"$bin" import "$src" --repo org/bench30 --cache-dir "$work/cache" --link >/dev/null

"$bin" serve --cache-dir "$work/cache" --host 127.0.0.1 --port 0 --quiet >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 1 100); do [ -s "$work/serve.out" ] && break; sleep 0.05; done
url=$(head -1 "$work/serve.out")
echo "serving at $url"
sent() { curl -s "$url/metrics" | awk '/^hubcache_response_bytes_total /{print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

export HF_ENDPOINT=$url HF_HUB_CACHE=$work/client-cache HF_HOME=$work/hf_home
unset HF_TOKEN HF_HUB_OFFLINE
"$bin" inspect org/bench30 >/dev/null  # warm-up
before=$(sent)
"$bin" inspect org/bench30 --json >"$work/report.json"
after=$(sent)
bytes=$((after - before))
ts=()
for _ in $(seq 1 "$runs"); do
  t0=$(date +%s.%N); "$bin" inspect org/bench30 >/dev/null; t1=$(date +%s.%N)
  ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
done
m=$(printf '%s\n' "${ts[@]}" | median)
python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"inspect: {r['tensor_count']} tensors, {r['parameters']} parameters, {r['requests']} requests, "
      f"{r['bytes_transferred']} bytes counted by inspect")
PY
printf 'hubcache inspect (remote)  median %.3f s over %d runs; server sent %d bytes = %.4f%% of the weights\n' \
  "$m" "$runs" "$bytes" "$(awk -v b="$bytes" -v w="$weights" 'BEGIN {print 100 * b / w}')"

oracle=$here/tests/interop/inspect_oracle.mjs
if [ -d "$here/tests/interop/node_modules/@huggingface/hub" ]; then
  node "$oracle" safetensors "$url" org/bench30 >/dev/null  # warm-up
  before=$(sent)
  node "$oracle" safetensors "$url" org/bench30 >/dev/null
  jsbytes=$(( $(sent) - before ))
  ts=()
  for _ in $(seq 1 "$runs"); do
    t0=$(date +%s.%N); node "$oracle" safetensors "$url" org/bench30 >/dev/null; t1=$(date +%s.%N)
    ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
  done
  printf 'parseSafetensorsMetadata (node)  median %.3f s; server sent %d bytes\n' "$(printf '%s\n' "${ts[@]}" | median)" "$jsbytes"
  echo "pair them: A = $bin inspect org/bench30, B = node $oracle safetensors $url org/bench30 (HF_ENDPOINT=$url)"
  if [ -n "${BENCH_HOLD:-}" ]; then echo "holding the server for $BENCH_HOLD s"; sleep "$BENCH_HOLD"; fi
fi
