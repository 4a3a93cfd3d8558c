// Vite serves the app and forwards /v1 (HTTP and the realtime WebSocket) to Basalt, so the
// browser talks to one origin and Basalt needs no CORS setting.
// `@basalt/client` resolves to the SDK's source in this repository; in your own app it is the
// npm package (`npm install @basalt/client`) and this alias goes away.
import { fileURLToPath } from "node:url";

const sdk = fileURLToPath(new URL("../../sdk/typescript/src/", import.meta.url));
const here = fileURLToPath(new URL(".", import.meta.url));
const api = process.env.BASALT_URL || "http://127.0.0.1:8090";

export default {
  root: here,
  resolve: { alias: { "@basalt/client": sdk + "index.ts" } },
  server: {
    host: "127.0.0.1",
    port: Number(process.env.PORT || 5173),
    fs: { allow: [here, sdk] },
    proxy: { "/v1": { target: api, ws: true } },
  },
  preview: { proxy: { "/v1": { target: api, ws: true } } },
};
