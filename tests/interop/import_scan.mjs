// Interop: @huggingface/hub's scanCacheDir on a cache written by `hubcache import`.
// Usage: node import_scan.mjs <hubcache binary> <folder to import>
// Exits 77 (ctest SKIP_RETURN_CODE) when node_modules is absent.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
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

const [bin, folder] = process.argv.slice(2);
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok" : "FAIL"}: ${what}`);
  if (!ok) failures++;
}

const cache = mkdtempSync(join(tmpdir(), "hubcache-interop-import-"));
try {
  const imports = [
    { id: "org/tiny", type: "model" },
    { id: "org/tiny-data", type: "dataset" },
  ];
  const expected = new Map();
  for (const { id, type } of imports) {
    const r = spawnSync(bin, ["import", folder, "--repo", id, "--repo-type", type, "--cache-dir", cache, "--json", "--copy"], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`hubcache import failed (${r.status}): ${r.stderr}`);
    const j = JSON.parse(r.stdout);
    // JS looks only at the files directly inside a snapshot (no sub-folders) and counts each blob once.
    const topBlobs = new Map();
    for (const f of j.files) if (!f.path.includes("/")) topBlobs.set(f.blob, f.size);
    const nested = j.files.filter((f) => f.path.includes("/")).length;
    check(nested > 0, `${type} ${id}: the import holds nested files too (${nested}), which JS does not count`);
    expected.set(`${type}/${id}`, {
      commit: j.commit,
      size: [...topBlobs.values()].reduce((a, b) => a + b, 0),
      filesCount: topBlobs.size,
    });
  }

  const info = await scanCacheDir(cache);
  check(info.warnings.length === 0, `no warnings (${info.warnings.map((w) => w.message).join("; ")})`);
  check(info.repos.length === imports.length, `${imports.length} repos found (got ${info.repos.length})`);
  let total = 0;
  for (const repo of info.repos) {
    const key = `${repo.id.type}/${repo.id.name}`;
    const exp = expected.get(key);
    check(exp !== undefined, `repo ${key} is one that was imported`);
    if (!exp) continue;
    total += exp.size;
    check(repo.size === exp.size, `${key}: size ${repo.size} == ${exp.size}`);
    check(repo.filesCount === exp.filesCount, `${key}: filesCount ${repo.filesCount} == ${exp.filesCount}`);
    check(repo.revisions.length === 1, `${key}: one revision`);
    const rev = repo.revisions[0];
    check(rev?.commitOid === exp.commit, `${key}: revision ${rev?.commitOid} is the imported commit`);
    check(JSON.stringify(rev?.refs) === JSON.stringify(["main"]), `${key}: refs ${JSON.stringify(rev?.refs)} == ["main"]`);
    check(rev?.files.length === exp.filesCount, `${key}: ${rev?.files.length} top-level files`);
  }
  check(info.size === total, `total size ${info.size} == ${total}`);
} finally {
  rmSync(cache, { recursive: true, force: true });
}
console.log(failures === 0 ? "all interop import checks passed" : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
