import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DELIBERATELY_UNWRAPPED, UNWRAPPED_PREFIXES } from "../src/unwrapped.js";
import { BIN } from "./helpers/server.js";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === "generated" ? [] : sourceFiles(join(dir, e.name))) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

interface MessageSchema {
  oneOf: { properties: { type: { const: string } } }[];
}
interface Spec {
  paths: Record<string, Record<string, { operationId?: string; "x-basalt-messages"?: Record<string, { $ref: string }> }>>;
  components: { schemas: Record<string, unknown> };
}

describe("OpenAPI coverage", () => {
  const spec = JSON.parse(execFileSync(BIN, ["openapi"], { encoding: "utf8", maxBuffer: 64 << 20 })) as Spec;
  const ops = Object.entries(spec.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([, o]) => o && typeof o === "object" && typeof o.operationId === "string")
      .map(([method, o]) => ({ id: o.operationId!, route: `${method.toUpperCase()} ${path}` })),
  );
  const src = sourceFiles(join(__dirname, "..", "src"))
    .filter((f) => !f.endsWith("unwrapped.ts"))
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  const wrapped = new Set([...src.matchAll(/\.send(?:<[\s\S]*?>)?\(\s*"([a-z0-9_]+)"/g)].map((m) => m[1]!));

  it("reads the operations of the document", () => {
    expect(ops.length).toBeGreaterThan(40);
    expect(wrapped.size).toBeGreaterThan(30);
  });

  it("every operation is wrapped by the facade or deliberately unwrapped", () => {
    const undecided = ops.filter(
      (o) => !wrapped.has(o.id) && !(o.id in DELIBERATELY_UNWRAPPED) && !Object.keys(UNWRAPPED_PREFIXES).some((p) => `_${o.id}`.includes(p)),
    );
    expect(undecided.map((o) => `${o.id} (${o.route})`)).toEqual([]);
  });

  it("nothing is both wrapped and listed as unwrapped, and every reason is one line", () => {
    for (const [id, reason] of Object.entries(DELIBERATELY_UNWRAPPED)) {
      expect(wrapped.has(id), id).toBe(false);
      expect(reason.length).toBeGreaterThan(5);
      expect(reason).not.toMatch(/\n/);
    }
  });

  it("every wrapped operation exists in the document", () => {
    const known = new Set(ops.map((o) => o.id));
    expect([...wrapped].filter((id) => !known.has(id))).toEqual([]);
    expect(wrapped.has("post_functions_by_name")).toBe(true);
  });

  it("the admin prefix covers exactly the /v1/admin/ routes", () => {
    const byPrefix = ops.filter((o) => Object.keys(UNWRAPPED_PREFIXES).some((p) => `_${o.id}`.includes(p)));
    expect(byPrefix.filter((o) => !o.route.includes(" /v1/admin/")).map((o) => o.route)).toEqual([]);
    expect(ops.filter((o) => o.route.includes(" /v1/admin/") && !byPrefix.includes(o)).map((o) => o.route)).toEqual([]);
    expect(byPrefix.map((o) => o.id)).toEqual(
      expect.arrayContaining([
        "post_admin_mfa_verify",
        "delete_admin_users_by_id_sessions_by_session_id",
        "post_admin_settings_test_mail",
        "put_admin_functions_by_name",
        "get_admin_functions_by_name_executions",
        "post_admin_executions_by_id_retry",
        "get_admin_webhooks",
        "get_admin_webhooks_by_name",
        "put_admin_webhooks_by_name",
        "delete_admin_webhooks_by_name",
        "get_admin_webhooks_by_name_deliveries",
        "post_admin_deliveries_by_id_retry",
      ]),
    );
  });
});

describe("realtime messages from the OpenAPI document", () => {
  const spec = JSON.parse(execFileSync(BIN, ["openapi"], { encoding: "utf8", maxBuffer: 64 << 20 })) as Spec;
  const realtime = readFileSync(join(__dirname, "..", "src", "realtime.ts"), "utf8");
  const generated = readFileSync(join(__dirname, "..", "src", "generated", "openapi.ts"), "utf8");
  const types = (name: string) => (spec.components.schemas[name] as MessageSchema).oneOf.map((v) => v.properties.type.const);

  it("the WebSocket route names its message schemas, and the SDK's types come from them", () => {
    expect(spec.paths["/v1/realtime"]!["get"]!["x-basalt-messages"]).toEqual({
      client: { $ref: "#/components/schemas/RealtimeClientMessage" },
      server: { $ref: "#/components/schemas/RealtimeServerMessage" },
    });
    expect(generated).toMatch(/RealtimeServerMessage: \{/);
    expect(realtime).toMatch(/export type RealtimeServerMessage = components\["schemas"\]\["RealtimeServerMessage"\]/);
    expect(realtime).toMatch(/type Generated = components\["schemas"\]\["RealtimeClientMessage"\]/);
  });

  it("every server message type has a case in the SDK's handler", () => {
    const server = types("RealtimeServerMessage");
    expect(server).toEqual(expect.arrayContaining(["subscribed", "snapshot", "change", "checkpoint", "error"]));
    const handled = new Set([...realtime.matchAll(/case "([a-z_]+)":/g)].map((m) => m[1]));
    expect(server.filter((t) => !handled.has(t))).toEqual([]);
  });

  it("every client message the SDK sends is one of the document's; only ping is left to the server's own pings", () => {
    const client = types("RealtimeClientMessage");
    const sent = new Set([...realtime.matchAll(/type: "([a-z_]+)"/g)].map((m) => m[1]!));
    expect([...sent].filter((t) => !client.includes(t) && !["snapshot", "change", "reset"].includes(t))).toEqual([]);
    expect(client.filter((t) => !sent.has(t))).toEqual(["ping"]);
  });
});
