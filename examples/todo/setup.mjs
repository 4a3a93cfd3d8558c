// npm run setup: creates the app's collection and bucket on a running Basalt.
//   BASALT_URL (default http://127.0.0.1:8090), and BASALT_ADMIN_EMAIL + BASALT_ADMIN_PASSWORD
//   (an admin from `basalt admin create`) or BASALT_SERVICE_KEY (bsk_…).
import { setupProject } from "./project.mjs";

const url = process.env.BASALT_URL || "http://127.0.0.1:8090";
let token = process.env.BASALT_SERVICE_KEY;
if (!token) {
  const email = process.env.BASALT_ADMIN_EMAIL;
  const password = process.env.BASALT_ADMIN_PASSWORD;
  if (!email || !password) {
    console.error("Set BASALT_ADMIN_EMAIL and BASALT_ADMIN_PASSWORD (or BASALT_SERVICE_KEY).");
    process.exit(2);
  }
  const r = await fetch(`${url}/v1/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!r.ok) {
    console.error(`admin login at ${url} failed: ${r.status} ${await r.text()}`);
    process.exit(1);
  }
  token = (await r.json()).access_token;
}
const made = await setupProject(url, token);
console.log(made.length ? `created ${made.join(" and ")} on ${url}` : `nothing to do: ${url} already has the collection and the bucket`);
