import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type Server } from "./helpers/server.js";

// @basalt/client as an app gets it from this repository (it is not on the npm registry yet):
// `npm pack` here, `npm install <tarball>` there, as docs/sdk-typescript.md says. The app lives
// outside the repository so nothing resolves to the repository's own node_modules.
const root = join(__dirname, "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
// The app has no @types packages: only what @basalt/client's declarations bring.
const tscArgs = ["--noEmit", "--strict", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--target", "ES2022", "--lib", "ES2022,DOM"];
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

let work: string;
let app: string;
let server: Server;

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" } });
}

beforeAll(async () => {
  if (!existsSync(join(root, "dist", "index.js"))) throw new Error("build first: npm run build");
  work = mkdtempSync(join(tmpdir(), "basalt-sdk-pack-"));
  app = join(work, "app");
  const packed = run(npm, ["pack", "--pack-destination", work, "--silent"], root);
  expect(packed.status, packed.stderr).toBe(0);
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
  expect(tarball).toBeTruthy();
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  // No dependencies to fetch: the install needs no registry.
  const installed = run(npm, ["install", "--offline", "--no-audit", "--no-fund", join(work, tarball!)], app);
  expect(installed.status, installed.stderr).toBe(0);
  server = await startServer();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("installed from npm pack", () => {
  it("carries dist and the typegen bin, and no runtime dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(app, "node_modules", "@basalt", "client", "package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg["name"]).toBe("@basalt/client");
    expect(pkg["dependencies"]).toBeUndefined();
    expect(pkg["peerDependenciesMeta"]).toEqual({ "json-schema-to-typescript": { optional: true } });
    expect(existsSync(join(app, "node_modules", "@basalt", "client", "dist", "index.d.ts"))).toBe(true);
    expect(existsSync(join(app, "node_modules", "@basalt", "client", "src"))).toBe(false);
    // Only the package itself was installed: the optional peer is not pulled in.
    expect(readdirSync(join(app, "node_modules")).filter((d) => !d.startsWith("."))).toEqual(["@basalt"]);
    expect(existsSync(join(app, "node_modules", ".bin", "basalt-typegen"))).toBe(true);
  });

  it("an app imports every entry point, talks to a server and type-checks against the .d.ts", () => {
    writeFileSync(
      join(app, "main.ts"),
      `import { createClient, BasaltError, type Session } from "@basalt/client";
import { createCoreClient } from "@basalt/client/core";
import { live } from "@basalt/client/realtime";
import { getStorage } from "@basalt/client/storage";
import { getPush, type PushDevice } from "@basalt/client/push";

type Database = { notes: { title: string } };
const basalt = createClient<Database>(process.argv[2]!);
const core = createCoreClient(process.argv[2]!);
const s: Session = await basalt.auth.signInAnonymously();
const missing = await basalt.collection("notes").get("nope").catch((e: unknown) => e);
console.log(JSON.stringify({
  anonymous: s.user.anonymous,
  code: missing instanceof BasaltError ? missing.code : null,
  entries: [typeof live, typeof getStorage, typeof core.collection, typeof getPush(core).register],
}));
const devices: PushDevice[] = await basalt.push.list();
void devices;
basalt.close();
core.close();
declare const process: { argv: string[] };
`,
    );
    writeFileSync(join(app, "bad.ts"), `import { createClient } from "@basalt/client";\ncreateClient<{ notes: { title: string } }>("x").collection("notez");\n`);
    // One compiler run for both files (tsc is the slow part): main.ts is clean, bad.ts is refused.
    const checked = run(process.execPath, [tsc, ...tscArgs, "main.ts", "bad.ts"], app);
    expect(checked.status).not.toBe(0);
    const errors = checked.stdout.split("\n").filter((l) => /error TS/.test(l));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((l) => !l.startsWith("bad.ts("))).toEqual([]);
    expect(checked.stdout).toMatch(/notez/);
    // The same program as JavaScript, run by Node from the installed package.
    writeFileSync(
      join(app, "main.mjs"),
      `import { createClient, BasaltError } from "@basalt/client";
import { createCoreClient } from "@basalt/client/core";
import { live } from "@basalt/client/realtime";
import { getStorage } from "@basalt/client/storage";
import { getPush } from "@basalt/client/push";

const basalt = createClient(process.argv[2]);
const core = createCoreClient(process.argv[2]);
const s = await basalt.auth.signInAnonymously();
const missing = await basalt.collection("notes").get("nope").catch((e) => e);
console.log(JSON.stringify({
  anonymous: s.user.anonymous,
  code: missing instanceof BasaltError ? missing.code : null,
  entries: [typeof live, typeof getStorage, typeof core.collection, typeof getPush(core).register],
}));
basalt.close();
core.close();
`,
    );
    const out = run(process.execPath, ["main.mjs", server.url], app);
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout)).toEqual({ anonymous: true, code: "not_found", entries: ["function", "function", "function", "function"] });
  }, 120_000);

  it("npx basalt-typegen: without json-schema-to-typescript it says how to install it; schemaless collections need no library", () => {
    const bin = join(app, "node_modules", ".bin", "basalt-typegen");
    const help = run(bin, ["--help"], app);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: basalt-typegen/);
    writeFileSync(join(app, "with-schema.json"), JSON.stringify({ collections: [{ name: "posts", schema: { type: "object", properties: { title: { type: "string" } } } }] }));
    const missing = run(bin, ["--from", "with-schema.json", "--out", "types.ts"], app);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/json-schema-to-typescript package, which is not installed here/);
    expect(missing.stderr).toMatch(/npm install --save-dev json-schema-to-typescript/);
    expect(existsSync(join(app, "types.ts"))).toBe(false);
    writeFileSync(join(app, "schemaless.json"), JSON.stringify({ collections: [{ name: "audit_log" }] }));
    const plain = run(bin, ["--from", "schemaless.json"], app);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toMatch(/export type AuditLog = Record<string, unknown>;/);
    expect(plain.stdout).toMatch(/"audit_log": AuditLog;/);
  });
});
