// The shipped Kubernetes manifests (deploy/kubernetes/) checked against the real hubcache binary:
// the StatefulSet's command and args run as written (only host, port and mount paths replaced, the
// upstream pointed at a local `hubcache serve` holding the model), its probes and Prometheus
// annotations answered on the port they name, the Service and HF_ENDPOINT wired to that port, and
// the init container's `hubcache download` filling the volume the main container then reads with
// HF_HUB_OFFLINE=1. Everything runs on 127.0.0.1 and is stopped at the end.
//   node deploy_manifests.mjs <path to hubcache> <source dir>   (exit 77 = skipped: node_modules missing)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, "node_modules", "yaml"))) {
  console.log("SKIP: tests/interop/node_modules/yaml is missing (run scripts/install-deps.sh)");
  process.exit(77);
}
const YAML = await import("yaml");
const [hubcache, sourceDir] = process.argv.slice(2);
if (!hubcache || !sourceDir) {
  console.error("usage: node deploy_manifests.mjs <hubcache binary> <source dir>");
  process.exit(2);
}

let failures = 0;
function check(ok, what, detail = "") {
  if (ok) {
    console.log(`ok   ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${what}${detail ? `\n     ${detail}` : ""}`);
  }
  return ok;
}
function fatal(what, detail = "") {
  check(false, what, detail);
  throw new Error(what);
}

// ---- The manifests ----------------------------------------------------------------------------
const manifestDir = join(sourceDir, "deploy", "kubernetes");
const docs = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith(".yaml") || e.name.endsWith(".yml")) {
      for (const d of YAML.parseAllDocuments(readFileSync(p, "utf8"))) {
        if (d.errors.length) fatal(`${relative(sourceDir, p)} parses`, d.errors.map(String).join("; "));
        const obj = d.toJS();
        if (obj) docs.push({ file: relative(sourceDir, p), obj });
      }
    }
  }
})(manifestDir);
const ofKind = (kind) => docs.filter((d) => d.obj.kind === kind);
const statefulSets = ofKind("StatefulSet");
const services = ofKind("Service");
const deployments = ofKind("Deployment");
check(statefulSets.length === 1, "one StatefulSet", `found ${statefulSets.length}`);
check(services.length === 1, "one Service", `found ${services.length}`);
if (statefulSets.length !== 1 || services.length !== 1) fatal("the origin manifests are as expected");
const sts = statefulSets[0].obj;
const svc = services[0].obj;
const pod = sts.spec.template;
const origin = pod.spec.containers[0];
check(pod.spec.containers.length === 1, "the StatefulSet's pod has one container");

const isSubset = (a, b) => Object.entries(a ?? {}).every(([k, v]) => b?.[k] === v);
check(Object.keys(svc.spec.selector ?? {}).length > 0 && isSubset(svc.spec.selector, pod.metadata.labels),
      "the Service selects the StatefulSet's pods", JSON.stringify({ selector: svc.spec.selector, labels: pod.metadata.labels }));
check(isSubset(sts.spec.selector.matchLabels, pod.metadata.labels), "the StatefulSet's selector matches its pod labels");
check(sts.spec.serviceName === svc.metadata.name, "the StatefulSet's serviceName is the Service");
check(sts.metadata.namespace === svc.metadata.namespace, "the StatefulSet and the Service share a namespace");

// A named or numbered port of the origin container -> its number.
function containerPort(port) {
  if (typeof port === "number") return (origin.ports ?? []).some((p) => p.containerPort === port) ? port : undefined;
  return (origin.ports ?? []).find((p) => p.name === port)?.containerPort;
}
const argValue = (args, flag) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
};
const args = origin.args ?? [];
check(JSON.stringify(origin.command) === JSON.stringify(["hubcache"]), "the origin runs `hubcache`", JSON.stringify(origin.command));
check(args[0] === "serve", "... `hubcache serve`", JSON.stringify(args));
check(argValue(args, "--host") === "0.0.0.0", "... listening on all interfaces (--host 0.0.0.0)");
const listenPort = Number(argValue(args, "--port"));
check((origin.ports ?? []).some((p) => p.containerPort === listenPort), "--port is a declared containerPort",
      `--port ${listenPort}, ports ${JSON.stringify(origin.ports)}`);
