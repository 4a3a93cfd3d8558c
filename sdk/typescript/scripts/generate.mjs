// Regenerates src/generated/openapi.ts from `$BASALT_BIN openapi` with openapi-typescript.
// `--check` writes into a temporary file instead and fails when it differs from the committed one.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "src", "generated", "openapi.ts");
const bin = process.env.BASALT_BIN || "/tmp/basalt-bin/basalt";
const check = process.argv.includes("--check");

const HEADER =
  "// Generated from `basalt openapi` by openapi-typescript: do not edit. Regenerate with `npm run generate` (uses $BASALT_BIN).\n";

let spec;
try {
  spec = execFileSync(bin, ["openapi"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
} catch (e) {
  console.error(`could not run \`${bin} openapi\`: ${e instanceof Error ? e.message : String(e)}`);
  console.error("Set BASALT_BIN to a built basalt binary.");
  process.exit(2);
}
const doc = JSON.parse(spec);
const ast = await openapiTS(doc, { alphabetize: true });
const text = HEADER + "/* eslint-disable */\n" + astToString(ast);

if (check) {
  const dir = mkdtempSync(join(tmpdir(), "basalt-gen-"));
  const fresh = join(dir, "openapi.ts");
  writeFileSync(fresh, text);
  let committed = "";
  try {
    committed = readFileSync(target, "utf8");
  } catch {
    committed = "";
  }
  rmSync(dir, { recursive: true, force: true });
  if (committed !== text) {
    const a = committed.split("\n");
    const b = text.split("\n");
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    console.error(`src/generated/openapi.ts is out of date (first difference at line ${i + 1}).`);
    console.error(`  committed: ${a[i] ?? "<end of file>"}`);
    console.error(`  generated: ${b[i] ?? "<end of file>"}`);
    console.error("Run `npm run generate` with BASALT_BIN pointing at the server binary, and commit the result.");
    process.exit(1);
  }
  console.log("src/generated/openapi.ts matches `basalt openapi`.");
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
