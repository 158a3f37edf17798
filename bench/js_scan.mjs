// Runs @huggingface/hub's scanCacheDir once on CACHE_DIR and prints a one-line summary; with
// --in-process it also reports the scan time measured inside node (no startup cost).
//   node bench/js_scan.mjs CACHE_DIR [--in-process]
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, "..", "tests", "interop", "node_modules", "@huggingface", "hub", "dist", "index.mjs");
const { scanCacheDir } = await import(pathToFileURL(entry).href);
const start = process.hrtime.bigint();
const info = await scanCacheDir(process.argv[2]);
const ms = Number(process.hrtime.bigint() - start) / 1e6;
const files = info.repos.reduce((n, r) => n + r.filesCount, 0);
const line = `${info.repos.length} repos, ${files} blobs, ${info.size} bytes, ${info.warnings.length} warnings`;
console.log(process.argv.includes("--in-process") ? `${line}; scanCacheDir took ${ms.toFixed(1)} ms` : line);
