// Bundles small apps against dist/ with esbuild (minified ES module for browsers) and checks the
// gzip size of each against its budget, and that what an app does not import stays out.
// `--json` prints the measurements as JSON (the benchmark reads them).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync, readFileSync } from "node:fs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
if (!existsSync(join(dist, "index.js"))) {
  console.error("dist/ is missing: run npm run build first");
  process.exit(2);
}

// The package's shape: no runtime dependencies, and each entry point an ES module with its
// declarations.
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const shape = [];
if (pkg.type !== "module") shape.push('package.json: "type" is not "module"');
if (pkg.sideEffects !== false) shape.push("package.json: sideEffects is not false (bundlers could not drop unused modules)");
if (Object.keys(pkg.dependencies ?? {}).length) shape.push(`runtime dependencies: ${Object.keys(pkg.dependencies).join(", ")}`);
for (const [entry, target] of Object.entries(pkg.exports)) {
  for (const key of ["types", "import"]) {
    if (!target[key] || !existsSync(join(root, target[key]))) shape.push(`exports["${entry}"].${key}: ${target[key]} is missing`);
  }
}
if (shape.length) {
  for (const p of shape) console.error(p);
  process.exit(1);
}

const KIB = 1024;
// Each entry is a tiny app. `forbid` are strings that must not appear in its bundle: the routes
// of the parts it does not use.
const entries = [
  {
    name: "core + auth + documents (@basalt/client/core)",
    budget: 12 * KIB,
    forbid: ["/v1/realtime", "/v1/storage", "/v1/push", "XMLHttpRequest"],
    code: `import { createCoreClient } from "./core.js";
      const basalt = createCoreClient("https://api.example.com");
      await basalt.auth.signIn({ email: "a@example.com", password: "pw" });
      const posts = basalt.collection("posts");
      await posts.create({ title: "hi" });
      console.log(await posts.query({ where: [["title", "==", "hi"]] }), basalt.auth.user);`,
  },
  {
    name: "the same through the main entry (@basalt/client)",
    budget: 12 * KIB,
    forbid: ["/v1/realtime", "/v1/storage", "/v1/push", "XMLHttpRequest"],
    code: `import { createCoreClient } from "./index.js";
      const basalt = createCoreClient("https://api.example.com");
      await basalt.auth.signIn({ email: "a@example.com", password: "pw" });
      const posts = basalt.collection("posts");
      await posts.create({ title: "hi" });
      console.log(await posts.query({ where: [["title", "==", "hi"]] }), basalt.auth.user);`,
  },
  {
    name: "core + realtime (live query)",
    budget: 16 * KIB,
    forbid: ["/v1/storage", "/v1/push", "XMLHttpRequest"],
    code: `import { createCoreClient, live } from "./index.js";
      const basalt = createCoreClient("https://api.example.com");
      live(basalt, "posts", { where: [["published", "==", true]] }).on("change", (d) => console.log(d));`,
  },
  {
    name: "core + storage (upload)",
    budget: 14 * KIB,
    forbid: ["/v1/realtime", "/v1/push"],
    code: `import { createCoreClient, getStorage } from "./index.js";
      const basalt = createCoreClient("https://api.example.com");
      await getStorage(basalt).bucket("files").upload("a.txt", "hello", { onProgress: console.log });`,
  },
  {
    name: "core + push (subscribe)",
    budget: 14 * KIB,
    forbid: ["/v1/realtime", "/v1/storage", "XMLHttpRequest"],
    code: `import { createCoreClient, getPush } from "./index.js";
      const basalt = createCoreClient("https://api.example.com");
      console.log(await getPush(basalt).subscribe({ serviceWorker: "/sw.js" }));`,
  },
  {
    name: "everything (createClient)",
    budget: 20 * KIB,
    forbid: [],
    code: `import { createClient } from "./index.js";
      const basalt = createClient("https://api.example.com");
      console.log(basalt.collection("posts").live({}), basalt.storage.bucket("f"), basalt.channel("room:1"), basalt.push.subscribe());`,
  },
];

const results = [];
for (const e of entries) {
  const out = await build({
    stdin: { contents: e.code, resolveDir: dist, sourcefile: "app.js", loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const text = out.outputFiles[0].text;
  const gz = gzipSync(text, { level: 9 }).byteLength;
  const leaked = e.forbid.filter((f) => text.includes(f));
  results.push({ name: e.name, minified: new TextEncoder().encode(text).byteLength, gzip: gz, budget: e.budget, leaked, ok: gz <= e.budget && leaked.length === 0 });
}

if (process.argv.includes("--json")) {
  console.log(JSON.stringify(results));
} else {
  const kib = (n) => `${(n / KIB).toFixed(1)} KiB`;
  console.log("bundle (esbuild, minified, ES module)            min        gzip       budget");
  for (const r of results) {
    console.log(`${r.name.padEnd(48)} ${kib(r.minified).padStart(9)}  ${kib(r.gzip).padStart(9)}  ${kib(r.budget).padStart(9)}  ${r.ok ? "ok" : "OVER"}`);
    if (r.leaked.length) console.log(`  carries what it does not use: ${r.leaked.join(", ")}`);
  }
}
if (results.some((r) => !r.ok)) {
  console.error("size budget exceeded (or a part an app does not use was bundled)");
  process.exit(1);
}
