import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, BasaltError, type BasaltClient, type RequestContext } from "../src/index.js";
import { startServer, uniqueEmail, type Server } from "./helpers/server.js";

interface Post {
  title: string;
  owner: string;
  likes?: number;
  tags?: string[];
  seen_at?: string;
}
type Database = { posts: Post; strict: { name: string; age: number } };

let server: Server;
let basalt: BasaltClient<Database>;
let uid: string;
beforeAll(async () => {
  server = await startServer({ args: ["--login-rate-limit", "0"] });
  await server.admin("POST", "/v1/db/collections", {
    name: "posts",
    rules: {
      read: "auth != ()",
      create: "auth != () && data.owner == auth.uid",
      update: "auth != () && doc.data.owner == auth.uid",
      delete: "auth != () && doc.data.owner == auth.uid",
    },
  });
  await server.admin("POST", "/v1/db/collections", {
    name: "strict",
    rules: { read: "true", create: "true", update: "true", delete: "true" },
    schema: {
      type: "object",
      properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
      required: ["name", "age"],
      additionalProperties: false,
    },
  });
  basalt = createClient<Database>(server.url);
  uid = (await basalt.auth.signUp({ email: uniqueEmail(), password: "correct horse battery" })).user.id;
});
afterAll(async () => {
  basalt?.close();
  await server?.stop();
});

async function rejection(p: Promise<unknown>): Promise<BasaltError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BasaltError);
    return e as BasaltError;
  }
  throw new Error("expected a rejection");
}

