// The npm parsers as oracles for `hubcache inspect` (test_interop_inspect.cpp):
//   node inspect_oracle.mjs safetensors <hubUrl> <repo>   @huggingface/hub's parseSafetensorsMetadata
//   node inspect_oracle.mjs gguf <fileUrl>                @huggingface/gguf's gguf() (range reads)
// Prints one last line "RESULT <json>": {ok, tensors: [{name, dtype, shape}], parameterCount:
// {dtype: n}, parameterTotal} or {ok: false, message}.
import { parseSafetensorsMetadata } from "@huggingface/hub";
import { gguf, GGMLQuantizationType } from "@huggingface/gguf";

const [mode, ...args] = process.argv.slice(2);
try {
	const out = { ok: true, tensors: [], parameterCount: {}, parameterTotal: 0 };
	if (mode === "safetensors") {
		const [hubUrl, repo] = args;
		const r = await parseSafetensorsMetadata({ repo, hubUrl, computeParametersCount: true });
		const headers = r.sharded ? Object.values(r.headers) : [r.header];
		for (const h of headers)
			for (const [name, info] of Object.entries(h)) {
				if (name === "__metadata__") continue;
				out.tensors.push({ name, dtype: info.dtype, shape: info.shape });
			}
		out.parameterCount = r.parameterCount;
		out.parameterTotal = r.parameterTotal ?? Object.values(r.parameterCount).reduce((a, b) => a + b, 0);
		out.sharded = r.sharded;
	} else if (mode === "gguf") {
		const [url] = args;
		const r = await gguf(url, { computeParametersCount: true });
		for (const t of r.tensorInfos) {
			const n = t.shape.reduce((a, b) => a * b, 1n);
			const dtype = GGMLQuantizationType[t.dtype];
			out.tensors.push({ name: t.name, dtype, shape: t.shape.map(Number) });
			out.parameterCount[dtype] = (out.parameterCount[dtype] ?? 0) + Number(n);
		}
		out.parameterTotal = r.parameterCount;
		out.version = r.metadata.version;
		out.fileType = Number(r.metadata["general.file_type"]);
	} else {
		throw new Error(`unknown mode ${mode}`);
	}
	console.log("RESULT " + JSON.stringify(out));
} catch (e) {
	console.log("RESULT " + JSON.stringify({ ok: false, message: String(e?.stack ?? e) }));
	process.exitCode = 3;
}
