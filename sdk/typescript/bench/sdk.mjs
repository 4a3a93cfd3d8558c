// npm run bench: the TypeScript SDK against a real basalt on 127.0.0.1.
//  1. get-by-id: requests/s from one Node process, raw fetch and the SDK side by side, each
//     sequentially (one request in flight) and with 16 in flight; alternating rounds, medians;
//     with the client's CPU time per request (the SDK's own cost, whatever the server's speed).
//  2. realtime: changes/s one Node client consumes from one subscription while another process
//     writes, and the client's CPU time per change.
//  3. bundle sizes (scripts/size.mjs).
// BASALT_BIN names the server binary; its stderr goes to bench/.server-stderr.log.
import { spawn, execFileSync, fork } from "node:child_process";
import { mkdtempSync, rmSync, openSync, closeSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { createClient } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.BASALT_BIN || "/tmp/basalt-bin/basalt";
const ROUNDS = Number(process.env.ROUNDS || 9);
const ROUND_MS = Number(process.env.ROUND_MS || 1500);
const CHANGES = Number(process.env.CHANGES || 20000);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString("en-US");

async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), "basalt-sdk-bench-"));
  const env = { ...process.env, BASALT_LOG: "warn" };
  execFileSync(BIN, ["admin", "create", "--email", "bench@example.com", "--password", "bench password 1", "--data-dir", dataDir], { env, stdio: "ignore" });
  const keyOut = execFileSync(BIN, ["keys", "create", "--name", "bench", "--data-dir", dataDir], { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const key = /bsk_[A-Za-z0-9_-]+/.exec(keyOut)[0];
  const errLog = join(here, ".server-stderr.log");
  const err = openSync(errLog, "w");
  const child = spawn(BIN, ["serve", "--http", "127.0.0.1:0", "--data-dir", dataDir, "--login-rate-limit", "0"], { env, stdio: ["ignore", "pipe", err] });
  closeSync(err);
  const port = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`basalt exited with ${code}; see ${errLog}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    key,
    errLog,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function admin(server, method, path, body) {
  const r = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Runs `op` with `concurrency` loops for `ms`: requests per second, and this process's CPU µs per request. */
async function rate(op, concurrency, ms) {
  let count = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await op();
        count++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { rps: count / ((performance.now() - start) / 1000), cpuUs: (cpu.user + cpu.system) / count };
}

async function benchGet(server) {
  await admin(server, "POST", "/v1/db/collections", { name: "items", rules: { read: "true" } });
  const doc = await admin(server, "POST", "/v1/db/items", { data: { title: "a document of a typical size", likes: 42, tags: ["a", "b", "c"], owner: "u1" } });
  const basalt = createClient(server.url, { serviceKey: server.key });
  const items = basalt.collection("items");
  const url = `${server.url}/v1/db/items/${doc.id}`;
  const headers = { accept: "application/json", authorization: `Bearer ${server.key}` };
  const raw = async () => {
    const r = await fetch(url, { headers });
    if (!r.ok) throw new Error(String(r.status));
    const d = await r.json();
    if (d.id !== doc.id) throw new Error("wrong document");
  };
  const sdk = async () => {
    const d = await items.get(doc.id);
    if (d.id !== doc.id) throw new Error("wrong document");
  };
  // warm up both paths (connection pool, JIT)
  await rate(raw, 4, 500);
  await rate(sdk, 4, 500);
  const rows = [];
  for (const concurrency of [1, 16]) {
    const rawRuns = [];
    const sdkRuns = [];
    for (let i = 0; i < ROUNDS; i++) {
      // alternate which goes first, so drift in the machine's load hits both alike
      if (i % 2 === 0) {
        rawRuns.push(await rate(raw, concurrency, ROUND_MS));
        sdkRuns.push(await rate(sdk, concurrency, ROUND_MS));
      } else {
        sdkRuns.push(await rate(sdk, concurrency, ROUND_MS));
        rawRuns.push(await rate(raw, concurrency, ROUND_MS));
      }
    }
    rows.push({
      concurrency,
      raw: median(rawRuns.map((r) => r.rps)),
      sdk: median(sdkRuns.map((r) => r.rps)),
      rawCpu: median(rawRuns.map((r) => r.cpuUs)),
      sdkCpu: median(sdkRuns.map((r) => r.cpuUs)),
      rawRuns: rawRuns.map((r) => r.rps),
      sdkRuns: sdkRuns.map((r) => r.rps),
    });
  }
  basalt.close();
  return rows;
}

async function benchRealtime(server) {
  await admin(server, "POST", "/v1/db/collections", { name: "feed", rules: { read: "auth != ()" } });
  const basalt = createClient(server.url, { WebSocket });
  await basalt.auth.signUp({ email: "sub@example.com", password: "bench password 1" });
  const group = `g${Date.now()}`;
  let received = 0;
  let first = 0;
  let last = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  const sub = basalt.collection("feed").subscribe({ where: [["group", "==", group]] }, (e) => {
    if (e.type !== "change") return;
    if (received === 0) first = performance.now();
    received++;
    last = performance.now();
    if (received === CHANGES) done();
  });
  await sub.ready;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const writer = fork(join(here, "writer.mjs"), [server.url, server.key, "feed", String(CHANGES), "2", group]);
  const writerDone = new Promise((resolve, reject) => writer.on("exit", (c) => (c === 0 ? resolve() : reject(new Error(`writer exited ${c}`)))));
  await writerDone;
  const wroteMs = performance.now() - t0;
  const timeout = setTimeout(() => done(), 60_000);
  await finished;
  clearTimeout(timeout);
  const cpu = process.cpuUsage(cpu0);
  sub.unsubscribe();
  basalt.close();
  const cpuUs = cpu.user + cpu.system;
  return {
    changes: received,
    expected: CHANGES,
    perSecond: received / ((last - first) / 1000),
    writesPerSecond: CHANGES / (wroteMs / 1000),
    cpuUsPerChange: cpuUs / received,
  };
}

function sizes() {
  const out = execFileSync(process.execPath, [join(here, "..", "scripts", "size.mjs"), "--json"], { encoding: "utf8" });
  return JSON.parse(out);
}

function machine() {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = execFileSync("sh", ["-c", "lscpu | grep 'Model name'"], { encoding: "utf8" }).replace(/^Model name:\s*/, "").trim();
  } catch {
    // lscpu missing: keep Node's name
  }
  const nproc = execFileSync("nproc", { encoding: "utf8" }).trim();
  return { nproc, model, node: process.version };
}

const server = await startServer();
try {
  const m = machine();
  console.log(`machine: ${m.nproc} cores (nproc), ${m.model}; Node ${m.node}; server stderr in ${server.errLog}`);
  console.log(`\nget-by-id, one Node process: medians of ${ROUNDS} rounds of ${ROUND_MS / 1000} s, raw fetch and SDK alternating`);
  console.log("in flight   raw fetch req/s   SDK req/s   SDK/raw   client CPU per request: raw   SDK   (SDK's own)");
  for (const r of await benchGet(server)) {
    console.log(
      `${String(r.concurrency).padStart(9)}   ${fmt(r.raw).padStart(15)}   ${fmt(r.sdk).padStart(9)}   ${((r.sdk / r.raw) * 100).toFixed(0).padStart(5)} %   ${r.rawCpu.toFixed(0).padStart(25)} µs ${r.sdkCpu.toFixed(0).padStart(4)} µs   (${(r.sdkCpu - r.rawCpu).toFixed(0)} µs)`,
    );
    console.log(`            rounds, req/s: raw ${r.rawRuns.map(fmt).join(", ")}; SDK ${r.sdkRuns.map(fmt).join(", ")}`);
  }
  const rt = await benchRealtime(server);
  console.log(`\nrealtime: ${fmt(rt.changes)} of ${fmt(rt.expected)} changes to one subscription, written by another process (batches of 500)`);
  console.log(`  consumed: ${fmt(rt.perSecond)} changes/s (first to last); the writer committed ${fmt(rt.writesPerSecond)} docs/s`);
  console.log(`  client CPU: ${rt.cpuUsPerChange.toFixed(1)} µs per change (=> at most ~${fmt(1e6 / rt.cpuUsPerChange)} changes/s on one core)`);
  console.log("\nbundles (esbuild, minified ES module, gzip -9):");
  for (const s of sizes()) console.log(`  ${s.name.padEnd(48)} ${(s.minified / 1024).toFixed(1).padStart(5)} KiB min, ${(s.gzip / 1024).toFixed(1).padStart(4)} KiB gzip`);
} finally {
  await server.stop();
}
