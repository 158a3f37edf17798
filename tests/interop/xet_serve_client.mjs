// Drives the real JS client (@huggingface/hub) against `hubcache serve --xet`, for
// test_interop_xet_serve. Usage:
//   node xet_serve_client.mjs file <hubUrl> <repo> <path>                 whole file via downloadFile
//   node xet_serve_client.mjs range <hubUrl> <repo> <path> <start> <end>  blob.slice(start, end)
//   node xet_serve_client.mjs snapshot <hubUrl> <repo> <cacheDir>         snapshotDownload
// Prints one last line "RESULT <json>": {ok, sha256, size, xet} or {ok, path}, or {ok:false, message}.
import { createHash } from "node:crypto";
import { downloadFile, snapshotDownload } from "@huggingface/hub";

const [mode, hubUrl, repo, ...rest] = process.argv.slice(2);
try {
	let out;
	if (mode === "snapshot") {
		out = { path: await snapshotDownload({ repo, hubUrl, cacheDir: rest[0], revision: "main" }) };
	} else {
		const blob = await downloadFile({ repo, path: rest[0], hubUrl });
		if (!blob) throw new Error("no such file");
		const part = mode === "range" ? blob.slice(Number(rest[1]), Number(rest[2])) : blob;
		const bytes = Buffer.from(await part.arrayBuffer());
		out = {
			sha256: createHash("sha256").update(bytes).digest("hex"),
			size: bytes.length,
			xet: blob.constructor.name === "XetBlob",
		};
	}
	console.log("RESULT " + JSON.stringify({ ok: true, ...out }));
} catch (e) {
	console.log("RESULT " + JSON.stringify({ ok: false, status: e.statusCode ?? null, message: String(e.stack ?? e) }));
	process.exitCode = 3;
}
