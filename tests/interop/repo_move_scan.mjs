// Interop: @huggingface/hub's scanCacheDir on a cache where `hubcache cache move ORG/NAME --to DIR`
// moved repos to another folder (a symlinked repo folder), one of them with a blob in the shared
// blob store (which becomes the repo's own blob), then on the cache after `--back`.
// Usage: node repo_move_scan.mjs <hubcache binary>
// Exits 77 (ctest SKIP_RETURN_CODE) when node_modules is absent.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
const sha256 = (s) => createHash("sha256").update(s).digest("hex");
function repoDirs(cache, folder, rev) {
  const repo = join(cache, folder);
  for (const d of ["blobs", "refs", join("snapshots", rev)]) mkdirSync(join(repo, d), { recursive: true });
  writeFileSync(join(repo, "refs", "main"), rev);
  return repo;
}
// An LFS file as hf_hub_download leaves it: blobs/<sha256>, snapshots/<commit>/<path> -> ../../blobs/<sha256>.
function addFile(cache, folder, rev, path, content) {
  const repo = repoDirs(cache, folder, rev);
  writeFileSync(join(repo, "blobs", sha256(content)), content);
  symlinkSync(join("..", "..", "blobs", sha256(content)), join(repo, "snapshots", rev, path));
}
// The same file as huggingface_hub >= 1.32 stores an Xet file: the bytes in the shared store.
function addSharedFile(cache, folder, rev, path, content, xetHash) {
  const repo = repoDirs(cache, folder, rev);
  const prefix = join(cache, "blobs", xetHash.slice(0, 2));
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(cache, "blobs", ".huggingface-shared-blobs"), "1\n");
  if (!existsSync(join(prefix, xetHash))) writeFileSync(join(prefix, xetHash), content);
  writeFileSync(join(prefix, `${xetHash}.refs`), `${folder}/blobs/${sha256(content)}\n`, { flag: "a" });
  symlinkSync(join("..", "..", "blobs", xetHash.slice(0, 2), xetHash), join(repo, "blobs", sha256(content)));
  symlinkSync(join("..", "..", "blobs", sha256(content)), join(repo, "snapshots", rev, path));
}
const move = (...args) => spawnSync(bin, ["cache", "move", ...args, "--yes"], { encoding: "utf8" });
const repoMap = (info) => new Map(info.repos.map((repo) => [`${repo.id.type}/${repo.id.name}`, repo]));
const fileOf = (repo, name) => repo?.revisions[0]?.files.find((f) => f.path.endsWith(name));

const root = mkdtempSync(join(tmpdir(), "hubcache-interop-repo-move-"));
try {
  const cache = join(root, "hub");
  const archive = join(root, "archive");
  addFile(cache, "models--org--big", commit("1"), "model.safetensors", "big weights");
  addFile(cache, "models--org--small", commit("2"), "w.bin", "small weights");
  const xet = "ab".repeat(32);
  addSharedFile(cache, "models--org--s", commit("3"), "x.bin", "shared bytes", xet);
  addSharedFile(cache, "models--org--t", commit("4"), "x.bin", "shared bytes", xet);

  for (const id of ["org/big", "org/s"]) {
    const r = move(id, "--to", archive, "--cache-dir", cache);
    check(r.status === 0, `cache move ${id} --to exits 0 (${r.status}: ${r.stderr.trim()})`);
  }
  check(lstatSync(join(cache, "models--org--big")).isSymbolicLink(), "the cache holds a symlink for org/big");
  check(lstatSync(join(archive, "models--org--s", "blobs", sha256("shared bytes"))).isFile(), "org/s's shared blob became its own");
  check(existsSync(join(cache, "blobs", "ab", xet)), "the payload stays: org/t still uses it");

  // This JS client predates the shared store: its root blobs/ is its one warning (as in scan_cache_shared.mjs).
  const onlyStore = (info) => info.warnings.length === 1 && String(info.warnings[0].message).endsWith(": blobs");
  let info = await scanCacheDir(cache);
  check(onlyStore(info), `no warnings but the store's (${info.warnings.map((w) => w.message).join("; ")})`);
  let repos = repoMap(info);
  check(repos.size === 4, `4 repos (got ${[...repos.keys()].join(", ")})`);
  const big = fileOf(repos.get("model/org/big"), "model.safetensors");
  check(big && readFileSync(big.path, "utf8") === "big weights", "org/big's file reads through the link");
  check(repos.get("model/org/big")?.size === "big weights".length, `org/big size ${repos.get("model/org/big")?.size}`);
  const s = fileOf(repos.get("model/org/s"), "x.bin");
  check(s && readFileSync(s.path, "utf8") === "shared bytes", "org/s's file reads from its home");
  const t = fileOf(repos.get("model/org/t"), "x.bin");
  check(t && readFileSync(t.path, "utf8") === "shared bytes", "org/t's shared file is intact");

  for (const id of ["org/big", "org/s"]) {
    const r = move(id, "--back", "--cache-dir", cache);
    check(r.status === 0, `cache move ${id} --back exits 0 (${r.status}: ${r.stderr.trim()})`);
  }
  check(lstatSync(join(cache, "models--org--big")).isDirectory(), "org/big is a real folder again");
  check(!existsSync(join(archive, "models--org--big")), "the archive copy is gone");
  info = await scanCacheDir(cache);
  repos = repoMap(info);
  check(onlyStore(info) && repos.size === 4, `4 repos, no warnings but the store's after --back (${info.warnings.length})`);
  const back = fileOf(repos.get("model/org/s"), "x.bin");
  check(back && readFileSync(back.path, "utf8") === "shared bytes", "org/s reads after --back");
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(failures === 0 ? "all interop repo move checks passed" : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