describe("documents", () => {
  it("create, get, set, update, delete with camelCase metadata", async () => {
    const posts = basalt.collection("posts");
    const doc = await posts.create({ title: "hi", owner: uid });
    expect(doc.collection).toBe("posts");
    expect(doc.version).toBe(1);
    expect(doc.createdAt).toMatch(/Z$/);
    expect(doc.updatedAt).toBe(doc.createdAt);
    expect(doc.data.title).toBe("hi");
    const got = await posts.get(doc.id);
    expect(got).toEqual(doc);
    const named = await posts.create({ title: "named", owner: uid }, { id: "my-id_1" });
    expect(named.id).toBe("my-id_1");
    expect((await rejection(posts.create({ title: "again", owner: uid }, { id: "my-id_1" }))).code).toBe("already_exists");
    const replaced = await posts.set(doc.id, { title: "replaced", owner: uid, likes: 0 });
    expect(replaced.version).toBe(2);
    expect(replaced.data).toEqual({ title: "replaced", owner: uid, likes: 0 });
    const created = await posts.set("fresh-one", { title: "via put", owner: uid });
    expect(created.version).toBe(1);
    const updated = await posts.update(doc.id, {
      data: { title: "patched" },
      increment: { likes: 2 },
      serverTime: ["seen_at"],
      arrayUnion: { tags: ["a", "b"] },
    });
    expect(updated.version).toBe(3);
    expect(updated.data.title).toBe("patched");
    expect(updated.data.likes).toBe(2);
    expect(updated.data.tags).toEqual(["a", "b"]);
    expect(typeof updated.data.seen_at).toBe("string");
    const removed = await posts.update(doc.id, { arrayRemove: { tags: ["a"] } });
    expect(removed.data.tags).toEqual(["b"]);
    await posts.delete(doc.id);
    const gone = await rejection(posts.get(doc.id));
    expect(gone.status).toBe(404);
    expect(gone.code).toBe("not_found");
    expect((await rejection((basalt as unknown as BasaltClient).collection("nosuch").get("x"))).code).toBe("not_found");
  });

  it("ifVersion sends If-Match: a stale version is failed_precondition", async () => {
    const posts = basalt.collection("posts");
    const doc = await posts.create({ title: "v", owner: uid });
    const v2 = await posts.update(doc.id, { data: { title: "v2" } }, { ifVersion: 1 });
    expect(v2.version).toBe(2);
    const stale = await rejection(posts.update(doc.id, { data: { title: "v3" } }, { ifVersion: 1 }));
    expect(stale.status).toBe(412);
    expect(stale.code).toBe("failed_precondition");
    expect((await rejection(posts.set(doc.id, { title: "x", owner: uid }, { ifVersion: 1 }))).code).toBe("failed_precondition");
    expect((await rejection(posts.delete(doc.id, { ifVersion: 1 }))).code).toBe("failed_precondition");
    await posts.delete(doc.id, { ifVersion: 2 });
  });

  it("rules: another user's write is permission_denied; anonymous reads are filtered", async () => {
    const posts = basalt.collection("posts");
    const mine = await posts.create({ title: "mine", owner: uid });
    const other = createClient<Database>(server.url);
    await other.auth.signUp({ email: uniqueEmail(), password: "correct horse battery" });
    const denied = await rejection(other.collection("posts").update(mine.id, { data: { title: "stolen" } }));
    expect(denied.status).toBe(403);
    expect(denied.code).toBe("permission_denied");
    expect((await rejection(other.collection("posts").create({ title: "x", owner: uid }))).code).toBe("permission_denied");
    const anon = createClient<Database>(server.url);
    const page = await anon.collection("posts").query({});
    expect(page.documents).toEqual([]);
    other.close();
    anon.close();
  });

  it("schema: invalid data is validation_failed with details", async () => {
    const strict = basalt.collection("strict");
    const ok = await strict.create({ name: "Ada", age: 36 });
    expect(ok.data.age).toBe(36);
    const bad = await rejection(strict.create({ name: "Bo", age: -1 }));
    expect(bad.status).toBe(422);
    expect(bad.code).toBe("validation_failed");
    expect(Array.isArray(bad.details["errors"])).toBe(true);
  });

  it("query, queryAll following cursors, count, list", async () => {
    const posts = basalt.collection("posts");
    const tag = `q${Date.now()}`;
    for (let i = 0; i < 7; i++) await posts.create({ title: `${tag}-${i}`, owner: uid, likes: i, tags: [tag] });
    const where = [["tags", "array_contains", tag]] as const;
    const page = await posts.query({ where, orderBy: [["likes", "desc"]], limit: 3, select: ["likes"] });
    expect(page.documents.map((d) => d.data.likes)).toEqual([6, 5, 4]);
    expect(page.documents[0]!.data.title).toBeUndefined();
    expect(page.nextCursor).toBeTruthy();
    const next = await posts.query({ where, orderBy: [["likes", "desc"]], limit: 3, after: page.nextCursor });
    expect(next.documents.map((d) => d.data.likes)).toEqual([3, 2, 1]);
    const all: number[] = [];
    for await (const d of posts.queryAll({ where, orderBy: [["likes", "asc"]], limit: 2 })) all.push(d.data.likes!);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(await posts.count({ where })).toBe(7);
    expect(await posts.count({ where: { and: [where[0], ["likes", ">=", 5]] } })).toBe(2);
    expect(await posts.count({ where: { or: [["likes", "==", 0], ["likes", "==", 6]] } })).toBe(2);
    const listed = await posts.list({ limit: 2, order: "-likes" });
    expect(listed.documents).toHaveLength(2);
    const badQuery = await rejection(posts.query({ where: [["likes", "~~" as "==", 1]] }));
    expect(badQuery.code).toBe("invalid_argument");
  });

  it("batch: all operations or none, one result each", async () => {
    const results = await basalt.batch([
      { op: "create", collection: "posts", id: "b1", data: { title: "b1", owner: uid } },
      { op: "create", collection: "posts", id: "b2", data: { title: "b2", owner: uid } },
      { op: "update", collection: "posts", id: "b1", increment: { likes: 1 } },
      { op: "delete", collection: "posts", id: "b2" },
    ]);
    expect(results).toHaveLength(4);
    expect(results[0]!.id).toBe("b1");
    expect(results[2]!.data["likes"]).toBe(1);
    expect(results[3]).toBeNull();
    const failed = await rejection(
      basalt.batch([
        { op: "create", collection: "posts", id: "b3", data: { title: "b3", owner: uid } },
        { op: "set", collection: "posts", id: "b1", data: { title: "x", owner: uid }, ifVersion: 99 },
      ]),
    );
    expect(failed.code).toBe("failed_precondition");
    expect(failed.details["index"]).toBe(1);
    expect((await rejection(basalt.collection("posts").get("b3"))).code).toBe("not_found");
  });

  it("hooks see every request and may add headers", async () => {
    const seen: string[] = [];
    const c = createClient(server.url, {
      hooks: {
        beforeSend: (ctx: RequestContext) => {
          ctx.init.headers["x-request-id"] = "sdk-test-1";
          seen.push(ctx.operation);
        },
      },
    });
    const err = await rejection(c.collection("posts").get("nope"));
    expect(seen).toEqual(["get_db_by_collection_by_id"]);
    expect(err.requestId).toBe("sdk-test-1");
    c.close();
  });

  it("ids and names never leave their path segment (no dot segments, no slashes)", async () => {
    const seen: string[] = [];
    const spy = createClient<Database>(server.url, {
      hooks: { beforeSend: (ctx: RequestContext) => void seen.push(ctx.url) },
    });
    await spy.auth.signUp({ email: uniqueEmail(), password: "correct horse battery" });
    const posts = spy.collection("posts");
    for (const id of ["..", ".", ""]) {
      const e = await posts.get(id).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BasaltError);
      expect((e as BasaltError).code).toBe("invalid_argument");
    }
    // A slash stays inside the id: the server sees one (invalid) id, not another route.
    const e = await posts.get("../../auth/user").catch((x: unknown) => x);
    expect((e as BasaltError).status).toBe(400);
    expect(seen.some((u) => u.includes("/v1/auth/user"))).toBe(false);
    expect(seen.every((u) => !u.includes("/../"))).toBe(true);
    expect(() => createClient(server.url).collection("..")).toThrow(BasaltError);
    spy.close();
  });

  it("network failure has code network", async () => {
    const c = createClient("http://127.0.0.1:1");
    const err = await rejection(c.collection("posts").get("x"));
    expect(err.code).toBe("network");
    c.close();
  });
});

