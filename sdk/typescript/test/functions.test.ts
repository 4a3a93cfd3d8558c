import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, BasaltError, type BasaltClient } from "../src/index.js";
import { createCoreClient } from "../src/core.js";
import { startServer, uniqueEmail, type Server } from "./helpers/server.js";

let server: Server;
let basalt: BasaltClient;
let anonymous: BasaltClient;
let uid: string;
const email = uniqueEmail("fn");

async function saveFunction(name: string, source: string, invoke = "auth != ()"): Promise<{ name: string; version: number }> {
  return server.admin("PUT", `/v1/admin/functions/${name}`, { kind: "http", invoke, source });
}

async function rejection(p: Promise<unknown>): Promise<BasaltError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BasaltError);
    return e as BasaltError;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  server = await startServer();
  await saveFunction("hello", "`hello ${args.name}`");
  await saveFunction("whoami", "#{uid: auth.uid, args: args}");
  await saveFunction("reserve", 'throw #{status: 409, code: "failed_precondition", message: "out of stock"}');
  await saveFunction("oops", 'throw "qty must be at least 1"');
  await saveFunction("admins_only", "1", "");
  basalt = createClient(server.url);
  uid = (await basalt.auth.signUp({ email: email, password: "correct horse battery" })).user.id;
  anonymous = createClient(server.url);
});
afterAll(async () => {
  basalt?.close();
  anonymous?.close();
  await server?.stop();
});

describe("functions.invoke against the server", () => {
  it("a signed-in client gets the function's value", async () => {
    await expect(basalt.functions.invoke<string>("hello", { name: "Ada" })).resolves.toBe("hello Ada");
  });

  it("the script sees the caller and the arguments as sent", async () => {
    const args = { name: "Ada", tags: ["a", "b"], nested: { n: 1.5, ok: true, none: null } };
    await expect(basalt.functions.invoke("whoami", args)).resolves.toEqual({ uid, args });
  });

  it("an anonymous caller is refused with 401 by the invoke rule", async () => {
    const err = await rejection(anonymous.functions.invoke("hello", { name: "Ada" }));
    expect(err.status).toBe(401);
    expect(err.code).toBe("unauthenticated");
  });

  it("a thrown map rejects with its code and message (the status is the code's)", async () => {
    const err = await rejection(basalt.functions.invoke("reserve", { item: "x", qty: 2 }));
    // The script says status 409; the server answers with failed_precondition's own status, 412.
    expect(err.status).toBe(412);
    expect(err.code).toBe("failed_precondition");
    expect(err.message).toBe("out of stock");
  });

  it("a thrown string rejects with invalid_argument", async () => {
    const err = await rejection(basalt.functions.invoke("oops"));
    expect(err.status).toBe(400);
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toBe("qty must be at least 1");
  });

  it("arguments need not be objects: numbers, strings, arrays, false, null; none is {}", async () => {
    await expect(basalt.functions.invoke("whoami", 42)).resolves.toEqual({ uid, args: 42 });
    await expect(basalt.functions.invoke("whoami", 0)).resolves.toEqual({ uid, args: 0 });
    await expect(basalt.functions.invoke("whoami", "text")).resolves.toEqual({ uid, args: "text" });
    await expect(basalt.functions.invoke("whoami", [1, "two"])).resolves.toEqual({ uid, args: [1, "two"] });
    await expect(basalt.functions.invoke("whoami", false)).resolves.toEqual({ uid, args: false });
    await expect(basalt.functions.invoke("whoami", null)).resolves.toEqual({ uid, args: null });
    await expect(basalt.functions.invoke("whoami")).resolves.toEqual({ uid, args: {} });
  });

  it("without an invoke rule only admins and service keys may call", async () => {
    const err = await rejection(basalt.functions.invoke("admins_only"));
    expect(err.status).toBe(403);
    expect(err.code).toBe("permission_denied");
    const service = createClient(server.url, { serviceKey: server.serviceKey });
    await expect(service.functions.invoke("admins_only")).resolves.toBe(1);
    service.close();
  });

  it("an unknown function is not_found; a name is sent as one path segment", async () => {
    const err = await rejection(basalt.functions.invoke("nope", { name: "x" }));
    expect(err.status).toBe(404);
    expect(err.code).toBe("not_found");
    const seen: string[] = [];
    const c = createClient(server.url, { hooks: { beforeSend: (ctx) => void seen.push(ctx.url) } });
    const traversal = await rejection(c.functions.invoke("../db/x", { data: {} }));
    expect(seen).toEqual([`${server.url}/v1/functions/..%2Fdb%2Fx`]);
    expect(traversal.status).toBe(404);
    expect(traversal.message).toBe("no function with this name");
    c.close();
  });

  it("the core client invokes too, and each call is an execution of the function", async () => {
    const core = createCoreClient(server.url);
    await core.auth.signIn({ email, password: "correct horse battery" });
    await expect(core.functions.invoke("hello", { name: "core" })).resolves.toBe("hello core");
    core.close();
    const { executions } = await server.admin<{ executions: { status: string; trigger: string; error: unknown }[] }>(
      "GET",
      "/v1/admin/functions/hello/executions",
    );
    expect(executions.filter((e) => e.status === "ok").length).toBeGreaterThanOrEqual(2);
    expect(executions.every((e) => e.trigger === "http")).toBe(true);
  });
});