const svcPort = svc.spec.ports[0];
check(svc.spec.ports.length === 1, "the Service has one port");
check(containerPort(svcPort.targetPort) === listenPort, "the Service's targetPort is the port hubcache listens on",
      `targetPort ${svcPort.targetPort} -> ${containerPort(svcPort.targetPort)}, --port ${listenPort}`);

// Mount paths of the origin container -> local temp folders, for the paths in its args.
const root = realpathSync(mkdtempSync(join(tmpdir(), "hubcache-deploy-")));
function mapper(container, tag) {
  const mounts = (container.volumeMounts ?? []).map((m) => ({ ...m, local: join(root, tag, m.name) }));
  for (const m of mounts) mkdirSync(m.local, { recursive: true });
  return {
    mounts,
    path(p) {
      const m = mounts.find((m) => p === m.mountPath || p.startsWith(m.mountPath + "/"));
      return m ? m.local + p.slice(m.mountPath.length) : undefined;
    },
  };
}
const originFs = mapper(origin, "origin");
const cacheDir = argValue(args, "--cache-dir");
const claim = sts.spec.volumeClaimTemplates?.[0]?.metadata?.name;
const cacheMount = originFs.mounts.find((m) => m.mountPath === cacheDir);
check(cacheMount !== undefined && cacheMount.name === claim, "--cache-dir is the volumeClaimTemplate's mount",
      `--cache-dir ${cacheDir}, mounts ${JSON.stringify(origin.volumeMounts)}, claim ${claim}`);
const tokenFile = argValue(args, "--upstream-token-file");
const signingKeyFile = argValue(args, "--signing-key-file");
for (const [flag, file] of [["--upstream-token-file", tokenFile], ["--signing-key-file", signingKeyFile]]) {
  if (file === undefined) continue;
  const m = originFs.mounts.find((m) => file.startsWith(m.mountPath + "/"));
  const vol = pod.spec.volumes?.find((v) => v.name === m?.name);
  const key = file.slice((m?.mountPath.length ?? 0) + 1);
  check(vol?.secret !== undefined && (vol.secret.items ?? [{ path: key }]).some((i) => i.path === key),
        `${flag} is a file of a mounted Secret`, JSON.stringify({ file, vol }));
}

// Prometheus annotations, probes.
const ann = pod.metadata.annotations ?? {};
check(ann["prometheus.io/scrape"] === "true", "prometheus.io/scrape is \"true\"");
const probes = { readiness: origin.readinessProbe, liveness: origin.livenessProbe };
for (const [name, p] of Object.entries(probes))
  check(p?.httpGet?.path === "/health" && containerPort(p.httpGet.port) === listenPort,
        `the ${name} probe asks /health on hubcache's port`, JSON.stringify(p));

// ---- Processes ----------------------------------------------------------------------------------
const children = [];
const baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(root, "home"), HF_HOME: join(root, "hf-home") };
mkdirSync(baseEnv.HOME, { recursive: true });

