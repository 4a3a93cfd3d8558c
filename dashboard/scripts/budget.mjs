// Sums the gzip size of the JavaScript the first screen loads: the entry script of index.html
// and every chunk it imports statically (modulepreload links). Lazy chunks are not counted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = 250 * 1024;
const root = new URL('../../crates/server/dashboard-dist/', import.meta.url).pathname;
const html = readFileSync(join(root, 'index.html'), 'utf8');
const first = new Set();
for (const m of html.matchAll(/<script[^>]*\ssrc="\/_\/([^"]+\.js)"/g)) first.add(m[1]);
for (const m of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="\/_\/([^"]+\.js)"/g)) first.add(m[1]);
let total = 0;
for (const file of first) {
  const size = gzipSync(readFileSync(join(root, file)), { level: 9 }).length;
  total += size;
  console.log(`${(size / 1024).toFixed(1).padStart(8)} KiB  ${file}`);
}
console.log(`${(total / 1024).toFixed(1).padStart(8)} KiB  first screen JavaScript, gzip (budget ${BUDGET / 1024} KiB)`);
if (first.size === 0) {
  console.error('no entry script found in index.html');
  process.exit(1);
}
if (total > BUDGET) {
  console.error('over budget');
  process.exit(1);
}
