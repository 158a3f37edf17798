// Drives the real JS client (@huggingface/hub) against a hubcache mirror, for test_interop_serve.
// Usage: node serve_client.mjs <snapshot|file> <hubUrl> <cacheDir> <repo> <token|-> [path] [revision]
// Prints one last line "RESULT <json>": {ok, path} or {ok:false, status, message}.
import { snapshotDownload, downloadFileToCacheDir } from "@huggingface/hub";

const [mode, hubUrl, cacheDir, repo, token, path, revision] = process.argv.slice(2);
const accessToken = token && token !== "-" ? token : undefined;
try {
	let out;
	if (mode === "snapshot") {
		out = await snapshotDownload({ repo, hubUrl, cacheDir, revision: revision || "main", accessToken });
	} else {
		out = await downloadFileToCacheDir({ repo, path, hubUrl, cacheDir, revision: revision || "main", accessToken });
	}
	console.log("RESULT " + JSON.stringify({ ok: true, path: out }));
} catch (e) {
	console.log("RESULT " + JSON.stringify({ ok: false, status: e.statusCode ?? null, message: String(e.message) }));
	process.exitCode = 3;
}
