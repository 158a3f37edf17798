#!/bin/sh
# hubcache dedupe --dry-run --deep vs jdupes -r and rdfind -dryrun true on the same generated tree
# (10,000 files, 5,000 duplicate candidates); checks that all three find the same groups first.
# usage: bench/dedupe_bench.sh [BUILD_DIR]   needs jdupes and rdfind (Debian); times with bench/ab.sh
set -eu
build=${1:-build}
ab=$(dirname "$0")/ab.sh
tree=${TMPDIR:-/tmp}/hubcache-dupes
[ -d "$tree" ] || "$build/bench/hubcache_gen_dupes" "$tree"
hubcache=$(realpath "$build/bin/hubcache")
work=$(mktemp -d)
"$hubcache" dedupe "$tree" --deep --dry-run --json > "$work/hubcache.json"
jdupes -r -q "$tree" > "$work/jdupes.txt"
(cd "$work" && rdfind -dryrun true -outputname rdfind.txt "$tree" > /dev/null)
python3 - "$work" <<'PY'
import json, sys, collections
w = sys.argv[1]
ours = {frozenset([g["keep"]] + [r["path"] for r in g["replace"]]) for g in json.load(open(w + "/hubcache.json"))["groups"]}
jd, cur = set(), []
for line in open(w + "/jdupes.txt").read().split("\n"):
    if line.strip(): cur.append(line.strip())
    elif cur: jd.add(frozenset(cur)); cur = []
if cur: jd.add(frozenset(cur))
rd = collections.defaultdict(set)
for line in open(w + "/rdfind.txt"):
    if line.startswith("#") or not line.strip(): continue
    parts = line.split(None, 7)
    rd[parts[1].lstrip("-")].add(parts[7].strip())
rd = {frozenset(v) for v in rd.values() if len(v) > 1}
print(f"groups: hubcache {len(ours)}, jdupes {len(jd)}, rdfind {len(rd)}; same groups: {ours == jd == rd}")
PY
rm -rf "$work"
"$ab" -n 5 "'$hubcache' dedupe '$tree' --deep --dry-run --json" "jdupes -r -q '$tree'"
"$ab" -n 5 "'$hubcache' dedupe '$tree' --deep --dry-run --json" \
  "cd /tmp && exec rdfind -dryrun true -outputname /tmp/rdfind-bench.txt '$tree'"
