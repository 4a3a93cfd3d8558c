// What the app needs on the server: one collection and one bucket. `setup.mjs` creates them; the
// SDK's browser tests create the same from this file.

/** Every signed-in user may read and add todos of any list and tick them; only the owner deletes. */
export const todos = {
  name: "todos",
  rules: {
    read: "auth != ()",
    create: "auth != () && data.owner == auth.uid && data.title.len() > 0 && data.title.len() <= 200",
    update: "auth != () && data.owner == doc.data.owner && data.list == doc.data.list",
    delete: "auth != () && doc.data.owner == auth.uid",
  },
  schema: {
    type: "object",
    properties: {
      title: { type: "string", minLength: 1, maxLength: 200 },
      done: { type: "boolean" },
      list: { type: "string" },
      owner: { type: "string" },
      owner_email: { type: "string" },
      attachment: {
        type: "object",
        properties: { path: { type: "string" }, name: { type: "string" }, size: { type: "integer" }, type: { type: "string" } },
        required: ["path", "name", "size"],
      },
    },
    required: ["title", "done", "list", "owner"],
  },
  indexes: [{ fields: [["list", "asc"]], unique: false }],
};

/** Attachments: signed-in users read them; each user writes under their own id. */
export const attachments = {
  name: "attachments",
  public: false,
  max_object_size: 20 * 1024 * 1024,
  rules: {
    read: "auth != ()",
    write: 'auth != () && object.path.starts_with(auth.uid + "/")',
    delete: 'auth != () && object.path.starts_with(auth.uid + "/")',
  },
};

/** Creates the collection and the bucket with an admin token (or a service key); a second run changes nothing. */
export async function setupProject(url, token) {
  const send = async (method, path, body) => {
    const r = await fetch(url.replace(/\/+$/, "") + path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!r.ok && r.status !== 409) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.status;
  };
  const made = [];
  if ((await send("POST", "/v1/db/collections", todos)) !== 409) made.push("collection todos");
  if ((await send("POST", "/v1/storage/buckets", attachments)) !== 409) made.push("bucket attachments");
  return made;
}
