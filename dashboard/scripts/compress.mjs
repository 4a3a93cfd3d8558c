// Writes .gz (level 9) and .br (quality 11) beside every built asset over 1 KiB.
// Same input, same bytes: gzip headers carry no name and no time.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const dir = new URL('../../crates/server/dashboard-dist/assets/', import.meta.url).pathname;
let count = 0;
for (const name of readdirSync(dir).sort()) {
  if (name.endsWith('.gz') || name.endsWith('.br')) continue;
  const path = join(dir, name);
  if (statSync(path).size <= 1024) continue;
  const bytes = readFileSync(path);
  writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
  writeFileSync(
    `${path}.br`,
    brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }),
  );
  count++;
}
console.log(`compressed ${count} assets`);