describe("storage", () => {
  it("upload with progress, download, info, list, remove, signed and public URLs", async () => {
    await server.admin("POST", "/v1/storage/buckets", {
      name: "files",
      public: false,
      rules: { read: "auth != ()", write: "auth != ()", delete: "auth != ()" },
    });
    await server.admin("POST", "/v1/storage/buckets", { name: "pub", public: true, rules: { read: "true", write: "auth != ()", delete: "auth != ()" } });
    const files = basalt.storage.bucket("files");
    const bytes = new Uint8Array(300 * 1024).map((_, i) => i % 251);
    const progress: number[] = [];
    const info = await files.upload("dir/a b+c.bin", bytes, {
      contentType: "application/x-test",
      metadata: { origin: "sdk" },
      onProgress: (p) => progress.push(p.loaded),
    });
    expect(info.path).toBe("dir/a b+c.bin");
    expect(info.size).toBe(bytes.byteLength);
    expect(info.contentType).toBe("application/x-test");
    expect(info.metadata).toEqual({ origin: "sdk" });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toBe(bytes.byteLength);
    const back = (await files.download("dir/a b+c.bin")) as Uint8Array;
    expect(back).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
    expect((await files.info("dir/a b+c.bin")).etag).toBe(info.etag);
    await files.upload("dir/two.txt", "hello", { contentType: "text/plain" });
    const listed = await files.list({ prefix: "dir/", limit: 1 });
    expect(listed.objects).toHaveLength(1);
    expect(listed.nextCursor).toBeTruthy();
    const rest = await files.list({ prefix: "dir/", after: listed.nextCursor });
    expect(rest.objects.map((o) => o.path)).toEqual(["dir/two.txt"]);
    const signed = await files.signedUrl("dir/two.txt", { expiresIn: 60 });
    expect(signed.startsWith(server.url + "/")).toBe(true);
    expect(await (await fetch(signed)).text()).toBe("hello");
    await files.remove("dir/two.txt");
    expect((await rejection(files.download("dir/two.txt"))).code).toBe("not_found");
    expect((await rejection(files.info("dir/two.txt"))).code).toBe("not_found");
    const anon = createClient(server.url);
    expect((await rejection(anon.storage.bucket("files").download("dir/a b+c.bin"))).code).toBe("permission_denied");
    await basalt.storage.bucket("pub").upload("p/x.txt", "public bytes", { contentType: "text/plain" });
    expect(await (await fetch(anon.storage.bucket("pub").url("p/x.txt"))).text()).toBe("public bytes");
    anon.close();
  });

  it("a bucket's allowed_types and size limit are unsupported_media_type and payload_too_large", async () => {
    await server.admin("POST", "/v1/storage/buckets", {
      name: "images",
      public: false,
      allowed_types: ["image/*"],
      max_object_size: 1024,
      rules: { read: "auth != ()", write: "auth != ()", delete: "auth != ()" },
    });
    const images = basalt.storage.bucket("images");
    const wrongType = await rejection(images.upload("a.txt", "text", { contentType: "text/plain" }));
    expect(wrongType.status).toBe(415);
    expect(wrongType.code).toBe("unsupported_media_type");
    const tooBig = await rejection(images.upload("a.png", new Uint8Array(4096), { contentType: "image/png" }));
    expect(tooBig.status).toBe(413);
    expect(tooBig.code).toBe("payload_too_large");
    expect((await rejection(basalt.storage.bucket("nosuch").list())).code).toBe("not_found");
  });

  it("an aborted upload rejects with code aborted", async () => {
    const files = basalt.storage.bucket("files");
    const ctl = new AbortController();
    let aborted = false;
    const big = new Uint8Array(8 * 1024 * 1024);
    const p = files.upload("big.bin", big, {
      signal: ctl.signal,
      onProgress: (pr) => {
        if (!aborted && pr.loaded > 256 * 1024) {
          aborted = true;
          ctl.abort();
        }
      },
    });
    const err = await rejection(p);
    expect(err.code).toBe("aborted");
    expect((await rejection(files.info("big.bin"))).code).toBe("not_found");
  });
});
