// The whole app: sign-up and sign-in, a live todo list shared by everyone who opens the same
// list, and file attachments with upload progress. It uses @basalt/client and the DOM, nothing else.
import { createClient, BasaltError, type Doc, type LiveQuery, type Session } from "@basalt/client";

interface Todo {
  title: string;
  done: boolean;
  list: string;
  owner: string;
  owner_email?: string;
  attachment?: { path: string; name: string; size: number; type?: string };
}
type Database = { todos: Todo };

// Same origin: Vite (or any proxy in front) forwards /v1 to Basalt.
const basalt = createClient<Database>(location.origin);
const todos = basalt.collection("todos");
const files = basalt.storage.bucket("attachments");
const listName = new URLSearchParams(location.search).get("list") || "shared";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const authSection = $("auth");
const todoSection = $("todos");
const listEl = $<HTMLUListElement>("list");
const emptyEl = $("empty");
const errorEl = $("error");
const whoEl = $("who");
const signOutBtn = $<HTMLButtonElement>("sign-out");

$("list-title").textContent = `List “${listName}”`;
const share = $<HTMLAnchorElement>("share");
share.href = share.textContent = location.href;

let live: LiveQuery<Todo> | null = null;
/** Uploads in flight, by todo id. */
const uploads = new Map<string, { name: string; loaded: number; total: number | null }>();

function showError(e: unknown): void {
  errorEl.textContent = e instanceof BasaltError ? `${e.message} (${e.code})` : String(e);
}
function clearError(): void {
  errorEl.textContent = "";
}
async function attempt(fn: () => Promise<unknown>): Promise<void> {
  clearError();
  try {
    await fn();
  } catch (e) {
    showError(e);
  }
}

function showSession(session: Session | null): void {
  authSection.hidden = session !== null;
  todoSection.hidden = session === null;
  signOutBtn.hidden = session === null;
  whoEl.textContent = session ? `Signed in as ${session.user.email ?? "a guest"}` : "Not signed in";
  if (session && !live) {
    live = todos.live({ where: [["list", "==", listName]] });
    live.on("change", render);
    live.ready.then(() => render(live?.documents ?? []), showError);
  } else if (!session && live) {
    live.close();
    live = null;
    render([]);
  }
}

function render(documents: Doc<Todo>[]): void {
  const me = basalt.auth.user?.id;
  const sorted = [...documents].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  emptyEl.hidden = sorted.length > 0 || !live;
  listEl.replaceChildren(...sorted.map((doc) => item(doc, doc.data.owner === me)));
}

function item(doc: Doc<Todo>, mine: boolean): HTMLLIElement {
  const li = document.createElement("li");
  li.dataset["id"] = doc.id;
  li.classList.toggle("done", doc.data.done);

  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = doc.data.done;
  box.setAttribute("aria-label", `Done: ${doc.data.title}`);
  box.addEventListener("change", () =>
    attempt(() => todos.update(doc.id, { data: { done: box.checked } }, { ifVersion: doc.version })),
  );

  const title = document.createElement("span");
  title.className = "title";
  title.textContent = doc.data.title;

  const owner = document.createElement("span");
  owner.className = "owner";
  owner.textContent = mine ? "you" : (doc.data.owner_email ?? "someone");

  li.append(box, title, owner);

  const att = doc.data.attachment;
  if (att) {
    const open = document.createElement("button");
    open.type = "button";
    open.className = "attachment";
    open.textContent = `📎 ${att.name} (${formatSize(att.size)})`;
    open.setAttribute("aria-label", `Download ${att.name}`);
    open.addEventListener("click", () =>
      attempt(async () => {
        // A signed URL needs no token: the browser downloads it like any link.
        const a = document.createElement("a");
        a.href = await files.signedUrl(att.path, { expiresIn: 600 });
        a.download = att.name;
        a.click();
      }),
    );
    li.append(open);
  }

  const up = uploads.get(doc.id);
  if (up) {
    const bar = document.createElement("progress");
    bar.max = up.total ?? 1;
    bar.value = up.loaded;
    bar.setAttribute("aria-label", `Uploading ${up.name}`);
    const pct = document.createElement("span");
    pct.className = "upload-status";
    pct.textContent = up.total ? `${Math.floor((100 * up.loaded) / up.total)}%` : formatSize(up.loaded);
    li.append(bar, pct);
  } else if (mine) {
    const label = document.createElement("label");
    label.className = "attach";
    label.textContent = "Attach ";
    const input = document.createElement("input");
    input.type = "file";
    input.setAttribute("aria-label", `Attach a file to ${doc.data.title}`);
    input.addEventListener("change", () => {
      const file = input.files?.[0];
      if (file) void attempt(() => attach(doc, file));
    });
    label.append(input);
    li.append(label);
  }

  if (mine) {
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = "Delete";
    del.setAttribute("aria-label", `Delete ${doc.data.title}`);
    del.addEventListener("click", () => attempt(() => todos.delete(doc.id)));
    li.append(del);
  }
  return li;
}

async function attach(doc: Doc<Todo>, file: File): Promise<void> {
  const uid = basalt.auth.user!.id;
  const path = `${uid}/${doc.id}/${file.name}`;
  uploads.set(doc.id, { name: file.name, loaded: 0, total: file.size });
  render(live?.documents ?? []);
  try {
    const info = await files.upload(path, file, {
      contentType: file.type || "application/octet-stream",
      onProgress: ({ loaded, total }) => {
        uploads.set(doc.id, { name: file.name, loaded, total });
        render(live?.documents ?? []);
      },
    });
    await todos.update(doc.id, { data: { attachment: { path, name: file.name, size: info.size, type: info.contentType } } });
  } finally {
    uploads.delete(doc.id);
    render(live?.documents ?? []);
  }
}

function formatSize(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

$<HTMLFormElement>("auth-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = ev.target as HTMLFormElement;
  const data = new FormData(form);
  const email = String(data.get("email"));
  const password = String(data.get("password"));
  const action = (ev.submitter as HTMLButtonElement | null)?.value;
  void attempt(async () => {
    if (action === "sign-up") await basalt.auth.signUp({ email, password });
    else {
      const r = await basalt.auth.signIn({ email, password });
      if ("mfaRequired" in r) throw new Error("This account uses two-factor sign-in, which this small example does not handle.");
    }
    form.reset();
  });
});

$<HTMLFormElement>("add-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = ev.target as HTMLFormElement;
  const title = String(new FormData(form).get("title")).trim();
  const user = basalt.auth.user;
  if (!title || !user) return;
  void attempt(async () => {
    await todos.create({ title, done: false, list: listName, owner: user.id, ...(user.email ? { owner_email: user.email } : {}) });
    form.reset();
  });
});

signOutBtn.addEventListener("click", () => attempt(() => basalt.auth.signOut()));

const statusEl = $("status");
basalt.realtime.onStatus((s) => {
  statusEl.textContent = s;
});

basalt.auth.onChange((_event, session) => showSession(session));
void basalt.auth.initialized().then(() => {
  showSession(basalt.auth.session);
  document.body.dataset["ready"] = "true";
});
