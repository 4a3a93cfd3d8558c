// A separate process that writes `total` documents into `collection` as fast as the server takes
// them (batches of 500, `inflight` batches at a time), so the subscriber's process does nothing
// but consume. Usage: node writer.mjs URL KEY COLLECTION TOTAL INFLIGHT GROUP
const [url, key, collection, totalArg, inflightArg, group] = process.argv.slice(2);
const total = Number(totalArg);
const inflight = Number(inflightArg);
const BATCH = 500;
let next = 0;
async function worker() {
  while (next < total) {
    const start = next;
    const n = Math.min(BATCH, total - start);
    next += n;
    const operations = Array.from({ length: n }, (_, i) => ({ op: "create", collection, data: { n: start + i, group } }));
    const r = await fetch(`${url}/v1/db/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ operations }),
    });
    if (!r.ok) throw new Error(`batch: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }
}
await Promise.all(Array.from({ length: inflight }, worker));
