// Interop: @huggingface/hub's scanCacheDir on a central cache that `hubcache migrate` filled from
// two project caches (overlapping repos, a conflicting ref, a dataset).
// Usage: node migrate_scan.mjs <hubcache binary>
// Exits 77 (ctest SKIP_RETURN_CODE) when node_modules is absent.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SKIP = 77;
const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, "node_modules", "@huggingface", "hub"))) {
  console.log("SKIP: tests/interop/node_modules is absent (run scripts/install-deps.sh)");
  process.exit(SKIP);
}
const { scanCacheDir } = await import("@huggingface/hub");

const [bin] = process.argv.slice(2);
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok" : "FAIL"}: ${what}`);
  if (!ok) failures++;
}

const commit = (d) => d.repeat(40);
// An LFS file as hf_hub_download leaves it: blobs/<sha256>, snapshots/<commit>/<path> -> ../../blobs/<sha256>.
function addFile(cache, folder, rev, path, content) {
  const blob = createHash("sha256").update(content).digest("hex");
  const repo = join(cache, folder);
  mkdirSync(join(repo, "blobs"), { recursive: true });
  mkdirSync(join(repo, "refs"), { recursive: true });
  mkdirSync(join(repo, "snapshots", rev), { recursive: true });
  writeFileSync(join(repo, "blobs", blob), content);
  const link = join(repo, "snapshots", rev, path);
  if (!existsSync(link)) symlinkSync(join("..", "..", "blobs", blob), link);
}
const setRef = (cache, folder, name, rev) => writeFileSync(join(cache, folder, "refs", name), rev);

const root = mkdtempSync(join(tmpdir(), "hubcache-interop-migrate-"));
try {
  const central = join(root, "hub");
  const a = join(root, "projA", "model_cache");
  const b = join(root, "projB", "model_cache");
  addFile(central, "models--org--x", commit("1"), "w.bin", "x weights v1");
  setRef(central, "models--org--x", "main", commit("1"));
  addFile(a, "models--org--x", commit("1"), "w.bin", "x weights v1");
  addFile(a, "models--org--x", commit("2"), "w.bin", "x weights v2");
  setRef(a, "models--org--x", "main", commit("2")); // conflicts: the central main stays at 1
  addFile(a, "models--org--y", commit("3"), "y.bin", "y bytes");
  setRef(a, "models--org--y", "main", commit("3"));
  addFile(b, "datasets--org--d", commit("4"), "d.csv", "a,b\n1,2\n");
  setRef(b, "datasets--org--d", "main", commit("4"));
  addFile(b, "models--org--y", commit("3"), "y.bin", "y bytes");
  setRef(b, "models--org--y", "main", commit("3"));

  const r = spawnSync(bin, ["migrate", join(root, "projA"), join(root, "projB"), "--to", central, "--yes"], { encoding: "utf8" });
  check(r.status === 0, `hubcache migrate exits 0 (${r.status}: ${r.stderr.trim()})`);
  check(!existsSync(a) && !existsSync(b), "the project caches are gone");

  const info = await scanCacheDir(central);
  check(info.warnings.length === 0, `no warnings (${info.warnings.map((w) => w.message).join("; ")})`);
  const repos = new Map(info.repos.map((repo) => [`${repo.id.type}/${repo.id.name}`, repo]));
  check(repos.size === 3, `3 repos (got ${[...repos.keys()].join(", ")})`);
  const x = repos.get("model/org/x");
  const revs = new Map((x?.revisions ?? []).map((v) => [v.commitOid, v]));
  check(revs.size === 2, `org/x has 2 revisions (got ${revs.size})`);
  check(JSON.stringify(revs.get(commit("1"))?.refs) === '["main"]', "org/x main stays at the central commit");
  check(JSON.stringify(revs.get(commit("2"))?.refs) === "[]", "the project's revision is there, detached");
  check(x?.size === "x weights v1".length + "x weights v2".length, `org/x size ${x?.size}: each blob once`);
  const y = repos.get("model/org/y");
  check(y?.size === "y bytes".length && y?.revisions.length === 1, `org/y held by both projects is there once (${y?.size})`);
  const d = repos.get("dataset/org/d");
  check(d?.revisions[0]?.commitOid === commit("4") && JSON.stringify(d?.revisions[0]?.refs) === '["main"]', "the dataset and its ref");
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(failures === 0 ? "all interop migrate checks passed" : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
