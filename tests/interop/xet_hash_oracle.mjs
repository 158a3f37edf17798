// Xet hashes of files as @huggingface/xetchunk-wasm computes them, for test_interop_xet_hash (the
// JS package is an implementation independent of hubcache's). Exit 77 = skipped: node_modules missing.
//   node xet_hash_oracle.mjs <manifest.json>
// The manifest: {"files": [{"path", "ours": {"lengths": [...], "hashes": [...]}}]}, where "ours" is
// hubcache's chunking of the file (chunk sizes in order, chunk hashes as Xet hash text).
// Prints, per file, in manifest order:
//   js:        the package's own chunking (lengths, chunk hashes) and its xorb and file hashes
//   aligned:   for each of hubcache's chunks, the first chunk the package cuts when started at that
//              chunk's offset (length, hash): its verdict on each boundary on its own, so that one
//              disagreement does not shift every later chunk
//   over_ours: the package's hashes over hubcache's chunking: each chunk's hash (keyed BLAKE3 of
//              those bytes), the xorb and file hashes of those leaves, and their verification hash
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
for (const pkg of ["xetchunk-wasm", "blake3-jit"]) {
  if (!existsSync(join(here, "node_modules", "@huggingface", pkg))) {
    console.log(`SKIP: tests/interop/node_modules/@huggingface/${pkg} is missing (run scripts/install-deps.sh)`);
    process.exit(77);
  }
}
const xet = await import("@huggingface/xetchunk-wasm");
const { Hasher } = await import("@huggingface/blake3-jit");

// The chunk hash key (Xet spec hashing.md DATA_KEY); the package keeps its own copy private.
const DATA_KEY = new Uint8Array([
  102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228, 33, 16, 155, 235, 43, 88, 180, 208,
  176, 75, 147, 173, 242, 41,
]);

const manifest = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = [];
for (const entry of manifest.files) {
  const data = new Uint8Array(readFileSync(entry.path));
  const chunks = xet.getChunks(data);
  const js = {
    lengths: chunks.map((c) => c.length),
    hashes: chunks.map((c) => xet.hashToHex(c.hash)),
    xorb: xet.hashToHex(xet.xorbHash(chunks)),
    file: xet.hashToHex(xet.fileHash(chunks)),
  };

  // A chunk depends only on the bytes from its start to at most 128 KiB on.
  const aligned = [];
  let start = 0;
  for (const length of entry.ours.lengths) {
    const first = xet.getChunks(data.subarray(start, Math.min(data.length, start + 128 * 1024)))[0];
    aligned.push({ length: first.length, hash: xet.hashToHex(first.hash) });
    start += length;
  }

  let at = 0;
  const ours = entry.ours.lengths.map((length, i) => {
    const hash = Hasher.newKeyed(DATA_KEY)
      .update(data.subarray(at, at + length))
      .finalize(32);
    at += length;
    return { length, hash, given: xet.hexToBytes(entry.ours.hashes[i]) };
  });
  if (at !== data.length) throw new Error(`${entry.path}: the manifest's chunks cover ${at} of ${data.length} bytes`);
  // xorbHash/fileHash/verificationHash take the leaves hubcache gave, so the merkle tree is checked
  // on its own even where a chunk hash differed.
  const leaves = ours.map((c) => ({ length: c.length, hash: c.given }));
  const over_ours = {
    chunk_hashes: ours.map((c) => xet.hashToHex(c.hash)),
    xorb: xet.hashToHex(xet.xorbHash(leaves)),
    file: xet.hashToHex(xet.fileHash(leaves)),
    verification: xet.hashToHex(xet.verificationHash(leaves.map((c) => c.hash))),
  };
  out.push({ path: entry.path, size: data.length, js, aligned, over_ours });
}
console.log(JSON.stringify({ files: out }));
