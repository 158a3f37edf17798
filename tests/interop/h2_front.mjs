// An HTTP/2-only TLS front (node's http2 module, ALPN "h2" alone, like a CDN edge that speaks h2)
// that forwards every stream to an HTTP/1.1 upstream, for test_interop_h2.
// Usage: node h2_front.mjs <cert.pem> <key.pem> <upstream http://host:port> [delay ms]
// Each request waits `delay` ms (default 0) before it is forwarded: latency, so that a client
// keeps many requests in flight. Prints "https://127.0.0.1:<port>" once listening. On SIGTERM
// prints "STATS {sessions, streams, maxConcurrentStreams, perSession}" to stderr and exits 0: how
// many TLS connections the clients opened, how many requests they sent, the most streams open at
// once on one connection, and each connection's stream count and how it ended.
import fs from "node:fs";
import http from "node:http";
import http2 from "node:http2";

const [certFile, keyFile, upstreamUrl, delayArg] = process.argv.slice(2);
const delayMs = Number(delayArg ?? 0);
const upstream = new URL(upstreamUrl);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
// Connection-specific headers: forbidden in HTTP/2 (RFC 9113 section 8.2.2), dropped both ways.
const hopByHop = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host"]);

let sessions = 0;
let streams = 0;
let maxConcurrentStreams = 0;
const perSession = [];

const server = http2.createSecureServer({
	cert: fs.readFileSync(certFile),
	key: fs.readFileSync(keyFile),
	allowHTTP1: false,
});

server.on("session", (session) => {
	sessions++;
	const record = { streams: 0, end: "open" };
	perSession.push(record);
	let open = 0;
	session.on("stream", (stream) => {
		open++;
		record.streams++;
		maxConcurrentStreams = Math.max(maxConcurrentStreams, open);
		stream.on("close", () => open--);
	});
	session.on("goaway", (code) => (record.end = `goaway ${code}`));
	session.on("error", (e) => (record.end = `error ${e.message}`));
	session.on("close", () => record.end === "open" && (record.end = "closed"));
});

server.on("stream", (stream, headers) => {
	streams++;
	if (delayMs > 0) setTimeout(() => forward(stream, headers), delayMs);
	else forward(stream, headers);
});

function forward(stream, headers) {
	if (stream.destroyed) return;
	const forwarded = {};
	for (const [name, value] of Object.entries(headers)) {
		if (!name.startsWith(":") && !hopByHop.has(name)) forwarded[name] = value;
	}
	forwarded.host = upstream.host;
	const request = http.request(
		{
			host: upstream.hostname,
			port: upstream.port,
			method: headers[":method"],
			path: headers[":path"],
			headers: forwarded,
			agent,
		},
		(response) => {
			const answer = { ":status": response.statusCode };
			for (const [name, value] of Object.entries(response.headers)) {
				if (!hopByHop.has(name)) answer[name] = value;
			}
			if (stream.destroyed) return response.resume();
			stream.respond(answer);
			response.pipe(stream);
		},
	);
	request.on("error", (e) => {
		if (stream.destroyed) return;
		stream.respond({ ":status": 502 });
		stream.end(`upstream: ${e.message}`);
	});
	stream.on("error", () => request.destroy());
	stream.pipe(request);
}

process.on("SIGTERM", () => {
	process.stderr.write(`STATS ${JSON.stringify({ sessions, streams, maxConcurrentStreams, perSession })}\n`, () => process.exit(0));
});

server.listen(0, "127.0.0.1", () => {
	console.log(`https://127.0.0.1:${server.address().port}`);
});
