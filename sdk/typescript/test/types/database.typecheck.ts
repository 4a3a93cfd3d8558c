// Compile-time tests of the `Database` typing, checked by `tsc --noEmit` in `npm run lint`.
// Each `@ts-expect-error` line must fail to compile (tsc reports an unused one), and every other
// line must compile. Nothing here runs: the functions are never called.
import {
  createClient,
  createCoreClient,
  live,
  subscribe,
  type BasaltClient,
  type Doc,
  type Filter,
  type FieldPath,
  type Page,
  type PathValue,
  type SubscriptionEvent,
  type RealtimeServerMessage,
  type RealtimeClientMessage,
  type components,
} from "../../src/index.js";

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
/** Compiles only when `T` is `true`; the arguments are the values the check is about. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
function assertType<T extends true>(..._values: unknown[]): void {}

interface Post {
  title: string;
  likes: number;
  published: boolean;
  tags: string[];
  author: { name: string; address: { city: string } };
  seen_at?: string;
}
interface Profile {
  name: string;
  age: number | null;
}
type Database = { posts: Post; profiles: Profile };

export async function collectionNames(basalt: BasaltClient<Database>): Promise<void> {
  basalt.collection("posts");
  basalt.collection("profiles");
  // @ts-expect-error: no collection of that name in Database
  basalt.collection("post");
  // @ts-expect-error: nor with an explicit data type
  basalt.collection<{ x: number }>("nosuch");
  const core = createCoreClient<Database>("http://x");
  core.collection("posts");
  // @ts-expect-error: the core client checks names too
  core.collection("users");
  // Without a Database type any name goes, and data is a plain JSON object.
  const untyped = createClient("http://x");
  const any = untyped.collection("whatever");
  assertType<Equal<Awaited<ReturnType<typeof any.get>>, Doc<Record<string, unknown>>>>(any);
  const explicit = untyped.collection<Profile>("people");
  assertType<Equal<Awaited<ReturnType<typeof explicit.get>>, Doc<Profile>>>(explicit);
}

export async function resultTypes(basalt: BasaltClient<Database>): Promise<void> {
  const posts = basalt.collection("posts");
  const doc = await posts.get("p1");
  assertType<Equal<typeof doc, Doc<Post>>>(doc);
  assertType<Equal<typeof doc.data.author.address.city, string>>(doc);
  const created = await posts.create({ title: "t", likes: 0, published: false, tags: [], author: { name: "a", address: { city: "Oslo" } } });
  assertType<Equal<typeof created, Doc<Post>>>(created);
  // @ts-expect-error: a required field is missing
  await posts.create({ title: "t" });
  // @ts-expect-error: a field of the wrong type
  await posts.set("p1", { title: 1, likes: 0, published: false, tags: [], author: { name: "a", address: { city: "Oslo" } } });
  const page = await posts.query({ where: [["likes", ">", 3]] });
  assertType<Equal<typeof page, Page<Post>>>(page);
  for await (const d of posts.queryAll({})) assertType<Equal<typeof d, Doc<Post>>>(d);
  const n = await posts.count({ where: [["published", "==", true]] });
  assertType<Equal<typeof n, number>>(n);
  await posts.update("p1", { data: { likes: 2 }, increment: { likes: 1 } });
  const profile = await basalt.collection("profiles").get("u1");
  assertType<Equal<typeof profile.data.age, number | null>>(profile);
  const lq = basalt.collection("posts").live({ where: [["published", "==", true]] });
  assertType<Equal<typeof lq.documents, Doc<Post>[]>>(lq);
  basalt.collection("profiles").subscribe({}, (e) => {
    assertType<Equal<typeof e, SubscriptionEvent<Profile>>>(e);
  });
  const free = live(createCoreClient<Database>("http://x"), "profiles", { where: [["age", ">=", 18]] });
  assertType<Equal<typeof free.documents, Doc<Profile>[]>>(free);
  // @ts-expect-error: free functions check the collection name
  subscribe(createCoreClient<Database>("http://x"), "nosuch", {}, () => undefined);
}

export async function wherePaths(basalt: BasaltClient<Database>): Promise<void> {
  const posts = basalt.collection("posts");
  await posts.query({
    where: [
      ["title", "==", "hi"],
      ["likes", ">=", 10],
      ["author.name", "prefix", "A"],
      ["author.address.city", "in", ["Oslo", "Bergen"]],
      ["tags", "array_contains", "x"],
      ["tags", "array_contains_any", ["x", "y"]],
      ["seen_at", "exists", false],
      ["seen_at", "==", null],
      ["id", "==", "p1"],
      ["created_at", ">", "2026-01-01T00:00:00.000Z"],
      { or: [["published", "==", true], { and: [["likes", "<", 1], ["title", "!=", ""]] }] },
    ],
    orderBy: [["likes", "desc"]],
    select: ["title", "author.name"],
  });
  // @ts-expect-error: no such field
  await posts.query({ where: [["titel", "==", "hi"]] });
  // @ts-expect-error: no such nested field
  await posts.query({ where: [["author.zip", "==", "0150"]] });
  // @ts-expect-error: a number field compared with a string
  await posts.query({ where: [["likes", ">", "10"]] });
  // @ts-expect-error: `in` takes a list
  await posts.query({ where: [["title", "in", "hi"]] });
  // @ts-expect-error: `exists` takes a boolean
  await posts.query({ where: [["seen_at", "exists", "yes"]] });
  // @ts-expect-error: not an operator
  await posts.query({ where: [["likes", "=>", 1]] });
  // @ts-expect-error: array_contains takes one element of the array's type
  await posts.query({ where: [["tags", "array_contains", 1]] });
  // @ts-expect-error: orderBy names a field of Post
  await posts.query({ orderBy: [["lieks", "desc"]] });
  // @ts-expect-error: select names fields of Post
  await posts.query({ select: ["nope"] });
  // @ts-expect-error: nested in or/and too
  await posts.count({ where: { or: [["published", "==", "yes"]] } });
  // A filter built ahead keeps its type when annotated.
  const f: Filter<Post> = [["author.address.city", "==", "Oslo"]];
  await posts.query({ where: f });
  assertType<Equal<PathValue<Post, "author.address.city">, string>>();
  assertType<Equal<PathValue<Post, "tags">, string[]>>();
  // Untyped collections take any path and value.
  await createClient("http://x").collection("things").query({ where: [["any.path", "==", 1]] });
}

export async function batches(basalt: BasaltClient<Database>): Promise<void> {
  await basalt.batch([
    { op: "create", collection: "profiles", data: { name: "Ada", age: 36 } },
    { op: "update", collection: "posts", id: "p1", increment: { likes: 1 }, ifVersion: 2 },
    { op: "delete", collection: "posts", id: "p2" },
  ]);
  // @ts-expect-error: the data of a create must fit its collection
  await basalt.batch([{ op: "create", collection: "profiles", data: { title: "x" } }]);
  // @ts-expect-error: no such collection
  await basalt.batch([{ op: "delete", collection: "nosuch", id: "x" }]);
}

export function realtimeMessages(m: RealtimeServerMessage): void {
  // The SDK's message types are the generated ones of the OpenAPI document.
  assertType<Equal<RealtimeServerMessage, components["schemas"]["RealtimeServerMessage"]>>(m);
  if (m.type === "checkpoint") assertType<Equal<typeof m.seq, number>>(m);
  const ok: RealtimeClientMessage = { type: "subscribe", id: "s1", collection: "posts", resume_from: 3 };
  // @ts-expect-error: not a message the server knows
  const bad: RealtimeClientMessage = { type: "subscribe_all", id: "s1" };
  assertType<true>(ok, bad);
}

export function pathDepth(): void {
  type Deep = { a: { b: { c: { d: { e: number } } } } };
  const four: FieldPath<Deep> = "a.b.c.d";
  // @ts-expect-error: paths go four levels deep
  const five: FieldPath<Deep> = "a.b.c.d.e";
  assertType<true>(four, five);
}
