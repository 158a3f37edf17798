// Interop: on a cache with huggingface_hub's (>= 1.32) shared blob store, @huggingface/hub's
// scanCacheDir (which reads through the links) and `hubcache cache ls --json` agree on every
// repo's logical numbers. JS, like older Python, reports the top-level `blobs` as an invalid repo
// and sums repos for its total; hubcache skips the marked store and counts each payload once.
//   node scan_cache_shared.mjs <path to hubcache>      (exit 77 = skipped: node_modules missing)
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, "node_modules", "@huggingface", "hub"))) {
  console.log("SKIP: tests/interop/node_modules is missing (run scripts/install-deps.sh)");
  process.exit(77);
}
const { scanCacheDir } = await import("@huggingface/hub");
const hubcache = process.argv[2];
if (!hubcache) {
  console.error("usage: node scan_cache_shared.mjs <hubcache binary>");
  process.exit(2);
}

const root = realpathSync(mkdtempSync(join(tmpdir(), "hubcache-interop-shared-")));
const commit = (n) => String(n % 10).repeat(40);
const sha256 = (s) => createHash("sha256").update(s).digest("hex");

// The store as Python writes it: marker, payload, manifest line, relative repo link.
mkdirSync(join(root, "blobs"), { recursive: true });
writeFileSync(join(root, "blobs", ".huggingface-shared-blobs"), "1\n");
function addShared(folder, rev, name, content, hash) {
  const repo = join(root, folder);
  const etag = sha256(content);
  const prefix = join(root, "blobs", hash.slice(0, 2));
  mkdirSync(prefix, { recursive: true });
  if (!existsSync(join(prefix, hash))) {
    writeFileSync(join(prefix, hash), content);
    chmodSync(join(prefix, hash), 0o444);
  }
  writeFileSync(join(prefix, hash + ".refs"), `${folder}/blobs/${etag}\n`, { flag: "a" });
  mkdirSync(join(repo, "blobs"), { recursive: true });
  mkdirSync(join(repo, "refs"), { recursive: true });
  mkdirSync(join(repo, "snapshots", rev), { recursive: true });
  if (!existsSync(join(repo, "blobs", etag))) symlinkSync(`../../blobs/${hash.slice(0, 2)}/${hash}`, join(repo, "blobs", etag));
  symlinkSync(`../../blobs/${etag}`, join(repo, "snapshots", rev, name));
  writeFileSync(join(repo, "refs", "main"), rev);
}

let failures = 0;
function check(cond, message) {
  if (!cond) {
    failures++;
    console.error("FAIL: " + message);
  }
}

try {
  const s = "ab" + "1".repeat(62), t = "cd" + "2".repeat(62);
  addShared("models--org--a", commit(1), "model.safetensors", "w".repeat(5000), s);
  addShared("models--org--a", commit(1), "tokenizer.json", "t".repeat(700), t);
  addShared("models--org--b", commit(2), "model.safetensors", "w".repeat(5000), s);

  const js = await scanCacheDir(root);
  const ours = JSON.parse(execFileSync(hubcache, ["cache", "ls", "--json", "--cache-dir", root], { encoding: "utf8" }));
  const table = execFileSync(hubcache, ["cache", "ls", "--cache-dir", root], { encoding: "utf8" });

  check(js.warnings.length === 1 && String(js.warnings[0]).includes("blobs"),
        `JS warnings (only the store expected): ${js.warnings.map(String).join("; ")}`);
  check(js.repos.length === 2 && ours.length === 2, `repo count: JS ${js.repos.length}, hubcache ${ours.length}`);
  for (const repo of js.repos) {
    const id = `${repo.id.type}/${repo.id.name}`;
    const mine = ours.find((r) => r.id === id);
    check(mine !== undefined, `${id} missing from hubcache cache ls`);
    if (!mine) continue;
    check(mine.size_bytes === repo.size, `${id} size: JS ${repo.size}, hubcache ${mine.size_bytes}`);
    check(mine.nb_files === repo.filesCount, `${id} files: JS ${repo.filesCount}, hubcache ${mine.nb_files}`);
  }
  check(js.size === 5700 + 5000, `JS total (logical) ${js.size}`);
  check(table.includes("and 5.7K on disk."), `hubcache total (physical, each payload once): ${table}`);
  const a = ours.find((r) => r.id === "model/org/a");
  check(a && a.size_bytes === 5700 && a.nb_files === 2, "model/org/a numbers");
} finally {
  rmSync(root, { recursive: true, force: true });
}

if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("scanCacheDir and hubcache cache ls agree on a shared-store cache");