// Starts a server; resolves with its URL (the first stdout line) or rejects.
function startServer(argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => reject(new Error(`no URL within 10 s: ${argv.join(" ")}\n${err}`)), 10000);
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      resolve({ url: line.trim(), child, stderr: () => err });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before serving: ${argv.join(" ")}\n${err}`));
    });
  });
}
function run(argv, env) {
  const r = spawnSync(argv[0], argv.slice(1), { env, encoding: "utf8", timeout: 60000 });
  return { code: r.status, out: r.stdout ?? "", err: r.stderr ?? "" };
}
async function get(url) {
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(5000) });
      return { status: r.status, body: await r.text() };
    } catch (e) {
      if (i >= 20) return { status: 0, body: String(e) };
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

try {
  // The model the init container downloads, held by a local `hubcache serve` standing in for huggingface.co.
  const init = deployments.flatMap((d) => d.obj.spec.template.spec.initContainers ?? []).find((c) => c.args?.[0] === "download");
  if (!init) fatal("a Deployment has an init container running `hubcache download`");
  const repo = init.args.slice(1).find((a) => !a.startsWith("-"));
  const commit = "4c6b9f2e0d1a3b5c7e9f8a6b4c2d0e1f3a5b7c9d";
  const hubCache = join(root, "hub");
  const imported = run([hubcache, "import", join(sourceDir, "sample", "tiny-model"), "--repo", repo, "--commit", commit,
                        "--copy", "--cache-dir", hubCache], baseEnv);
  if (!check(imported.code === 0, `the sample imported as ${repo}`, imported.err)) throw new Error("import failed");
  const hub = await startServer([hubcache, "serve", "--cache-dir", hubCache, "--port", "0", "--quiet"], baseEnv);

  // The StatefulSet's command, as written but for host, port, mount paths and the upstream's URL.
  const localArgs = args.map((a, i) => {
    const flag = args[i - 1];
    if (flag === "--host") return "127.0.0.1";
    if (flag === "--port") return "0";
    if (flag === "--upstream") return hub.url;
    return originFs.path(a) ?? a;
  });
  if (tokenFile !== undefined) writeFileSync(originFs.path(tokenFile), "hf_deploy_test_token\n");
  // What `openssl rand -hex 32` (the README's command) makes.
  if (signingKeyFile !== undefined) writeFileSync(originFs.path(signingKeyFile), "ab".repeat(32) + "\n");
  const server = await startServer([hubcache, ...localArgs], baseEnv);
  const port = new URL(server.url).port;
  console.log(`     origin: ${[hubcache, ...localArgs].join(" ")} -> ${server.url}`);
  const at = (path) => `http://127.0.0.1:${port}${path}`;  // port stands for listenPort (8080)
  for (const [name, p] of Object.entries(probes)) {
    const r = await get(at(p.httpGet.path));
    check(r.status === 200, `the ${name} probe's GET ${p.httpGet.path} answers 200`, `${r.status} ${r.body}`);
  }
  check(Number(ann["prometheus.io/port"]) === listenPort, "prometheus.io/port is hubcache's port", ann["prometheus.io/port"]);
  const metrics = await get(at(ann["prometheus.io/path"] ?? "/metrics"));
  check(metrics.status === 200 && metrics.body.includes("# TYPE hubcache_requests_total counter"),
        `prometheus.io/path (${ann["prometheus.io/path"]}) serves hubcache's metrics`, `${metrics.status} ${metrics.body.slice(0, 200)}`);

  // Every HF_ENDPOINT in the client manifests names the Service and its port.
  const svcHost = `${svc.metadata.name}.${svc.metadata.namespace}.svc`;
  const endpoints = deployments.flatMap((d) =>
    [...(d.obj.spec.template.spec.initContainers ?? []), ...d.obj.spec.template.spec.containers].flatMap((c) =>
      (c.env ?? []).filter((e) => e.name === "HF_ENDPOINT").map((e) => ({ file: d.file, container: c.name, value: e.value }))));
  check(endpoints.length >= 2, "HF_ENDPOINT is set in the client manifests", JSON.stringify(endpoints));
  for (const e of endpoints) {
    const u = new URL(e.value);
    check(u.protocol === "http:" && (u.hostname === svcHost || u.hostname === `${svcHost}.cluster.local`) &&
            Number(u.port) === svcPort.port && (u.pathname === "/" || u.pathname === ""),
          `${e.file} ${e.container}: HF_ENDPOINT ${e.value} is the Service (${svcHost}:${svcPort.port})`);
  }
  for (const d of deployments)
    check(d.obj.metadata.namespace === svc.metadata.namespace, `${d.file} is in the Service's namespace`);

  // The init container's download, through the origin (the Service leads to it), into its volume.
  const initPod = deployments.find((d) => (d.obj.spec.template.spec.initContainers ?? []).includes(init)).obj.spec.template.spec;
  check(JSON.stringify(init.command) === JSON.stringify(["hubcache"]), "the init container runs `hubcache`", JSON.stringify(init.command));
  const podFs = mapper(init, "pod");  // shared by the main container through the volume names
  const initEnv = { ...baseEnv };
  for (const e of init.env ?? []) initEnv[e.name] = e.name === "HF_ENDPOINT" ? server.url : podFs.path(e.value) ?? e.value;
  check((init.env ?? []).some((e) => e.name === "HF_ENDPOINT"), "the init container's endpoint comes from HF_ENDPOINT");
  const initArgs = init.args.map((a) => podFs.path(a) ?? a);
  const downloaded = run([hubcache, ...initArgs], initEnv);
  console.log(`     init: ${[hubcache, ...initArgs].join(" ")} (HF_ENDPOINT=${server.url})`);
  check(downloaded.code === 0, "the init container's `hubcache download` succeeds", downloaded.out + downloaded.err);
  const proxied = join(originFs.path(cacheDir), "models--" + repo.replace("/", "--"), "snapshots", commit);
  check(existsSync(proxied), "... and went through the origin (its cache now holds the snapshot)", proxied);

  // The main container: same volume, HF_HUB_OFFLINE=1, its HF_HUB_CACHE resolves the model.
  const main = initPod.containers[0];
  const env = Object.fromEntries((main.env ?? []).map((e) => [e.name, e.value]));
  check(env.HF_HUB_OFFLINE === "1", "the main container sets HF_HUB_OFFLINE=1");
  check(env.HF_ENDPOINT === undefined, "the main container has no HF_ENDPOINT (it never downloads)");
  const mainMount = (main.volumeMounts ?? []).find((m) => env.HF_HUB_CACHE?.startsWith(m.mountPath));
  const initMount = (init.volumeMounts ?? []).find((m) => m.name === mainMount?.name);
  const vol = initPod.volumes?.find((v) => v.name === mainMount?.name);
  check(vol?.emptyDir !== undefined && initMount !== undefined, "HF_HUB_CACHE is on an emptyDir the init container mounts too",
        JSON.stringify({ HF_HUB_CACHE: env.HF_HUB_CACHE, main: main.volumeMounts, init: init.volumeMounts }));
  // Map the main container's path through the volume name (its mountPath may differ from the init's).
  const hubCacheLocal = initMount && mainMount
    ? join(root, "pod", initMount.name) + env.HF_HUB_CACHE.slice(mainMount.mountPath.length)
    : join(root, "nowhere");
  const mainEnv = { ...baseEnv, HF_HUB_OFFLINE: env.HF_HUB_OFFLINE, HF_HUB_CACHE: hubCacheLocal };
  server.child.kill("SIGTERM");  // offline means offline: nothing left to answer
  hub.child.kill("SIGTERM");
  const resolved = run([hubcache, "resolve", repo, "--json"], mainEnv);
  check(resolved.code === 0, `HF_HUB_OFFLINE=1 hubcache resolve ${repo} succeeds in the main container's cache`, resolved.err);
  if (resolved.code === 0) {
    const j = JSON.parse(resolved.out);
    check(j.commit === commit, "... at the origin's commit", resolved.out);
    const weights = readFileSync(join(sourceDir, "sample", "tiny-model", "model.safetensors"));
    const local = join(hubCacheLocal, "models--" + repo.replace("/", "--"), "snapshots", commit, "model.safetensors");
    check(existsSync(local) && readFileSync(local).equals(weights), "... and its model.safetensors is the source's bytes", local);
  }
} catch (e) {
  check(false, "the run completes", String(e?.stack ?? e));
} finally {
  // Stop every server (SIGTERM, then SIGKILL after 5 s) and wait for it before removing its files.
  await Promise.all(children.map((c) => new Promise((done) => {
    if (c.exitCode !== null || c.signalCode !== null) return done();
    const hard = setTimeout(() => c.kill("SIGKILL"), 5000);
    c.once("exit", () => { clearTimeout(hard); done(); });
    c.kill("SIGTERM");
  })));
  rmSync(root, { recursive: true, force: true });
}
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exit(failures ? 1 : 0);
