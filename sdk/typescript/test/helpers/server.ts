import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHmac } from "node:crypto";

export const BIN = process.env["BASALT_BIN"] || "/tmp/basalt-bin/basalt";
export const ADMIN_EMAIL = "a@example.com";
export const ADMIN_PASSWORD = "long password 1";

export interface Server {
  url: string;
  port: number;
  dataDir: string;
  serviceKey: string;
  adminToken: string;
  /** An admin/service request: throws on non-2xx. */
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** The newest outbox item sent to `to` (waits for it to arrive). */
  mailToken(to: string, subjectMatch?: RegExp): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra `basalt serve` arguments. */
  args?: string[];
  /** Run on this PostgreSQL database instead of SQLite in the data directory. */
  databaseUrl?: string;
  /**
   * Another node of the same project: skip creating the admin and the service key (they are in
   * the shared database already) and use this key.
   */
  joinWithKey?: string;
  /** Where stderr goes (a file path); kept in memory when unset. */
  stderrFile?: string;
}

export async function startServer(opts: StartOptions = {}): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), "basalt-sdk-test-"));
  const env = { ...process.env, BASALT_LOG: "warn" };
  const where = opts.databaseUrl ? ["--database-url", opts.databaseUrl, "--data-dir", dataDir] : ["--data-dir", dataDir];
  let serviceKey = opts.joinWithKey;
  if (!serviceKey) {
    execFileSync(BIN, ["admin", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, ...where], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const keyOut = execFileSync(BIN, ["keys", "create", "--name", "test", ...where], {
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    serviceKey = /bsk_[A-Za-z0-9_-]+/.exec(keyOut)?.[0];
    if (!serviceKey) throw new Error(`no service key in: ${keyOut}`);
  }
  const errFd = opts.stderrFile ? openSync(opts.stderrFile, "a") : null;
  const child: ChildProcess = spawn(BIN, ["serve", "--http", "127.0.0.1:0", ...where, ...(opts.args ?? [])], {
    env,
    stdio: ["ignore", "pipe", errFd ?? "pipe"],
  });
  if (errFd !== null) closeSync(errFd);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`basalt did not start: ${out} ${stderr}`)), 20_000);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`basalt exited with ${code}: ${stderr}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const login = await fetch(`${url}/v1/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  const adminToken = ((await login.json()) as { access_token: string }).access_token;
  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const mailToken = async (to: string, subjectMatch?: RegExp): Promise<string> => {
    for (let i = 0; i < 100; i++) {
      const { items } = await admin<{ items: { to: string; subject: string; token?: string | null }[] }>("GET", "/v1/admin/outbox");
      const item = items.find((it) => it.to === to && it.token && (!subjectMatch || subjectMatch.test(it.subject)));
      if (item?.token) return item.token;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no mail to ${to}`);
  };
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, port, dataDir, serviceKey: serviceKey!, adminToken, admin, mailToken, stop };
}

let counter = 0;
export function uniqueEmail(tag = "u"): string {
  counter++;
  return `${tag}${counter}.${process.pid}.${Date.now()}@example.com`;
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) for `step` offsets from now. */
export function totp(secretBase32: string, stepOffset = 0): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secretBase32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counterValue = Math.floor(Date.now() / 1000 / 30) + stepOffset;
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(BigInt(counterValue));
  const h = createHmac("sha1", Buffer.from(bytes)).update(buf).digest();
  const o = h[h.length - 1]! & 0xf;
  const n = ((h[o]! & 0x7f) << 24) | (h[o + 1]! << 16) | (h[o + 2]! << 8) | h[o + 3]!;
  return String(n % 1_000_000).padStart(6, "0");
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
