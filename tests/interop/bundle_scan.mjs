// Prints what @huggingface/hub's scanCacheDir sees in a cache, as JSON, for test_interop_bundle
// (a bundle unpacked with plain `tar -x`). Exit 77 = skipped: node_modules missing.
//   node bundle_scan.mjs <cache dir>
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, "node_modules", "@huggingface", "hub"))) {
  console.log("SKIP: tests/interop/node_modules is missing (run scripts/install-deps.sh)");
  process.exit(77);
}
const { scanCacheDir } = await import("@huggingface/hub");
const info = await scanCacheDir(process.argv[2]);
console.log(
  JSON.stringify({
    warnings: info.warnings.map(String),
    size: info.size,
    repos: info.repos.map((r) => ({
      id: `${r.id.type}/${r.id.name}`,
      filesCount: r.filesCount,
      size: r.size,
      revisions: r.revisions.map((v) => ({ commit: v.commitOid, refs: v.refs, files: v.files.length })),
    })),
  }),
);
