// Interop: @huggingface/hub's scanCacheDir and `hubcache cache ls --json` must agree on a cache
// laid out the way the clients write it. JS does not descend into snapshot sub-folders and reads
// only top-level refs, so this cache keeps to top-level files and refs.
//   node scan_cache.mjs <path to hubcache>      (exit 77 = skipped: node_modules missing)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
  console.error("usage: node scan_cache.mjs <hubcache binary>");
  process.exit(2);
}

const root = realpathSync(mkdtempSync(join(tmpdir(), "hubcache-interop-scan-")));  // hubcache prints resolved paths
const commit = (n) => String(n % 10).repeat(40);
const sha256 = (s) => createHash("sha256").update(s).digest("hex");

// Writes blobs/<sha256> and snapshots/<commit>/<name> -> ../../blobs/<sha256> (or a copy).
function addFile(folder, rev, name, content, { copy = false } = {}) {
  const repo = join(root, folder);
  mkdirSync(join(repo, "blobs"), { recursive: true });
  mkdirSync(join(repo, "refs"), { recursive: true });
  mkdirSync(join(repo, "snapshots", rev), { recursive: true });
  const pointer = join(repo, "snapshots", rev, name);
  if (copy) {
    writeFileSync(pointer, content);
    return;
  }
  const etag = sha256(content);
  writeFileSync(join(repo, "blobs", etag), content);
  symlinkSync(`../../blobs/${etag}`, pointer);
}

let failures = 0;
function check(cond, message) {
  if (!cond) {
    failures++;
    console.error("FAIL: " + message);
  }
}

try {
  // A model with two revisions sharing a blob, refs main and v1.0.
  addFile("models--org--model", commit(1), "config.json", '{"a": 1}');
  addFile("models--org--model", commit(1), "model.safetensors", "w".repeat(5000));
  addFile("models--org--model", commit(2), "model.safetensors", "w".repeat(5000));
  addFile("models--org--model", commit(2), "tokenizer.json", "t".repeat(777));
  writeFileSync(join(root, "models--org--model", "refs", "main"), commit(2));
  writeFileSync(join(root, "models--org--model", "refs", "v1.0"), commit(1));
  // A dataset, a space, a no-symlink model, a repo with an empty revision and an orphan blob.
  addFile("datasets--org--data", commit(3), "train.csv", "a,b\n".repeat(300));
  writeFileSync(join(root, "datasets--org--data", "refs", "main"), commit(3));
  addFile("spaces--org--app", commit(4), "app.py", "print('hi')\n");
  addFile("models--copied", commit(5), "weights.bin", "c".repeat(1234), { copy: true });
  addFile("models--copied", commit(6), "weights.bin", "c".repeat(1234), { copy: true });
  mkdirSync(join(root, "models--empty--rev", "snapshots", commit(7)), { recursive: true });
  mkdirSync(join(root, "models--empty--rev", "refs"), { recursive: true });
  writeFileSync(join(root, "models--org--model", "blobs", "f".repeat(64)), "orphan");
  mkdirSync(join(root, ".locks", "models--org--model"), { recursive: true });

  const js = await scanCacheDir(root);
  const ours = JSON.parse(execFileSync(hubcache, ["cache", "ls", "--json", "--cache-dir", root], { encoding: "utf8" }));
  const oursRevs = JSON.parse(
    execFileSync(hubcache, ["cache", "ls", "--json", "--revisions", "--cache-dir", root], { encoding: "utf8" }),
  );

  check(js.warnings.length === 0, `JS warnings: ${js.warnings.map(String).join("; ")}`);
  check(js.repos.length === ours.length, `repo count: JS ${js.repos.length}, hubcache ${ours.length}`);
  let jsTotal = 0;
  for (const repo of js.repos) {
    const id = `${repo.id.type}/${repo.id.name}`;
    const mine = ours.find((r) => r.id === id);
    check(mine !== undefined, `${id} missing from hubcache cache ls`);
    if (!mine) continue;
    jsTotal += repo.size;
    check(mine.size_bytes === repo.size, `${id} size: JS ${repo.size}, hubcache ${mine.size_bytes}`);
    check(mine.nb_files === repo.filesCount, `${id} files: JS ${repo.filesCount}, hubcache ${mine.nb_files}`);
    check(mine.revisions === repo.revisions.length, `${id} revisions: JS ${repo.revisions.length}, hubcache ${mine.revisions}`);
    check(mine.path === repo.path, `${id} path: JS ${repo.path}, hubcache ${mine.path}`);
    check(Math.abs(mine.last_modified_ts * 1000 - repo.lastModifiedAt.getTime()) < 2,
          `${id} last modified: JS ${repo.lastModifiedAt.getTime()}, hubcache ${mine.last_modified_ts}`);
    check(Math.abs(mine.last_accessed_ts * 1000 - repo.lastAccessedAt.getTime()) < 2,
          `${id} last accessed: JS ${repo.lastAccessedAt.getTime()}, hubcache ${mine.last_accessed_ts}`);
    const jsRefs = repo.revisions.flatMap((r) => r.refs).sort();
    check(JSON.stringify(jsRefs) === JSON.stringify(mine.refs), `${id} refs: JS ${jsRefs}, hubcache ${mine.refs}`);
    for (const rev of repo.revisions) {
      const mr = oursRevs.find((r) => r.id === id && r.revision === rev.commitOid);
      check(mr !== undefined, `${id}@${rev.commitOid} missing from --revisions`);
      if (!mr) continue;
      check(mr.nb_files === rev.files.length, `${id}@${rev.commitOid} files: JS ${rev.files.length}, hubcache ${mr.nb_files}`);
      check(mr.size_bytes === rev.size, `${id}@${rev.commitOid} size: JS ${rev.size}, hubcache ${mr.size_bytes}`);
      check(mr.snapshot_path === rev.path, `${id}@${rev.commitOid} path: JS ${rev.path}, hubcache ${mr.snapshot_path}`);
    }
  }
  check(jsTotal === js.size, "JS total size is the sum of its repos");
  const oursTotal = ours.reduce((s, r) => s + r.size_bytes, 0);
  check(oursTotal === js.size, `total size: JS ${js.size}, hubcache ${oursTotal}`);
  // The numbers themselves, so that agreeing on zeros cannot pass.
  const model = ours.find((r) => r.id === "model/org/model");
  check(model && model.size_bytes === 8 + 5000 + 777 && model.nb_files === 3, "model/org/model numbers");
} finally {
  rmSync(root, { recursive: true, force: true });
}

if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("scanCacheDir and hubcache cache ls agree");
